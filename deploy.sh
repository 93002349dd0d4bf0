#!/usr/bin/env bash
# Deploys StoreFleet onto the Kubernetes cluster of the current kubectl context
# (the test cluster of `make k8s-up`, Docker Desktop, kind or k3d) with
# charts/storefleet and values-local.yaml, then prints the dashboard URL and
# the admin's credentials.
#
# Secrets are never typed or passed on a command line: the chart generates
# them once (and keeps them on every upgrade); this script only reads the
# admin password back from the Secret at the end. See docs/deploy.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAMESPACE="${STOREFLEET_NAMESPACE:-storefleet}"
RELEASE="${STOREFLEET_RELEASE:-storefleet}"
TIMEOUT="${STOREFLEET_DEPLOY_TIMEOUT:-10m}"
IMAGES=(platform store mariadb redis)
# As values-local.yaml names them: the test registry of make k8s-up. On
# kind/k3d/minikube the images built with docker are loaded under that name.
LOCAL_REPO=127.0.0.1:15000/storefleet

usage() {
    cat <<EOF
Usage: ./deploy.sh [--build] [--values FILE]... [--allow-context] [--timeout 10m]
       ./deploy.sh --uninstall [--purge-stores] [--allow-context]

  --build           build images/{platform,store,mariadb,redis}/Dockerfile as
                    ${LOCAL_REPO}/<name>:dev and load them into the cluster (kind, k3d);
                    on the test cluster of make k8s-up: make images (pushed to its registry)
  --values FILE     extra values for charts/storefleet (after values-local.yaml)
  --allow-context   deploy to a context that is not storefleet-testenv (make k8s-up),
                    docker-desktop, kind-*, k3d-*, rancher-desktop or minikube
  --timeout D       how long to wait for the rollout (default ${TIMEOUT})
  --uninstall       remove the platform release and its namespace (data included)
  --purge-stores    with --uninstall: delete this release's store namespaces too
                    (label storefleet.io/instance; other releases' stores are kept)

Environment: STOREFLEET_NAMESPACE (${NAMESPACE}), STOREFLEET_RELEASE (${RELEASE}),
STOREFLEET_ARTIFACTS (for --build: the directory holding the WordPress and
WooCommerce archives, default ../shared/vendor).
EOF
}

log() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed ($2)"; }

build=false uninstall=false purge_stores=false allow_context=false
extra_values=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build) build=true ;;
        --values) [[ $# -ge 2 ]] || die "--values needs a file"; extra_values+=(-f "$2"); shift ;;
        --allow-context) allow_context=true ;;
        --timeout) [[ $# -ge 2 ]] || die "--timeout needs a duration"; TIMEOUT="$2"; shift ;;
        --uninstall) uninstall=true ;;
        --purge-stores) purge_stores=true ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done

# -- tools and context ----------------------------------------------------------
# The test cluster of `make k8s-up` (docs/k8s-testenv.md) when nothing else is
# configured: its kubeconfig and its kubectl and helm.
TESTENV="${ROOT}/var/k8s"
if [[ -z "${KUBECONFIG:-}" && ! -f "${HOME}/.kube/config" && -f "${TESTENV}/kubeconfig" ]]; then
    export KUBECONFIG="${TESTENV}/kubeconfig"
    log "using the test cluster of make k8s-up (${KUBECONFIG})"
fi
if [[ "${KUBECONFIG:-}" == "${TESTENV}/kubeconfig" && -d "${TESTENV}/bin" ]]; then
    # Its own kubectl and helm, of its Kubernetes version, before any other.
    PATH="${TESTENV}/bin:${PATH}"
elif [[ -d "${TESTENV}/bin" ]]; then
    command -v kubectl >/dev/null 2>&1 || PATH="${TESTENV}/bin:${PATH}"
    command -v helm >/dev/null 2>&1 || PATH="${TESTENV}/bin:${PATH}"
fi
need kubectl "https://kubernetes.io/docs/tasks/tools/, or make k8s-up"
need helm "https://helm.sh/docs/intro/install/, or make k8s-up"

context="$(kubectl config current-context 2>/dev/null)" || die "kubectl has no current context"
case "${context}" in
    docker-desktop | rancher-desktop | minikube) flavour="${context}" ;;
    storefleet-testenv) flavour=testenv ;;
    kind-*) flavour=kind ;;
    k3d-*) flavour=k3d ;;
    *)
        $allow_context || die "context '${context}' is not a local cluster; pass --allow-context to use it"
        flavour=other
        ;;
