{{/*
Only the traffic the service needs. Ingress: its public ports (service.publicPorts, e.g. ingest's
gRPC), its gRPC port from the Kairos services that call it (service.callers), metrics from
networkPolicy.metricsFrom, plus networkPolicy.extraIngress. Egress: DNS, NATS, MongoDB (when the
service uses it), the gRPC port of the services it calls (service.peers), the OTLP collector, the
ports of outside providers (networkPolicy.egressPorts, e.g. SMTP and HTTPS for delivery), plus
networkPolicy.extraEgress. NATS and MongoDB are matched by port only: in production they sit
outside the namespace or the cluster.
*/}}
{{- define "kairos-lib.networkpolicy" -}}
{{- if .Values.networkPolicy.enabled -}}
{{- $np := .Values.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "kairos-lib.fullname" . }}
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "kairos-lib.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  {{- $ingress := include "kairos-lib.networkpolicy.ingress" . }}
  {{- /* No rules: policyTypes Ingress alone denies all ingress. (An explicit `ingress: []` is not
  stored by the API server, so Helm would patch it back on every upgrade.) */}}
  {{- if trim $ingress }}
  ingress:
    {{- $ingress | nindent 4 }}
  {{- end }}
  egress:
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    - ports:
        - port: {{ .Values.global.nats.port }}
          protocol: TCP
    {{- if .Values.service.usesMongo }}
    - ports:
        - port: {{ .Values.global.mongo.port }}
          protocol: TCP
    {{- end }}
    {{- range $peer, $port := .Values.service.peers }}
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: kairos
              app.kubernetes.io/name: {{ $peer }}
      ports:
        - port: {{ $port }}
          protocol: TCP
    {{- end }}
    {{- if .Values.global.otlp.endpoint }}
    - ports:
        - port: {{ .Values.global.otlp.port }}
          protocol: TCP
    {{- end }}
    {{- with $np.egressPorts }}
    - ports:
        {{- range . }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- end }}
    {{- with $np.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
{{- end -}}

{{- define "kairos-lib.networkpolicy.ingress" -}}
{{- $np := .Values.networkPolicy -}}
{{- range .Values.service.publicPorts }}
- ports:
    - port: {{ . }}
      protocol: TCP
{{- end }}
{{- if .Values.service.callers }}
- from:
    {{- range .Values.service.callers }}
    - podSelector:
        matchLabels:
          app.kubernetes.io/part-of: kairos
          app.kubernetes.io/name: {{ . }}
    {{- end }}
  ports:
    - port: {{ .Values.service.grpcPort }}
      protocol: TCP
{{- end }}
{{- with $np.metricsFrom }}
- from:
    {{- toYaml . | nindent 4 }}
  ports:
    - port: {{ $.Values.service.httpPort }}
      protocol: TCP
{{- end }}
{{- with $np.extraIngress }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end -}}
