{{/* Non-secret settings as environment variables (secrets come from existingSecret references). */}}
{{- define "kairos-lib.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "kairos-lib.fullname" . }}
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
data:
  KAIROS_GRPC_PORT: {{ .Values.service.grpcPort | quote }}
  KAIROS_HTTP_PORT: {{ .Values.service.httpPort | quote }}
  KAIROS_PARTITIONS: {{ .Values.global.partitions | quote }}
  KAIROS_STREAM_REPLICAS: {{ .Values.global.streamReplicas | quote }}
  {{- if .Values.service.partitioned }}
  KAIROS_REPLICAS: {{ .Values.replicas | quote }}
  {{- end }}
  {{- if not .Values.global.nats.existingSecret }}
  NATS_URL: {{ include "kairos-lib.natsUrl" . | quote }}
  {{- end }}
  {{- if not .Values.global.mongo.existingSecret }}
  MONGO_URL: {{ include "kairos-lib.mongoUrl" . | quote }}
  {{- end }}
  KAIROS_PROVISION: {{ .Values.global.provision | quote }}
  {{- if .Values.global.nats.auth.enabled }}
  # The service's own NATS user; its password is a file from a Secret (never an env value).
  NATS_USER: {{ .Values.service.name | quote }}
  NATS_PASSWORD_FILE: /etc/kairos/nats/password
  {{- end }}
  {{- if .Values.global.nats.tls.existingSecret }}
  NATS_TLS_CA: /etc/kairos/nats-tls/ca.crt
  {{- if .Values.global.nats.tls.clientCertificate }}
  NATS_TLS_CERT: /etc/kairos/nats-tls/tls.crt
  NATS_TLS_KEY: /etc/kairos/nats-tls/tls.key
  {{- end }}
  {{- end }}
  {{- range $peer, $port := .Values.service.peers }}
  {{- if eq $peer "enrichment" }}
  KAIROS_PROFILE_ADDR: {{ include "kairos-lib.peerAddress" (list $ "enrichment" $port) | quote }}
  {{- else if eq $peer "prediction" }}
  KAIROS_PREDICTION_ADDR: {{ include "kairos-lib.peerAddress" (list $ "prediction" $port) | quote }}
  {{- end }}
  {{- end }}
  OTEL_SERVICE_NAME: {{ .Values.service.name | quote }}
  {{- with .Values.global.otlp.endpoint }}
  OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
  {{- else }}
  OTEL_SDK_DISABLED: "true"
  {{- end }}
  LOG_LEVEL: {{ .Values.global.logLevel | quote }}
  {{- include "kairos-lib.securityConfig" . | trim | nindent 2 }}
  {{- /* The drain must end before the kubelet's SIGKILL: grace period - preStop sleep - 5 s. */}}
  {{- $drain := sub (sub (int .Values.terminationGracePeriodSeconds) (int .Values.preStopSleepSeconds)) 5 }}
  {{- if lt $drain 5 }}
  {{- fail (printf "%s: terminationGracePeriodSeconds must exceed preStopSleepSeconds by at least 10" .Values.service.name) }}
  {{- end }}
  KAIROS_DRAIN_TIMEOUT: {{ printf "%ds" $drain | quote }}
  {{- range $k, $v := .Values.env }}
  {{ $k }}: {{ $v | toString | quote }}
  {{- end }}
{{- end -}}

{{- define "kairos-lib.serviceaccount" -}}
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "kairos-lib.serviceAccountName" . }}
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end -}}
{{- end -}}

{{- define "kairos-lib.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "kairos-lib.fullname" . }}
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
spec:
  type: {{ .Values.serviceType }}
  selector:
    {{- include "kairos-lib.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .Values.service.grpcPort }}
      targetPort: grpc
      appProtocol: grpc
    - name: http
      port: {{ .Values.service.httpPort }}
      targetPort: http
      appProtocol: http
{{- if .Values.service.partitioned }}
---
# Stable per-pod names for the StatefulSet (kairos-enrichment-0.kairos-enrichment-headless).
apiVersion: v1
kind: Service
metadata:
  name: {{ include "kairos-lib.fullname" . }}-headless
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector:
    {{- include "kairos-lib.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .Values.service.grpcPort }}
      targetPort: grpc
{{- end }}
{{- end -}}
