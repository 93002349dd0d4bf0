#!/usr/bin/env bash
# Builds the test environment's binaries from the Go module proxy into the cache
# (outside the repository). Only components that are missing or whose stamp
# does not match versions.env are built, so a second run costs a few stat calls.
#   build.sh            build what is missing
#   build.sh --check    exit 0 if everything is built, 1 otherwise (builds nothing)
#   build.sh --print-bin  print the directory that holds (or will hold) the binaries
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ "${1:-}" == "--print-bin" ]]; then
    echo "${K8S_BIN}"
    exit 0
fi

missing=()
for c in ${COMPONENTS}; do
    component_built "${c}" || missing+=("${c}")
done
if [[ "${1:-}" == "--check" ]]; then
    if ((${#missing[@]})); then
        log "not built in ${K8S_BIN}: ${missing[*]}"
        exit 1
    fi
    exit 0
fi
if ((${#missing[@]} == 0)); then
    log "all binaries present in ${K8S_BIN}"
    exit 0
fi
if ! command -v go >/dev/null 2>&1; then
    log "go is not installed; cannot build: ${missing[*]}"
    exit 1
fi

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false"
jobs="${STOREFLEET_K8S_BUILD_JOBS:-$(nproc)}"
mkdir -p "${K8S_BIN}"

# Kubernetes reports its version from these variables; unset, it would claim
# v0.0.0-master, and Helm charts with a kubeVersion constraint would refuse it.
k8s_version_ldflags() {
    local v="${KUBERNETES_VERSION#v}" pkg minor
    minor="$(cut -d. -f2 <<<"${v}")"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean -X %s.buildDate=1970-01-01T00:00:00Z ' \
            "${pkg}" "${KUBERNETES_VERSION}" "${pkg}" "${pkg}" "${minor}" "${pkg}" "${pkg}"
    done
}

build_component() {
    local c="$1" ldflags="-s -w" pkgs=() out
    case "${c}" in
        kubernetes)
            ldflags+=" $(k8s_version_ldflags)"
            pkgs=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
                k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl) ;;
        etcd) pkgs=(go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3) ;;
        kwok)
            ldflags+=" -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}"
            pkgs=(sigs.k8s.io/kwok/cmd/kwok) ;;
        helm)
            ldflags+=" -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
            pkgs=(helm.sh/helm/v3/cmd/helm) ;;
    esac
    out="$(mktemp -d "${K8S_BIN}/.build-${c}.XXXXXX")"
    log "building ${c} $(component_version "${c}") (${pkgs[*]})"
    local start=${SECONDS} pkg name
    for pkg in "${pkgs[@]}"; do
        case "${pkg}" in
            go.etcd.io/etcd/server/v3) name=etcd ;;
            go.etcd.io/etcd/etcdctl/v3) name=etcdctl ;;
            *) name="${pkg##*/}" ;;
        esac
        (cd "${TESTENV_DIR}/${c}" && go build -p "${jobs}" -trimpath -ldflags="${ldflags}" -o "${out}/${name}" "${pkg}")
    done
    for name in $(component_binaries "${c}"); do
        mv -f "${out}/${name}" "${K8S_BIN}/${name}"
    done
    rmdir "${out}"
    component_stamp_text "${c}" >"${K8S_BIN}/.${c}.stamp"
    log "built ${c} in $((SECONDS - start)) s"
}

total_start=${SECONDS}
for c in "${missing[@]}"; do
    build_component "${c}"
done
log "build finished in $((SECONDS - total_start)) s; cache: ${K8S_BIN}"
