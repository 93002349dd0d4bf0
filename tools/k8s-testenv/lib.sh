# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the scripts that source it
# Shared settings for build.sh, up.sh and down.sh; sourced, never run.
# Paths are derived from this file's location so the scripts work from any cwd.
TESTENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${TESTENV_DIR}/../.." && pwd)"
# shellcheck source=versions.env
source "${TESTENV_DIR}/versions.env"

K8S_CACHE="${STOREFLEET_K8S_CACHE:-${HOME}/.cache/storefleet/k8s}"
K8S_BIN="${K8S_CACHE}/${KUBERNETES_VERSION}/bin"
# Runtime state (data, logs, pids, certs, kubeconfig) lives in the git-ignored var/.
K8S_VAR="${STOREFLEET_K8S_VAR:-${REPO_ROOT}/var/k8s}"

K8S_APISERVER_PORT="${STOREFLEET_K8S_APISERVER_PORT:-6443}"
K8S_ETCD_PORT="${STOREFLEET_K8S_ETCD_PORT:-12379}"
K8S_ETCD_PEER_PORT="${STOREFLEET_K8S_ETCD_PEER_PORT:-12380}"
K8S_KCM_PORT="${STOREFLEET_K8S_KCM_PORT:-10257}"
K8S_SCHEDULER_PORT="${STOREFLEET_K8S_SCHEDULER_PORT:-10259}"
K8S_KWOK_PORT="${STOREFLEET_K8S_KWOK_PORT:-10247}"
# shellcheck source=registry.env
source "${TESTENV_DIR}/registry.env"

# component name -> binaries it provides; its stamp records the version it was built at.
component_version() {
    case "$1" in
        kubernetes) echo "${KUBERNETES_VERSION}" ;;
        etcd) echo "${ETCD_VERSION}" ;;
        kwok) echo "${KWOK_VERSION}" ;;
        helm) echo "${HELM_VERSION}" ;;
        node) echo "${KUBERNETES_VERSION}" ;;
        addons) echo "coredns-${COREDNS_VERSION}+local-path-${LOCAL_PATH_PROVISIONER_VERSION}+kube-router-${KUBE_ROUTER_VERSION}" ;;
        traefik) echo "${TRAEFIK_VERSION}" ;;
        *) return 1 ;;
    esac
}
component_binaries() {
    case "$1" in
        kubernetes) echo "kube-apiserver kube-controller-manager kube-scheduler kubectl" ;;
        etcd) echo "etcd etcdctl" ;;
        kwok) echo "kwok" ;;
        helm) echo "helm" ;;
        node) echo "kubelet kube-proxy" ;;
        addons) echo "coredns kube-router local-path-provisioner" ;;
        traefik) echo "traefik" ;;
        *) return 1 ;;
    esac
}
# The Go wrapper module (tools/k8s-testenv/<dir>) a component is built from.
component_module() {
    case "$1" in
        node) echo kubernetes ;;
        *) echo "$1" ;;
    esac
}
# "node" is the real node's kubelet and kube-proxy (same module and flags as
# the control plane); "addons" are CoreDNS, the volume provisioner and the
# NetworkPolicy enforcer that run beside it (docs/k8s-testenv.md); "traefik"
# is the node's ingress controller (a pod, like CoreDNS).
COMPONENTS="etcd kubernetes node addons traefik kwok helm"

component_stamp_text() { echo "$1 $(component_version "$1") recipe ${TESTENV_RECIPE}"; }

# True when every binary of the component exists and its stamp matches versions.env.
component_built() {
    local c="$1" b
    for b in $(component_binaries "${c}"); do
        [[ -x "${K8S_BIN}/${b}" ]] || return 1
    done
    [[ -f "${K8S_BIN}/.${c}.stamp" ]] && [[ "$(cat "${K8S_BIN}/.${c}.stamp")" == "$(component_stamp_text "${c}")" ]]
}

log() { printf '[k8s-testenv] %s\n' "$*" >&2; }

