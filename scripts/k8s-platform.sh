#!/usr/bin/env bash
# Prepares the test cluster of `make k8s-up` for a platform that runs on this
# machine (`STOREFLEET_DRIVER=kubernetes make up`), and writes its settings to
# var/k8s/storefleet.env (mode 0600), which `make up` reads:
#
# - namespace "storefleet-dev" (restricted Pod Security), where the stores'
#   credentials Secrets live — not "storefleet", which `make deploy`'s release
#   owns: the two platforms share the cluster without touching each other;
# - the stores' MariaDB as a pod there (StatefulSet storefleet-stores-mysql,
#   the storefleet/mariadb image, a local-path volume), because store pods
#   cannot reach a MariaDB on this machine's loopback. Store pods reach it by
#   its Service name, as with the platform chart; the platform on this
#   machine through a node port on 127.0.0.1. Its root password is generated
#   once into Secret storefleet-dev/storefleet-stores-mysql, never typed or passed
#   in argv;
# - the platform's own data (SQLite, queue) in var/k8s/platform: it describes
#   stores that live in this cluster, and goes with it on `make k8s-down`.
#
# Stores are then http://<name>.localhost:30080/, through the node's Traefik.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTENV="${STOREFLEET_K8S_VAR:-${ROOT}/var/k8s}"
NAMESPACE="${STOREFLEET_K8S_PLATFORM_NAMESPACE:-storefleet-dev}"
NAME=storefleet-stores-mysql
ENV_FILE="${TESTENV}/storefleet.env"
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'k8s-platform.sh: %s\n' "$*" >&2; exit 1; }

[[ -f "${TESTENV}/kubeconfig" ]] || die "no test cluster: run \`make k8s-up\` first (docs/k8s-testenv.md)"
export KUBECONFIG="${TESTENV}/kubeconfig" PATH="${TESTENV}/bin:${PATH}"
kubectl version --request-timeout=5s >/dev/null 2>&1 || die "the test cluster does not answer: run \`make k8s-up\`"
image="$(awk -F= '$1 == "STOREFLEET_MARIADB_IMAGE" {print $2}' "${ROOT}/var/images.env" 2>/dev/null || true)"
[[ -n "${image}" ]] || die "no MariaDB image: run \`make images\`"

log "namespace ${NAMESPACE} (Pod Security: restricted)"
kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "${NAMESPACE}" --overwrite \
    pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted >/dev/null

if ! kubectl -n "${NAMESPACE}" get secret "${NAME}" >/dev/null 2>&1; then
    secret="$(mktemp)"
    chmod 600 "${secret}"
    head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"${secret}"
    kubectl -n "${NAMESPACE}" create secret generic "${NAME}" --from-file=root-password="${secret}" >/dev/null
    rm -f "${secret}"
fi

log "the stores' MariaDB (${image})"
kubectl -n "${NAMESPACE}" apply -f - >/dev/null <<MANIFEST
apiVersion: v1
kind: Service
metadata:
  name: ${NAME}
  labels: {app.kubernetes.io/component: stores-mysql, app.kubernetes.io/part-of: storefleet}
spec:
  selector: {app.kubernetes.io/component: stores-mysql, app.kubernetes.io/instance: dev}
  ports: [{name: mysql, port: 3306, targetPort: 3306}]
---
# The platform on this machine reaches it here (node ports answer on 127.0.0.1).
apiVersion: v1
kind: Service
metadata:
  name: ${NAME}-host
  labels: {app.kubernetes.io/component: stores-mysql, app.kubernetes.io/part-of: storefleet}
