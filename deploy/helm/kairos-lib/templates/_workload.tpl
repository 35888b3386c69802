{{/*
The service's workload: a Deployment, or for a partition-owning service a StatefulSet whose pod i of
N owns the partitions p with p % N == i (KAIROS_REPLICA_ORDINAL from the pod-index label, which
Kubernetes sets on StatefulSet pods since 1.28; KAIROS_REPLICAS from the replica count). Such a
service is never autoscaled: a new replica count is a new assignment, rolled out by helm upgrade.
*/}}
{{- define "kairos-lib.workload" -}}
{{- $partitioned := .Values.service.partitioned -}}
apiVersion: apps/v1
kind: {{ ternary "StatefulSet" "Deployment" $partitioned }}
metadata:
  name: {{ include "kairos-lib.fullname" . }}
  labels:
    {{- include "kairos-lib.labels" . | nindent 4 }}
spec:
  {{- if or $partitioned (not .Values.autoscaling.enabled) }}
  replicas: {{ .Values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "kairos-lib.selectorLabels" . | nindent 6 }}
  {{- if $partitioned }}
  serviceName: {{ include "kairos-lib.fullname" . }}-headless
  # Every partition owner starts at once; ordered start-up would only slow recovery.
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
  {{- else if .Values.service.singleton }}
  # One process holds the service's state: the old pod stops before the new one starts.
  strategy:
    type: Recreate
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "kairos-lib.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include "kairos-lib.configmap" . | sha256sum }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "kairos-lib.serviceAccountName" . }}
      automountServiceAccountToken: false
      # The drain (stop pulling, finish in-flight work, ack) must end before the kubelet's SIGKILL.
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      {{- with .Values.global.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if .Values.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: {{ .Values.topologySpread.maxSkew }}
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: {{ .Values.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "kairos-lib.selectorLabels" . | nindent 14 }}
        - maxSkew: {{ .Values.topologySpread.maxSkew }}
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "kairos-lib.selectorLabels" . | nindent 14 }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .Values.service.name }}
          image: {{ include "kairos-lib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: grpc
              containerPort: {{ .Values.service.grpcPort }}
              protocol: TCP
            - name: http
              containerPort: {{ .Values.service.httpPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "kairos-lib.fullname" . }}
            {{- if .Values.existingSecret }}
            # API keys and other secrets of this service, as environment variables.
            - secretRef:
                name: {{ .Values.existingSecret }}
            {{- end }}
          {{- with include "kairos-lib.env" . }}
          env:
            {{- . | nindent 12 }}
          {{- end }}
          # Alive while the process answers HTTP /healthz (also while it waits for NATS or MongoDB at
          # start); ready once every dependency answered (gRPC health SERVING), and not ready again
          # from the first moment of a drain.
          startupProbe:
            {{- include "kairos-lib.httpProbe" (list . "/healthz") | trim | nindent 12 }}
            periodSeconds: 2
            failureThreshold: {{ .Values.probes.startupFailureThreshold }}
          readinessProbe:
            {{- include "kairos-lib.readinessCheck" . | trim | nindent 12 }}
            periodSeconds: {{ .Values.probes.periodSeconds }}
            failureThreshold: 2
          livenessProbe:
            {{- include "kairos-lib.httpProbe" (list . "/healthz") | trim | nindent 12 }}
            periodSeconds: {{ .Values.probes.periodSeconds }}
            failureThreshold: {{ .Values.probes.livenessFailureThreshold }}
          {{- if .Values.preStopSleepSeconds }}
          # Keeps serving while the endpoint is removed from Services and load balancers, so no
          # new request reaches a pod that already stopped accepting; the drain starts after it.
          lifecycle:
            preStop:
              sleep:
                seconds: {{ .Values.preStopSleepSeconds }}
          {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- include "kairos-lib.securityVolumeMounts" . | trim | nindent 12 }}
            {{- if .Values.secretMount.name }}
            # Files such as ingest's API-key configuration (KAIROS_INGEST_CONFIG=<mountPath>/<key>).
            - name: secret-files
              mountPath: {{ .Values.secretMount.mountPath }}
              readOnly: true
            {{- end }}
            {{- if .Values.global.nats.auth.enabled }}
            - name: nats-credentials
              mountPath: /etc/kairos/nats
              readOnly: true
            {{- end }}
            {{- if .Values.global.nats.tls.existingSecret }}
            - name: nats-tls
              mountPath: /etc/kairos/nats-tls
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- include "kairos-lib.securityVolumes" . | trim | nindent 8 }}
        {{- with .Values.secretMount.name }}
        - name: secret-files
          secret:
            secretName: {{ . }}
        {{- end }}
        {{- if .Values.global.nats.auth.enabled }}
        # Only this service's password, as the file NATS_PASSWORD_FILE names.
        - name: nats-credentials
          secret:
            secretName: {{ include "kairos-lib.natsSecret" . }}
            defaultMode: 0440
            items:
              - key: {{ include "kairos-lib.natsPasswordKey" . }}
                path: password
        {{- end }}
        {{- with .Values.global.nats.tls.existingSecret }}
        - name: nats-tls
          secret:
            secretName: {{ . }}
            defaultMode: 0440
        {{- end }}
{{- end -}}


{{/* Environment variables that are not in the ConfigMap: the pod ordinal and secret references. */}}
{{- define "kairos-lib.env" -}}
{{- if .Values.service.partitioned }}
- name: KAIROS_REPLICA_ORDINAL
  valueFrom:
    fieldRef:
      fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
{{- end }}
{{- with .Values.global.nats.existingSecret }}
- name: NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.global.nats.urlKey }}
{{- end }}
{{- with .Values.global.mongo.existingSecret }}
- name: MONGO_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.global.mongo.uriKey }}
{{- end }}
{{- end -}}