# --- the real node (node-up.sh, node-down.sh) --------------------------------
NODE_NAME="${STOREFLEET_K8S_NODE_NAME:-storefleet-node}"
# The node's own bridge and pod network; its address is the node's InternalIP
# (the API server reaches the kubelet there) and where CoreDNS listens.
NODE_BRIDGE="${STOREFLEET_K8S_BRIDGE:-sfbr0}"
NODE_POD_CIDR="${STOREFLEET_K8S_POD_CIDR:-10.244.0.0/24}"
NODE_IP="${NODE_POD_CIDR%.*}.1"
NODE_PREFIX="${NODE_POD_CIDR#*/}"
SERVICE_CIDR=10.96.0.0/16
CLUSTER_DNS_IP=10.96.0.10
# kwok's simulated pods get addresses from a range of their own, so that
# Services never mix a simulated pod's address with a real one.
KWOK_POD_CIDR=10.245.0.0/16
# Simulated nodes carry this taint: only workloads that tolerate it (scale
# tests) land there; everything else runs on the real node.
KWOK_TAINT_KEY=storefleet.dev/simulated
K8S_KUBELET_PORT="${STOREFLEET_K8S_KUBELET_PORT:-10250}"
K8S_KUBELET_HEALTHZ_PORT="${STOREFLEET_K8S_KUBELET_HEALTHZ_PORT:-10248}"
K8S_PROXY_HEALTHZ_PORT="${STOREFLEET_K8S_PROXY_HEALTHZ_PORT:-10256}"
K8S_PROXY_METRICS_PORT="${STOREFLEET_K8S_PROXY_METRICS_PORT:-10249}"
# The ingress controller's node ports (127.0.0.1): stores are
# http://<name>.localhost:30080/ (the platform's values-local.yaml says so).
INGRESS_HTTP_PORT="${STOREFLEET_K8S_INGRESS_HTTP_PORT:-30080}"
INGRESS_HTTPS_PORT="${STOREFLEET_K8S_INGRESS_HTTPS_PORT:-30443}"
CONTAINERD_DIR="${K8S_VAR}/containerd"
CONTAINERD_SOCK="${CONTAINERD_DIR}/containerd.sock"
# containerd's root (content store, image snapshots, metadata) outlives the
# environment, so that an up does not import every image again; down.sh
# removes every container from it. Its state (sockets, mounts, network
# namespaces) lives under var/k8s and goes with it.
CONTAINERD_ROOT="${STOREFLEET_K8S_CONTAINERD_ROOT:-${REPO_ROOT}/var/k8s-containerd}"
# Our chains: in mangle FORWARD, keeps pod traffic on this machine; in filter
# INPUT, keeps the API server's port and the pod network's addresses off
# every interface but loopback and the node's bridge.
GUARD_CHAIN=STOREFLEET-NODE-GUARD
GUARD_INPUT_CHAIN=STOREFLEET-NODE-INPUT
IMAGES_INDEX="${REPO_ROOT}/var/images/index"

# The registry runs when its recorded pid is a docker-registry serving our config.
registry_pid() {
    local pid exe
    pid="$(cat "${REGISTRY_DIR}/run/registry.pid" 2>/dev/null)" || return 1
    exe="$(readlink "/proc/${pid}/exe" 2>/dev/null)" || return 1
    [[ "${exe##*/}" == docker-registry ]] || return 1
    tr '\0' '\n' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qxF "${REGISTRY_DIR}/run/config.yml" || return 1
    echo "${pid}"
}
registry_answers() { curl -fsS --max-time 2 -o /dev/null "http://${TEST_REGISTRY}/v2/" 2>/dev/null; }

ctr_node() { ctr --address "${CONTAINERD_SOCK}" --namespace k8s.io "$@"; }
containerd_running() { [[ -S "${CONTAINERD_SOCK}" ]] && ctr --address "${CONTAINERD_SOCK}" version >/dev/null 2>&1; }
