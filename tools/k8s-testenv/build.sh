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

# The packages of a component, each as "<package>=<binary name>".
component_packages() {
    case "$1" in
        kubernetes) printf 'k8s.io/kubernetes/cmd/%s\n' kube-apiserver kube-controller-manager kube-scheduler kubectl ;;
        node) printf 'k8s.io/kubernetes/cmd/%s\n' kubelet kube-proxy ;;
        etcd) printf '%s\n' go.etcd.io/etcd/server/v3=etcd go.etcd.io/etcd/etcdctl/v3=etcdctl ;;
        kwok) echo sigs.k8s.io/kwok/cmd/kwok ;;
        helm) echo helm.sh/helm/v3/cmd/helm ;;
        # local-path-provisioner imports github.com/Sirupsen/logrus, kube-router
        # the lower-case path: one `go build` of both refuses the case
        # collision, so the provisioner is a build of its own (";" below).
        addons) printf '%s\n' ./coredns=coredns github.com/cloudnativelabs/kube-router/v2/cmd/kube-router ";" \
            github.com/rancher/local-path-provisioner=local-path-provisioner ;;
    esac
}

component_ldflags() {
    case "$1" in
        kubernetes | node) k8s_version_ldflags ;;
        kwok) echo "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}" ;;
        helm) echo "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean" ;;
        addons) echo "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=${KUBE_ROUTER_VERSION} -X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=1970-01-01T00:00:00Z -X main.VERSION=${LOCAL_PATH_PROVISIONER_VERSION}" ;;
    esac
}

# Builds components that share a wrapper module in as few `go build`
# invocations as possible (all of a module's main packages at once, so the
# compiler works on every shared package once and in parallel).
build_group() { # component...
    local comps=("$@") module ldflags="-s -w" out pkgs=() line pkg name start=${SECONDS}
    module="$(component_module "${comps[0]}")"
    ldflags+=" $(component_ldflags "${comps[0]}")"
    out="$(mktemp -d "${K8S_BIN}/.build-${module}.XXXXXX")"
    log "building ${comps[*]} (module ${module})"
    go_build() {
        ((${#pkgs[@]})) || return 0
        (cd "${TESTENV_DIR}/${module}" && go build -p "${jobs}" -trimpath -ldflags="${ldflags}" -o "${out}/" "${pkgs[@]}")
        pkgs=()
    }
    local c
    for c in "${comps[@]}"; do
        while read -r line; do
            if [[ "${line}" == ";" ]]; then
                go_build
                continue
            fi
            pkg="${line%%=*}"
            pkgs+=("${pkg}")
        done < <(component_packages "${c}")
    done
    go_build
    # `go build -o dir/` names a binary after its package's last element;
    # rename the ones whose name differs (etcd/server/v3 -> etcd ...).
    for c in "${comps[@]}"; do
        while read -r line; do
            [[ "${line}" == *=* ]] || continue
            pkg="${line%%=*}" name="${line#*=}"
            # go build's name: the last path element, or the one before a /vN.
            if [[ "${pkg##*/}" =~ ^v[0-9]+$ ]]; then pkg="${pkg%/*}"; fi
            pkg="${pkg##*/}"
            [[ "${pkg}" == "${name}" ]] || mv -f "${out}/${pkg}" "${out}/${name}"
        done < <(component_packages "${c}")
    done
    for c in "${comps[@]}"; do
        for name in $(component_binaries "${c}"); do
            mv -f "${out}/${name}" "${K8S_BIN}/${name}"
        done
        component_stamp_text "${c}" >"${K8S_BIN}/.${c}.stamp"
    done
    rmdir "${out}"
    log "built ${comps[*]} in $((SECONDS - start)) s"
}

total_start=${SECONDS}
# Group the missing components by wrapper module (kubernetes + node share one).
declare -A groups=()
order=()
for c in "${missing[@]}"; do
    m="$(component_module "${c}")"
    [[ -n "${groups[${m}]:-}" ]] || order+=("${m}")
    groups[${m}]+="${c} "
done
for m in "${order[@]}"; do
    # shellcheck disable=SC2086  # a list of component names
    build_group ${groups[${m}]}
done
log "build finished in $((SECONDS - total_start)) s; cache: ${K8S_BIN}"
