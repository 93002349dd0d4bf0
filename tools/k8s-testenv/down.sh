#!/usr/bin/env bash
# Stops every process that up.sh started (by its recorded pid, and only if
# that pid still runs one of our binaries) and the test registry, and removes
# var/k8s (the registry's data in var/registry stays).
#   down.sh               stop and remove all state
#   down.sh --keep-logs   stop, remove state but keep var/k8s/logs (used by up.sh on failure)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDS="${K8S_VAR}/pids"
keep_logs=false
[[ "${1:-}" == "--keep-logs" ]] && keep_logs=true

# True when pid is alive, runs the named binary and was started for this
# state directory (every command line names a path under it). This guards
# against a recycled pid, and still finds the processes when the binary cache
# moved (STOREFLEET_K8S_CACHE) between up and down.
is_ours() { # pid name
    local exe
    exe="$(readlink "/proc/$1/exe" 2>/dev/null)" || return 1
    [[ "${exe##*/}" == "$2" ]] || return 1
    tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "${K8S_VAR}/"
}

# The real node first: it needs the API server gone last, and leaves things
# outside var/k8s (bridge, chains, mounts) that only it knows how to remove.
node_clean=true
"${TESTENV_DIR}/node-down.sh" || node_clean=false

stopped=0
# Reverse start order: clients first, etcd last, so nothing logs a storm of
# connection errors while stopping.
for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    f="${PIDS}/${name}.pid"
    [[ -f "${f}" ]] || continue
    pid="$(cat "${f}")"
    if is_ours "${pid}" "${name}"; then
        kill -TERM "${pid}" 2>/dev/null || true
        for _ in $(seq 1 100); do
            is_ours "${pid}" "${name}" || break
            sleep 0.1
        done
        if is_ours "${pid}" "${name}"; then
            log "${name} (pid ${pid}) ignored SIGTERM for 10 s; killing it"
            kill -KILL "${pid}" 2>/dev/null || true
            sleep 0.2
        fi
        stopped=$((stopped + 1))
    fi
    rm -f "${f}"
done

if [[ -d "${K8S_VAR}" ]]; then
    if findmnt -rn -o TARGET | grep -qF "${K8S_VAR}/"; then
        log "mounts remain under ${K8S_VAR}; not deleting it"
        exit 1
    fi
    if ${keep_logs}; then
        find "${K8S_VAR}" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
    else
        rm -rf "${K8S_VAR}"
    fi
fi
log "stopped ${stopped} control-plane process(es); removed ${K8S_VAR}"
${node_clean} || { log "the node was not cleaned up completely (see above)"; exit 1; }