spec:
  type: NodePort
  selector: {app.kubernetes.io/component: stores-mysql, app.kubernetes.io/instance: dev}
  ports: [{name: mysql, port: 3306, targetPort: 3306}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${NAME}
  labels: {app.kubernetes.io/component: stores-mysql, app.kubernetes.io/part-of: storefleet}
spec:
  serviceName: ${NAME}
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/component: stores-mysql, app.kubernetes.io/instance: dev}
  template:
    metadata:
      labels: {app.kubernetes.io/component: stores-mysql, app.kubernetes.io/instance: dev}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 999
        runAsGroup: 999
        fsGroup: 999
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: mysql
          image: ${image}
          imagePullPolicy: IfNotPresent
          args: ["--skip-name-resolve", "--max-connections=128", "--innodb-buffer-pool-size=256M"]
          env:
            - name: MYSQL_ROOT_PASSWORD
              valueFrom: {secretKeyRef: {name: ${NAME}, key: root-password}}
          ports: [{name: mysql, containerPort: 3306}]
          readinessProbe:
            exec: {command: ["mysqladmin", "ping", "--host=127.0.0.1", "--silent"]}
            periodSeconds: 5
          resources:
            requests: {cpu: 100m, memory: 256Mi}
            limits: {memory: 768Mi}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: data, mountPath: /var/lib/mysql}
            - {name: run, mountPath: /var/run/mysqld}
            - {name: tmp, mountPath: /tmp}
      volumes:
        - {name: run, emptyDir: {}}
        - {name: tmp, emptyDir: {}}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 5Gi}}
MANIFEST
kubectl -n "${NAMESPACE}" rollout status "statefulset/${NAME}" --timeout=300s >/dev/null ||
    die "the stores' MariaDB did not become ready: kubectl -n ${NAMESPACE} describe pod ${NAME}-0"

port="$(kubectl -n "${NAMESPACE}" get service "${NAME}-host" -o jsonpath='{.spec.ports[0].nodePort}')"
umask 077
# The store chart's values-local.yaml, with this namespace as the one store
# pods may reach the stores' MariaDB in (their NetworkPolicy names it).
store_values="${TESTENV}/store-values.yaml"
"${ROOT}/.venv/bin/python" - "${ROOT}/charts/woocommerce-store/values-local.yaml" \
    "${NAMESPACE}" "${NAME}.${NAMESPACE}.svc.cluster.local" >"${store_values}" <<'PY' ||
import sys
import yaml
source, namespace, host = sys.argv[1:]
values = yaml.safe_load(open(source))
mysql = values["networkPolicy"]["mysql"]
mysql["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] = namespace
values["database"]["host"] = host
sys.stdout.write("# Written by scripts/k8s-platform.sh from values-local.yaml.\n")
yaml.safe_dump(values, sys.stdout, sort_keys=False)
PY
    die "could not write ${store_values} (run it through \`make up\`, which makes .venv)"
{
    echo "STOREFLEET_DRIVER=kubernetes"
    echo "KUBECONFIG=${TESTENV}/kubeconfig"
    echo "STOREFLEET_HELM_BINARY=${TESTENV}/bin/helm"
    echo "STOREFLEET_DATA_DIR=${TESTENV}/platform"
    echo "STOREFLEET_K8S_PLATFORM_NAMESPACE=${NAMESPACE}"
    echo "STOREFLEET_K8S_STORE_VALUES=${store_values}"
    echo "STOREFLEET_K8S_STORES_DB_HOST=${NAME}.${NAMESPACE}.svc.cluster.local"
    echo "STOREFLEET_K8S_STORE_DOMAIN=localhost"
    echo "STOREFLEET_K8S_STORE_URL_PORT=${STOREFLEET_K8S_INGRESS_HTTP_PORT:-30080}"
    printf 'STOREFLEET_STORES_DB_URL=mysql+pymysql://root:%s@127.0.0.1:%s/\n' \
        "$(kubectl -n "${NAMESPACE}" get secret "${NAME}" -o jsonpath='{.data.root-password}' | base64 -d)" "${port}"
} >"${ENV_FILE}.new"
mv -f "${ENV_FILE}.new" "${ENV_FILE}"
mkdir -p "${TESTENV}/platform" && chmod 700 "${TESTENV}/platform"
log "settings in ${ENV_FILE}; stores will be http://<name>.localhost:${STOREFLEET_K8S_INGRESS_HTTP_PORT:-30080}/"
