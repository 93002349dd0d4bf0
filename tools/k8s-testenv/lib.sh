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

# component name -> binaries it provides; its stamp records the version it was built at.
component_version() {
    case "$1" in
        kubernetes) echo "${KUBERNETES_VERSION}" ;;
        etcd) echo "${ETCD_VERSION}" ;;
        kwok) echo "${KWOK_VERSION}" ;;
        helm) echo "${HELM_VERSION}" ;;
        *) return 1 ;;
    esac
}
component_binaries() {
    case "$1" in
        kubernetes) echo "kube-apiserver kube-controller-manager kube-scheduler kubectl" ;;
        etcd) echo "etcd etcdctl" ;;
        kwok) echo "kwok" ;;
        helm) echo "helm" ;;
        *) return 1 ;;
    esac
}
COMPONENTS="etcd kubernetes kwok helm"

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