esac
kubectl version --request-timeout=10s >/dev/null 2>&1 ||
    die "the cluster of context '${context}' does not answer (is Kubernetes running?)"
log "context ${context} (${flavour}), namespace ${NAMESPACE}, release ${RELEASE}"

# -- uninstall --------------------------------------------------------------------
# The label value of this release's store namespaces: what the chart gave its
# worker (read before the release goes), else the chart's default,
# <namespace>.<release> cut to a label's 63 characters.
release_instance() {
    local value
    value="$(kubectl get deployment "${RELEASE}-worker" --namespace "${NAMESPACE}" \
        -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="STOREFLEET_K8S_INSTANCE")].value}' \
        2>/dev/null)" || value=""
    if [[ -z "${value}" ]]; then
        value="${NAMESPACE}.${RELEASE}"
        value="${value:0:63}"
        while [[ -n "${value}" && ! "${value: -1}" =~ [A-Za-z0-9] ]]; do value="${value%?}"; done
    fi
    printf '%s' "${value}"
}

if $uninstall; then
    instance="$(release_instance)"
    stores_selector="storefleet.io/store,storefleet.io/instance=${instance}"
    owner="$(kubectl get namespace "${NAMESPACE}" --ignore-not-found \
        -o jsonpath='{.metadata.labels.storefleet\.io/deployed-by}' 2>/dev/null || true)"
    if helm status "${RELEASE}" --namespace "${NAMESPACE}" >/dev/null 2>&1; then
        log "uninstalling release ${RELEASE}"
        helm uninstall "${RELEASE}" --namespace "${NAMESPACE}" --wait --timeout "${TIMEOUT}"
        owner=deploy.sh
    fi
    if [[ "${owner}" == deploy.sh ]]; then
        log "deleting namespace ${NAMESPACE} (the platform's databases go with it)"
        kubectl delete namespace "${NAMESPACE}" --ignore-not-found --wait=true --timeout="${TIMEOUT}"
    elif kubectl get namespace "${NAMESPACE}" >/dev/null 2>&1; then
        die "no release ${RELEASE} in namespace ${NAMESPACE}, which this script did not make; not deleting it"
    fi
    if $purge_stores; then
        log "deleting the store namespaces of this release (label storefleet.io/instance=${instance})"
        kubectl delete namespace -l "${stores_selector}" --wait=true --timeout="${TIMEOUT}"
    else
        stores="$(kubectl get namespace -l "${stores_selector}" -o name 2>/dev/null | wc -l)"
        [[ "${stores}" -eq 0 ]] || log "${stores} store namespace(s) kept, without their databases" \
            "(they were in namespace ${NAMESPACE}): make undeploy PURGE=1 (--purge-stores) removes them"
    fi
    exit 0
fi

# -- images -----------------------------------------------------------------------
if $build && [[ "${flavour}" == testenv ]]; then
    # No Docker engine: the images from Debian packages, pushed to the test
    # registry that the node pulls from.
    log "building the images (make images)"
    make -C "${ROOT}" --no-print-directory images
elif $build; then
    need docker "Docker Desktop or Docker Engine"
    # The store's releases: the pinned versions and archive digests, the archives
    # from STOREFLEET_ARTIFACTS (images/README.md).
    artifacts="${STOREFLEET_ARTIFACTS:-${ROOT}/../shared/vendor}"
    # shellcheck source=images/store/versions.env
    source "${ROOT}/images/store/versions.env"
    wp_sha="$(awk -v f="wordpress-${WORDPRESS_VERSION}.tar.gz" '$2 == f {print $1}' "${artifacts}/SHA256SUMS" 2>/dev/null || true)"
    wc_sha="$(awk -v f="woocommerce-${WOOCOMMERCE_VERSION}.zip" '$2 == f {print $1}' "${artifacts}/SHA256SUMS" 2>/dev/null || true)"
    [[ -n "${wp_sha}" && -n "${wc_sha}" ]] ||
        die "no SHA256SUMS with the release archives in ${artifacts} (set STOREFLEET_ARTIFACTS)"
    for name in "${IMAGES[@]}"; do
        log "building ${LOCAL_REPO}/${name}:dev"
        extra=()
        if [[ "${name}" == store ]]; then
            extra=(--build-context "releases=${artifacts}"
                --build-arg "WORDPRESS_VERSION=${WORDPRESS_VERSION}" --build-arg "WORDPRESS_SHA256=${wp_sha}"
                --build-arg "WOOCOMMERCE_VERSION=${WOOCOMMERCE_VERSION}" --build-arg "WOOCOMMERCE_SHA256=${wc_sha}")
        fi
        docker build -f "${ROOT}/images/${name}/Dockerfile" -t "${LOCAL_REPO}/${name}:dev" "${extra[@]}" "${ROOT}"
    done
    case "${flavour}" in
        kind)
            need kind "https://kind.sigs.k8s.io/"
            for name in "${IMAGES[@]}"; do
                kind load docker-image "${LOCAL_REPO}/${name}:dev" --name "${context#kind-}"
            done
            ;;
        k3d)
            need k3d "https://k3d.io/"
            refs=()
            for name in "${IMAGES[@]}"; do refs+=("${LOCAL_REPO}/${name}:dev"); done
            k3d image import "${refs[@]}" --cluster "${context#k3d-}"
            ;;
        minikube)
            for name in "${IMAGES[@]}"; do minikube image load "${LOCAL_REPO}/${name}:dev"; done
            ;;
        *) ;; # Docker Desktop's Kubernetes sees the images docker builds.
    esac
