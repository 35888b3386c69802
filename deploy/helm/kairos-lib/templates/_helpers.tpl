{{/*
Names and labels. A service's objects are named <release>-<service> (just <release> when the release
name already contains the service name), so the umbrella's "kairos" release gives kairos-ingest.
*/}}
{{- define "kairos-lib.name" -}}
{{- .Values.service.name -}}
{{- end -}}

{{- define "kairos-lib.fullname" -}}
{{- $name := include "kairos-lib.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kairos-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kairos-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* No image tag in labels: a new tag of one service must change only that service's objects. */}}
{{- define "kairos-lib.labels" -}}
{{ include "kairos-lib.selectorLabels" . }}
app.kubernetes.io/part-of: kairos
app.kubernetes.io/component: {{ .Values.service.name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kairos-lib.image" -}}
{{- $registry := .Values.global.imageRegistry | default "" -}}
{{- $repo := .Values.image.repository -}}
{{- if $registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" $registry) $repo }}{{ end -}}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "kairos-lib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "kairos-lib.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
The umbrella release a service belongs to: this release, or global.meshRelease for a service chart
installed as its own release next to the umbrella (its dev servers and peers are named after it).
*/}}
{{- define "kairos-lib.mesh" -}}
{{- .Values.global.meshRelease | default .Release.Name -}}
{{- end -}}

{{/* NATS and MongoDB: explicit URL, else the umbrella's dev servers. */}}
{{- define "kairos-lib.natsUrl" -}}
{{- .Values.global.nats.url | default (printf "nats://%s-nats:%d" (include "kairos-lib.mesh" .) (int .Values.global.nats.port)) -}}
{{- end -}}

{{- define "kairos-lib.mongoUrl" -}}
{{- .Values.global.mongo.url | default (printf "mongodb://%s-ferretdb:%d" (include "kairos-lib.mesh" .) (int .Values.global.mongo.port)) -}}
{{- end -}}

{{- define "kairos-lib.peerAddress" -}}
{{- $ctx := index . 0 -}}{{- $peer := index . 1 -}}{{- $port := index . 2 -}}
{{- printf "%s-%s:%d" (include "kairos-lib.mesh" $ctx) $peer (int $port) -}}
{{- end -}}

{{- define "kairos-lib.partitioned" -}}
{{- if .Values.service.partitioned }}true{{ end -}}
{{- end -}}

{{/*
This service's NATS password: its own Secret (nats.existingSecret), else the shared one
(global.nats.auth.existingSecret), else the dev NATS users of the mesh release (dev.enabled).
*/}}
{{- define "kairos-lib.natsSecret" -}}
{{- .Values.nats.existingSecret | default .Values.global.nats.auth.existingSecret | default (printf "%s-nats-users" (include "kairos-lib.mesh" .)) -}}
{{- end -}}

{{- define "kairos-lib.natsPasswordKey" -}}
{{- .Values.nats.passwordKey | default .Values.service.name -}}
{{- end -}}
