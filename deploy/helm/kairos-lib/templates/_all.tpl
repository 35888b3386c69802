{{/* Every object of one service; a service chart's only template is `{{ include "kairos-lib.all" . }}`. */}}
{{- define "kairos-lib.all" -}}
{{- $docs := list
  (include "kairos-lib.serviceaccount" .)
  (include "kairos-lib.configmap" .)
  (include "kairos-lib.service" .)
  (include "kairos-lib.workload" .)
  (include "kairos-lib.hpa" .)
  (include "kairos-lib.pdb" .)
  (include "kairos-lib.networkpolicy" .)
  (include "kairos-lib.servicemonitor" .)
  (include "kairos-lib.scaledobject" .) -}}
{{- range $docs }}
{{- if trim . }}
---
{{ . }}
{{- end }}
{{- end }}
{{- end -}}
