{{/* Validated identity: fail early with a message a person can act on. */}}
{{- define "store.id" -}}
{{- $id := int64 .Values.storeId -}}
{{- if le $id 0 -}}{{- fail "storeId must be a positive integer" -}}{{- end -}}
{{- $id -}}
{{- end -}}

{{- define "store.uid" -}}
{{- $uid := toString .Values.storeUid -}}
{{- if not (regexMatch "^[a-z0-9]{12}$" $uid) -}}
{{- fail (printf "storeUid %q must be 12 characters of [a-z0-9] (the store's uid)" $uid) -}}
{{- end -}}
{{- $uid -}}
{{- end -}}

{{- define "store.name" -}}
{{- $n := toString .Values.storeName -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,46}[a-z0-9])?$" $n) -}}
{{- fail (printf "storeName %q must be a DNS-1123 label of at most 48 characters" $n) -}}
{{- end -}}
{{- $n -}}
{{- end -}}

{{- define "store.plan" -}}
{{- $plan := index .Values.plans .Values.plan -}}
{{- if not $plan -}}{{- fail (printf "plan %q is not in plans (%s)" .Values.plan (keys .Values.plans | sortAlpha | join ", ")) -}}{{- end -}}
{{- toYaml $plan -}}
{{- end -}}

{{/* A memory quantity (512Mi, 1Gi, 1.5Gi, 800M, 2G) in MiB, rounded down. */}}
{{- define "store.mib" -}}
{{- $v := toString . -}}
{{- if hasSuffix "Gi" $v -}}{{ trimSuffix "Gi" $v | float64 | mulf 1024 | floor | int }}
{{- else if hasSuffix "Mi" $v -}}{{ trimSuffix "Mi" $v | float64 | floor | int }}
{{- else if hasSuffix "G" $v -}}{{ trimSuffix "G" $v | float64 | mulf 953.67431640625 | floor | int }}
{{- else if hasSuffix "M" $v -}}{{ trimSuffix "M" $v | float64 | mulf 0.95367431640625 | floor | int }}
{{- else -}}{{ fail (printf "memory %q: use Mi, Gi, M or G" $v) }}
{{- end -}}
{{- end -}}

{{/* php-fpm's workers and PHP's memory from the plan's memory limit (README.md, "Sizing"). */}}
{{- define "store.sizing" -}}
{{- $plan := include "store.plan" . | fromYaml -}}
{{- $limit := include "store.mib" $plan.resources.limits.memory | int -}}
{{- $opcache := ternary 96 128 (lt $limit 1024) -}}
{{- $reserve := add $opcache 64 -}}
{{- $free := sub $limit $reserve | int -}}
{{- $workers := div $free (int .Values.sizing.workerMemoryMiB) | int -}}
{{- $workers = max 2 (min $workers (int .Values.sizing.maxWorkers)) -}}
{{- with .Values.sizing.phpWorkers }}{{ $workers = int . }}{{ end -}}
{{- $php := max 128 (min 256 (div $free 2)) -}}
workers: {{ $workers }}
phpMemoryMiB: {{ $php }}
opcacheMiB: {{ $opcache }}
{{- end -}}

{{/* The site's address: host[:port] and scheme, from siteUrl. */}}
{{- define "store.siteHost" -}}
{{- with .Values.siteUrl -}}{{- (urlParse .).host -}}{{- end -}}
{{- end -}}
{{- define "store.siteScheme" -}}
{{- with .Values.siteUrl -}}{{- (urlParse .).scheme -}}{{- else -}}http{{- end -}}
{{- end -}}

{{- define "store.selectorLabels" -}}
app.kubernetes.io/name: woocommerce-store
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "store.labels" -}}
{{ include "store.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: storefleet
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
storefleet.io/store: {{ include "store.id" . | quote }}
storefleet.io/store-uid: {{ include "store.uid" . }}
storefleet.io/store-name: {{ include "store.name" . }}
{{- end -}}

{{- define "store.dbName" -}}{{ required "database.name is required (the driver sets <prefix><storeUid>)" .Values.database.name }}{{- end -}}
{{- define "store.dbUser" -}}{{ required "database.user is required (the driver sets <prefix><storeUid>)" .Values.database.user }}{{- end -}}

{{/* The restricted securityContext of every container. */}}
{{- define "store.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 33
runAsGroup: 33
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "store.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 33
runAsGroup: 33
fsGroup: 33
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The store's volume: wp-content. */}}
{{- define "store.dataVolume" -}}
- name: data
  {{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: store-data
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{/* nginx's and php-fpm's own (the store pod): the socket, the pid files,
the page cache, nginx's buffers. */}}
{{- define "store.webVolume" -}}
- name: web
  emptyDir:
    sizeLimit: {{ .Values.pageCache.sizeLimit }}
{{- end -}}

{{/* The non-secret settings shared by the store pod and the install Job (as env). */}}
{{- define "store.config" -}}
{{- $sizing := include "store.sizing" . | fromYaml -}}
WORDPRESS_DB_HOST: {{ printf "%s:%v" (required "database.host is required" .Values.database.host) .Values.database.port | quote }}
WORDPRESS_DB_NAME: {{ include "store.dbName" . | quote }}
WORDPRESS_DB_USER: {{ include "store.dbUser" . | quote }}
WORDPRESS_TABLE_PREFIX: {{ .Values.database.tablePrefix | quote }}
STOREFLEET_SITE_URL: {{ .Values.siteUrl | trimSuffix "/" | quote }}
STOREFLEET_PHP_WORKERS: {{ $sizing.workers | quote }}
STOREFLEET_PHP_MEMORY_LIMIT: {{ printf "%dM" (int $sizing.phpMemoryMiB) | quote }}
STOREFLEET_OPCACHE_MB: {{ $sizing.opcacheMiB | quote }}
STOREFLEET_SMTP_HOST: {{ .Values.smtp.host | quote }}
STOREFLEET_SMTP_PORT: {{ .Values.smtp.port | quote }}
STOREFLEET_SMTP_USER: {{ .Values.smtp.user | quote }}
STOREFLEET_SMTP_SECURE: {{ .Values.smtp.secure | quote }}
STOREFLEET_SMTP_FROM: {{ .Values.smtp.from | quote }}
HOME: /tmp
{{- end -}}

{{/* The probes' HTTP headers: the store's Host, and the scheme TLS ends with. */}}
{{- define "store.probeHeaders" -}}
{{- $host := include "store.siteHost" . -}}
{{- if $host }}
httpHeaders:
  - name: Host
    value: {{ $host | quote }}
  {{- if eq (include "store.siteScheme" .) "https" }}
  - name: X-Forwarded-Proto
    value: https
  {{- end }}
{{- end }}
{{- end -}}
