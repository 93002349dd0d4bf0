{{- define "sf.labels" -}}
app.kubernetes.io/name: storefleet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: storefleet
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component: include "sf.selector" (list $ "api") */}}
{{- define "sf.selector" -}}
app.kubernetes.io/name: storefleet
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "sf.image" -}}
{{ printf "%s:%s" .repository (toString .tag) | quote }}
{{- end -}}

{{- define "sf.workerUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ .Values.worker.serviceAccountName }}
{{- end -}}

{{- define "sf.storeManagerRole" -}}{{ .Release.Name }}-store-manager{{- end -}}

{{- define "sf.restricted" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sf.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Where each connection URL comes from: the generated Secret or an external one. */}}
{{- define "sf.urlRef" -}}
{{- $root := index . 0 }}{{- $internal := index . 1 }}{{- $external := index . 2 }}{{- $key := index . 3 -}}
secretKeyRef:
{{- if $internal }}
  name: {{ $root.Release.Name }}
  key: {{ $key }}
{{- else }}
  name: {{ required (printf "an existingSecret is required for the external %s" $key) $external.existingSecret }}
  key: {{ $external.key }}
{{- end }}
{{- end -}}

{{/* This release's instance: the label value of its store namespaces
     (storefleet.io/instance), which deploy.sh --purge-stores selects on. */}}
{{- define "sf.instance" -}}
{{- $instance := default (printf "%s.%s" .Release.Namespace .Release.Name) .Values.platform.instance | trunc 63 -}}
{{- regexReplaceAll "[^A-Za-z0-9]+$" $instance "" -}}
{{- end -}}

{{/* The proxies the API believes (comma-separated), see api.trustedProxies. */}}
{{- define "sf.trustedProxies" -}}
{{- $np := .Values.networkPolicy -}}
{{- if .Values.api.trustedProxies -}}
{{ join "," .Values.api.trustedProxies }}
{{- else if and .Values.ingress.enabled $np.enabled (not $np.apiFrom.anywhere) -}}
10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7
{{- end -}}
{{- end -}}

{{/* The environment shared by the API, the workers and the migration Job. */}}
{{- define "sf.env" -}}
- name: STOREFLEET_ENV
  value: {{ .Values.platform.env | quote }}
{{- /* The API records it on each new store; the workers' reconciler checks
       and supervises only the stores of its own driver. */}}
- name: STOREFLEET_DRIVER
  value: kubernetes
- name: STOREFLEET_ADMIN_EMAIL
  value: {{ .Values.platform.adminEmail | quote }}
{{- with .Values.platform.publicHost }}
- name: STOREFLEET_PUBLIC_HOST
  value: {{ . | quote }}
{{- end }}
- name: STOREFLEET_DATA_DIR
  value: /tmp/storefleet
- name: STOREFLEET_K8S_INSTANCE
  value: {{ include "sf.instance" . | quote }}
- name: HOME
  value: /tmp
- name: STOREFLEET_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Release.Name }}, key: secret-key}
- name: STOREFLEET_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Release.Name }}, key: admin-password}
- name: STOREFLEET_DATABASE_URL
  valueFrom:
    {{- include "sf.urlRef" (list . .Values.mysql.enabled .Values.externalDatabase "database-url") | nindent 4 }}
- name: STOREFLEET_REDIS_URL
  valueFrom:
    {{- include "sf.urlRef" (list . .Values.redis.enabled .Values.externalRedis "redis-url") | nindent 4 }}
- name: STOREFLEET_LOG_FORMAT
  value: {{ .Values.platform.logFormat | quote }}
{{- with .Values.backups }}
- name: STOREFLEET_BACKUP_TARGET
  value: {{ .target | quote }}
- name: STOREFLEET_BACKUP_SCHEDULE_HOURS
  value: {{ .scheduleHours | quote }}
- name: STOREFLEET_BACKUP_RETENTION_COUNT
  value: {{ .retentionCount | quote }}
- name: STOREFLEET_FINAL_BACKUP_DAYS
  value: {{ .finalBackupDays | quote }}
{{- if eq .target "s3" }}
{{- with .s3.endpoint }}
- name: STOREFLEET_BACKUP_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: STOREFLEET_BACKUP_S3_REGION
  value: {{ .s3.region | quote }}
- name: STOREFLEET_BACKUP_S3_BUCKET
  value: {{ .s3.bucket | quote }}
- name: STOREFLEET_BACKUP_S3_PREFIX
  value: {{ .s3.prefix | quote }}
{{- if .s3.existingSecret }}
- name: STOREFLEET_BACKUP_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ .s3.existingSecret }}, key: {{ .s3.accessKeyKey }}}
- name: STOREFLEET_BACKUP_S3_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ .s3.existingSecret }}, key: {{ .s3.secretKeyKey }}}
{{- end }}
{{- end }}
{{- if .keySecret.name }}
- name: STOREFLEET_BACKUP_KEY
  valueFrom:
    secretKeyRef: {name: {{ .keySecret.name }}, key: {{ .keySecret.key }}}
{{- end }}
{{- end }}
{{- with .Values.platform.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The store MySQL as store pods see it. */}}
{{- define "sf.storesDbHost" -}}
{{- if .Values.storesMysql.enabled -}}
{{ .Release.Name }}-stores-mysql.{{ .Release.Namespace }}.svc.cluster.local
{{- else -}}
{{ required "externalStoresDatabase.host is required when storesMysql.enabled=false" .Values.externalStoresDatabase.host }}
{{- end -}}
{{- end -}}

{{- define "sf.peer" -}}
{{- /* (list $root $component $internal $external) -> a peer list */ -}}
{{- $root := index . 0 }}{{- $component := index . 1 }}{{- $internal := index . 2 }}{{- $external := index . 3 -}}
{{- if $internal -}}
- podSelector:
    matchLabels:
      {{- include "sf.selector" (list $root $component) | nindent 6 }}
{{- else if $external.cidr -}}
- ipBlock:
    cidr: {{ $external.cidr }}
{{- else -}}
- ipBlock:
    cidr: 0.0.0.0/0
{{- end -}}
{{- end }}

{{/* The init container of the API and the workers: they start only once the
     migration Job has brought the schema to this release's head. */}}
{{- define "sf.waitForSchema" -}}
- name: wait-for-schema
  image: {{ include "sf.image" .Values.image }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["wait-for-schema", "--timeout", {{ .Values.migrate.waitSeconds | quote }}]
  env:
    {{- include "sf.env" . | nindent 4 }}
  resources:
    {{- toYaml .Values.api.resources | nindent 4 }}
  securityContext:
    {{- include "sf.restricted" . | nindent 4 }}
  volumeMounts:
    - {name: tmp, mountPath: /tmp}
{{- end -}}

{{/* A memory quantity (512Mi, 2Gi, 1.5Gi, 800M, 2G) in MiB, rounded down. */}}
{{- define "sf.mib" -}}
{{- $v := toString . -}}
{{- if hasSuffix "Gi" $v -}}{{ trimSuffix "Gi" $v | float64 | mulf 1024 | floor | int }}
{{- else if hasSuffix "Mi" $v -}}{{ trimSuffix "Mi" $v | float64 | floor | int }}
{{- else if hasSuffix "G" $v -}}{{ trimSuffix "G" $v | float64 | mulf 953.67431640625 | floor | int }}
{{- else if hasSuffix "M" $v -}}{{ trimSuffix "M" $v | float64 | mulf 0.95367431640625 | floor | int }}
{{- else -}}{{ fail (printf "memory %q: use Mi, Gi, M or G" $v) }}
{{- end -}}
{{- end -}}
