{{/* Validated identity: fail early with a message a person can act on. */}}
{{- define "store.id" -}}
{{- $id := int64 .Values.storeId -}}
{{- if le $id 0 -}}{{- fail "storeId must be a positive integer" -}}{{- end -}}
{{- $id -}}
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
storefleet.io/store-name: {{ include "store.name" . }}
{{- end -}}

{{- define "store.dbName" -}}{{ .Values.database.name | default (printf "store_%s" (include "store.id" .)) }}{{- end -}}
{{- define "store.dbUser" -}}{{ .Values.database.user | default (printf "store_%s" (include "store.id" .)) }}{{- end -}}
{{- define "store.tablePrefix" -}}{{ .Values.database.tablePrefix | default (printf "s%s_" (include "store.id" .)) }}{{- end -}}

{{/* The restricted securityContext of every container. */}}
{{- define "store.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
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

{{/* The non-secret settings shared by the store pod and the install Job (as env). */}}
{{- define "store.config" -}}
WORDPRESS_DB_HOST: {{ printf "%s:%v" (required "database.host is required" .Values.database.host) .Values.database.port | quote }}
WORDPRESS_DB_NAME: {{ include "store.dbName" . | quote }}
WORDPRESS_DB_USER: {{ include "store.dbUser" . | quote }}
WORDPRESS_TABLE_PREFIX: {{ include "store.tablePrefix" . | quote }}
STOREFLEET_SITE_URL: {{ .Values.siteUrl | quote }}
STORE_PLACEHOLDER_URL: {{ printf "http://%s.storefleet.invalid" (include "store.name" .) | quote }}
STORE_NAME: {{ include "store.name" . | quote }}
STORE_TITLE: {{ .Values.storeTitle | default (include "store.name" .) | quote }}
ADMIN_USER: {{ .Values.admin.user | quote }}
ADMIN_EMAIL: {{ required "admin.email is required" .Values.admin.email | quote }}
ADMIN_SECRET_NAME: {{ .Values.admin.existingSecret | quote }}
WC_VERSION: {{ .Values.woocommerce.version | quote }}
WC_SAMPLE_PRODUCT: {{ .Values.woocommerce.sampleProduct | toString | quote }}
WC_CURRENCY: {{ .Values.woocommerce.currency | quote }}
WC_COUNTRY: {{ .Values.woocommerce.country | quote }}
INSTALL_WAIT_SECONDS: {{ .Values.install.waitSeconds | quote }}
PHP_MEMORY_LIMIT: {{ .Values.install.phpMemoryLimit | quote }}
HOME: /tmp
WP_CLI_CACHE_DIR: /tmp/wp-cli-cache
# wp-config.php (written by the image's entrypoint) evaluates this: the site
# URL, once known, overrides the database options; TLS ends at the ingress.
WORDPRESS_CONFIG_EXTRA: |
  if (getenv('STOREFLEET_SITE_URL')) {
      define('WP_HOME', getenv('STOREFLEET_SITE_URL'));
      define('WP_SITEURL', getenv('STOREFLEET_SITE_URL'));
  }
  if (isset($_SERVER['HTTP_X_FORWARDED_PROTO']) && $_SERVER['HTTP_X_FORWARDED_PROTO'] === 'https') {
      $_SERVER['HTTPS'] = 'on';
  }
  define('DISALLOW_FILE_EDIT', true);
  define('AUTOMATIC_UPDATER_DISABLED', true);
{{- end -}}
