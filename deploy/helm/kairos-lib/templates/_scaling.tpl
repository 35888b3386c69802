{{- define "kairos-lib.hpa" -}}
{{- if and .Values.service.singleton (or .Values.autoscaling.enabled .Values.keda.enabled) -}}
{{- fail (printf "%s: runs as one pod (its aggregates live in one process); autoscaling and keda must stay off" .Values.service.name) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (not .Values.service.partitioned) -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "kairos-lib.fullname" . }}
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "kairos-lib.fullname" . }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
{{- end -}}
{{- end -}}

{{- define "kairos-lib.pdb" -}}
{{- if .Values.podDisruptionBudget.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "kairos-lib.fullname" . }}
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "kairos-lib.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* Scales a stateless consumer on the pending messages of its JetStream consumer (KEDA's nats-jetstream scaler). */}}
{{- define "kairos-lib.scaledobject" -}}
{{- if .Values.keda.enabled -}}
{{- if .Values.service.partitioned -}}
{{- fail (printf "%s: keda.enabled is for stateless services; a partition-owning service scales by helm upgrade of replicas" .Values.service.name) -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- fail (printf "%s: enable either autoscaling (HPA) or keda, not both" .Values.service.name) -}}
{{- end -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "kairos-lib.fullname" . }}
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ include "kairos-lib.fullname" . }}
  minReplicaCount: {{ .Values.keda.minReplicas }}
  maxReplicaCount: {{ .Values.keda.maxReplicas }}
  triggers:
    - type: nats-jetstream
      metadata:
        natsServerMonitoringEndpoint: {{ required "keda.monitoringEndpoint (NATS's monitoring host:port) is required when keda.enabled" .Values.keda.monitoringEndpoint | quote }}
        account: {{ .Values.keda.account | quote }}
        stream: {{ required "keda.stream is required when keda.enabled" .Values.keda.stream | quote }}
        consumer: {{ required "keda.consumer is required when keda.enabled" .Values.keda.consumer | quote }}
        lagThreshold: {{ .Values.keda.lagThreshold | quote }}
{{- end -}}
{{- end -}}

{{- define "kairos-lib.servicemonitor" -}}
{{- if .Values.serviceMonitor.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "kairos-lib.fullname" . }}
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
    {{- with .Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "kairos-lib.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval }}
{{- end -}}
{{- end -}}
