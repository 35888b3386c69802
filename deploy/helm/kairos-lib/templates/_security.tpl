{{/*
Credentials and TLS (docs/security.md). The admin and service tokens come from Secrets mounted as
files (never environment variables or arguments); without global.security.*.existingSecret the
umbrella's dev credentials (<mesh>-dev-credentials, made with dev.enabled) are used.
*/}}
{{- define "kairos-lib.adminTokenSecret" -}}
{{- .Values.global.security.adminToken.existingSecret | default (printf "%s-dev-credentials" (include "kairos-lib.mesh" .)) -}}
{{- end -}}

{{- define "kairos-lib.serviceTokenSecret" -}}
{{- .Values.global.security.serviceToken.existingSecret | default (printf "%s-dev-credentials" (include "kairos-lib.mesh" .)) -}}
{{- end -}}

{{- define "kairos-lib.tlsSecret" -}}
{{- .Values.tlsSecret | default (printf "%s-tls" (include "kairos-lib.fullname" .)) -}}
{{- end -}}

{{/* ConfigMap entries: where the files are, and who acts as admin or service by certificate. */}}
{{- define "kairos-lib.securityConfig" -}}
{{- $sec := .Values.global.security -}}
KAIROS_ADMIN_TOKEN_FILE: "/etc/kairos/credentials/admin/token"
KAIROS_SERVICE_TOKEN_FILE: "/etc/kairos/credentials/service/token"
{{- with $sec.adminIdentities }}
KAIROS_ADMIN_IDENTITIES: {{ join "," . | quote }}
{{- end }}
{{- with $sec.serviceIdentities }}
KAIROS_SERVICE_IDENTITIES: {{ join "," . | quote }}
{{- end }}
{{- if $sec.tls.enabled }}
KAIROS_TLS_CERT_FILE: "/etc/kairos/tls/tls.crt"
KAIROS_TLS_KEY_FILE: "/etc/kairos/tls/tls.key"
KAIROS_TLS_CA_FILE: "/etc/kairos/tls/ca.crt"
KAIROS_TLS_CLIENT_AUTH: {{ $sec.tls.clientAuth | quote }}
KAIROS_HTTP_TLS_CLIENT_AUTH: {{ $sec.tls.httpClientAuth | quote }}
{{- end }}
{{- end -}}

{{- define "kairos-lib.securityVolumeMounts" -}}
- name: admin-token
  mountPath: /etc/kairos/credentials/admin
  readOnly: true
- name: service-token
  mountPath: /etc/kairos/credentials/service
  readOnly: true
{{- if .Values.global.security.tls.enabled }}
- name: tls
  mountPath: /etc/kairos/tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "kairos-lib.securityVolumes" -}}
- name: admin-token
  secret:
    secretName: {{ include "kairos-lib.adminTokenSecret" . }}
    items:
      - key: {{ .Values.global.security.adminToken.key }}
        path: token
- name: service-token
  secret:
    secretName: {{ include "kairos-lib.serviceTokenSecret" . }}
    items:
      - key: {{ .Values.global.security.serviceToken.key }}
        path: token
{{- if .Values.global.security.tls.enabled }}
- name: tls
  secret:
    secretName: {{ include "kairos-lib.tlsSecret" . }}
{{- end }}
{{- end -}}

{{/*
An HTTP probe of `path` (list ctx path): HTTPS with TLS, a TCP check when HTTP clients must present
a certificate (the kubelet has none).
*/}}
{{- define "kairos-lib.httpProbe" -}}
{{- $ctx := index . 0 -}}{{- $path := index . 1 -}}
{{- $tls := $ctx.Values.global.security.tls -}}
{{- if and $tls.enabled $tls.httpClientAuth }}
tcpSocket:
  port: http
{{- else }}
httpGet:
  path: {{ $path }}
  port: http
  {{- if $tls.enabled }}
  scheme: HTTPS
  {{- end }}
{{- end }}
{{- end -}}

{{/* Readiness: gRPC health, or HTTP /readyz over TLS (the kubelet's gRPC probe speaks no TLS). */}}
{{- define "kairos-lib.readinessCheck" -}}
{{- if .Values.global.security.tls.enabled }}
{{- include "kairos-lib.httpProbe" (list . "/readyz") }}
{{- else }}
grpc:
  port: {{ .Values.service.grpcPort }}
{{- end }}
{{- end -}}