fi

# -- namespace and release -----------------------------------------------------------
log "namespace ${NAMESPACE} (Pod Security: restricted)"
kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "${NAMESPACE}" --overwrite storefleet.io/deployed-by=deploy.sh \
    pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/warn=restricted >/dev/null

log "helm upgrade --install ${RELEASE} (waits up to ${TIMEOUT})"
helm upgrade --install "${RELEASE}" "${ROOT}/charts/storefleet" \
    --namespace "${NAMESPACE}" \
    -f "${ROOT}/charts/storefleet/values-local.yaml" \
    ${extra_values[@]+"${extra_values[@]}"} \
    --wait --wait-for-jobs --timeout "${TIMEOUT}"

for deployment in api worker; do
    kubectl rollout status "deployment/${RELEASE}-${deployment}" \
        --namespace "${NAMESPACE}" --timeout "${TIMEOUT}"
done

# -- where to go, and who to be -------------------------------------------------------
service_type="$(kubectl get service "${RELEASE}-api" --namespace "${NAMESPACE}" -o jsonpath='{.spec.type}')"
port_forward="kubectl --namespace ${NAMESPACE} port-forward service/${RELEASE}-api 8000:80  (then http://localhost:8000)"
ingress_host="$(kubectl get ingress "${RELEASE}" --namespace "${NAMESPACE}" -o jsonpath='{.spec.rules[0].host}' 2>/dev/null || true)"
if [[ "${flavour}" == testenv && "${service_type}" == NodePort ]]; then
    # The test node's node ports answer on 127.0.0.1.
    url="http://localhost:$(kubectl get service "${RELEASE}-api" --namespace "${NAMESPACE}" \
        -o jsonpath='{.spec.ports[0].nodePort}')"
    [[ -z "${ingress_host}" ]] || url="http://${ingress_host}:30080  (or ${url})"
elif [[ -n "${ingress_host}" ]]; then
    url="http://${ingress_host}"
elif [[ "${service_type}" == NodePort ]]; then
    node_port="$(kubectl get service "${RELEASE}-api" --namespace "${NAMESPACE}" \
        -o jsonpath='{.spec.ports[0].nodePort}')"
    case "${flavour}" in
        docker-desktop | rancher-desktop) url="http://localhost:${node_port}" ;;
        *)
            node_ip="$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')"
            url="http://${node_ip}:${node_port}"
            ;;
    esac
else
    url="${port_forward}"
fi
admin_email="$(kubectl get deployment "${RELEASE}-api" --namespace "${NAMESPACE}" \
    -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="STOREFLEET_ADMIN_EMAIL")].value}')"
admin_password="$(kubectl get secret "${RELEASE}" --namespace "${NAMESPACE}" \
    -o jsonpath='{.data.admin-password}' | base64 --decode)"

cat <<EOF

  StoreFleet is running on ${context}.
  Dashboard:  ${url}
  Sign in as: ${admin_email}
  Password:   ${admin_password}
EOF
if [[ "${flavour}" != docker-desktop && "${flavour}" != rancher-desktop && "${flavour}" != testenv && "${service_type}" == NodePort ]]; then
    echo "  (node ports of ${flavour} may not reach this machine; if not: ${port_forward})"
fi
echo "  The password stays in Secret ${NAMESPACE}/${RELEASE} (key admin-password)."
