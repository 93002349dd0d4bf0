#!/usr/bin/env bash
# Stops the test node (run by down.sh before the control plane) and removes
# what it made outside var/k8s: pod sandboxes and their network namespaces,
# veths, the bridge, kube-proxy's and kube-router's iptables chains and ipsets,
# our guard chain, the kubelet's cgroups; it stops the test registry (its data
# stays in var/registry) and restores net.ipv4.ip_forward.
# Mounts under var/k8s (container root filesystems, volumes, namespaces) are
# unmounted so that down.sh can delete the directory.
#   node-down.sh            stop and clean up
#   node-down.sh --check    print what is left (exit 1 if anything); stops nothing
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDS="${K8S_VAR}/pids"
NODE="${K8S_VAR}/node"

# What the node leaves on the machine, one line each; empty when clean.
leftovers() {
    local p
    for p in kubelet kube-proxy kube-router local-path-provisioner containerd containerd-shim-runc-v2; do
        pgrep -x "${p:0:15}" 2>/dev/null | while read -r pid; do
            tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF "${K8S_VAR}/" && echo "process ${p} ${pid}"
        done
    done
    pgrep -x docker-registry 2>/dev/null | while read -r pid; do
        tr '\0' '\n' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qxF "${REGISTRY_DIR}/run/config.yml" && echo "process docker-registry ${pid}"
    done
    findmnt -rn -o TARGET 2>/dev/null | grep -F "${K8S_VAR}/" | sed 's/^/mount /' || true
    ip -o link show "${NODE_BRIDGE}" 2>/dev/null | awk '{print "bridge " $2}' || true
    ip -o link show master "${NODE_BRIDGE}" 2>/dev/null | awk -F': ' '{print "veth " $2}' || true
    ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ {print "netns " $1}' || true
    find "${CONTAINERD_DIR}/state" -path '*netns*' -type f 2>/dev/null | sed 's/^/netns /' || true
    local t
    for t in filter nat mangle raw; do
        iptables -t "${t}" -S 2>/dev/null | awk -v t="${t}" '$1 == "-N" && $2 ~ /^(KUBE-|CNI-|STOREFLEET-)/ {print "chain " t " " $2}'
    done
    ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router)' | sed 's/^/ipset /' || true
    [[ -d /sys/fs/cgroup/memory/kubepods ]] && echo "cgroup kubepods"
    return 0
}

if [[ "${1:-}" == "--check" ]]; then
    left="$(leftovers)"
    [[ -z "${left}" ]] && exit 0
    echo "${left}"
    exit 1
fi

is_ours() { # pid name
    local exe
    exe="$(readlink "/proc/$1/exe" 2>/dev/null)" || return 1
    [[ "${exe##*/}" == "$2" ]] || return 1
    tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "${K8S_VAR}/"
}
stop() { # name [seconds]
    local name="$1" f="${PIDS}/$1.pid" pid
    [[ -f "${f}" ]] || return 0
    pid="$(cat "${f}")"
    if is_ours "${pid}" "${name}"; then
        kill -TERM "${pid}" 2>/dev/null || true
        for _ in $(seq 1 $((${2:-10} * 10))); do
            is_ours "${pid}" "${name}" || break
            sleep 0.1
        done
        if is_ours "${pid}" "${name}"; then
            log "${name} (pid ${pid}) ignored SIGTERM; killing it"
            kill -KILL "${pid}" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    rm -f "${f}"
}

# 1. No kubelet, so nothing restarts what follows.
stop kubelet
# 2. Every container and sandbox, while containerd still knows them; their
#    network namespaces are what CNI must release.
if containerd_running; then
    for id in $(ctr_node tasks list -q 2>/dev/null); do
        ctr_node tasks kill -s SIGKILL "${id}" >/dev/null 2>&1 || true
    done
    for id in $(ctr_node tasks list -q 2>/dev/null); do
        ctr_node tasks delete -f "${id}" >/dev/null 2>&1 || true
    done
    for id in $(ctr_node containers list -q 2>/dev/null); do
        ctr_node containers delete "${id}" >/dev/null 2>&1 || true
    done
fi
# 3. The add-ons, then containerd and any shim of ours it leaves.
for name in local-path-provisioner kube-router kube-proxy; do
    stop "${name}"
done
stop containerd 20
for pid in $(pgrep -x containerd-shim 2>/dev/null; pgrep -f '^/usr/bin/containerd-shim-runc-v2 ' 2>/dev/null); do
    tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF "${CONTAINERD_SOCK}" && kill -KILL "${pid}" 2>/dev/null || true
done
# The registry the node pulled from (its data stays in var/registry).
"${TESTENV_DIR}/registry.sh" stop
# Processes of our pods that outlived their shim (runc puts them in our cgroups).
for cg in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods; do
    [[ -d "${cg}" ]] || continue
    find "${cg}" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
done

# 4. Mounts under var/k8s, deepest first (volumes, rootfs, shm, netns).
for _ in 1 2 3; do
    mounts="$(findmnt -rn -o TARGET | grep -F "${K8S_VAR}/" | sort -r || true)"
    [[ -n "${mounts}" ]] || break
    while read -r m; do
        umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || true
    done <<<"${mounts}"
done

# The network namespaces' mount points (now plain files) go too.
find "${CONTAINERD_DIR}/state" -path '*netns*' -type f -delete 2>/dev/null || true

# 5. Network: veths on our bridge (their peers went with the namespaces), the
#    bridge, the chains of kube-proxy, kube-router and CNI, and our guard.
if ip link show "${NODE_BRIDGE}" >/dev/null 2>&1; then
    for v in $(ip -o link show master "${NODE_BRIDGE}" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
        ip link delete "${v}" 2>/dev/null || true
    done
    ip link delete "${NODE_BRIDGE}" 2>/dev/null || true
fi
if [[ -x "${K8S_BIN}/kube-proxy" ]]; then
    "${K8S_BIN}/kube-proxy" --cleanup >/dev/null 2>&1 || true
fi
if [[ -x "${K8S_BIN}/kube-router" ]]; then
    "${K8S_BIN}/kube-router" --cleanup-config >/dev/null 2>&1 || true
fi
# Whatever the tools' own clean-up missed: chains named by them (no other
# kube-proxy or kube-router runs on a test machine) and ours.
for t in filter nat mangle raw; do
    chains="$(iptables -t "${t}" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-|STOREFLEET-)/ {print $2}')"
    [[ -n "${chains}" ]] || continue
    # Rules that jump to them, in any chain, then the chains themselves.
    iptables -t "${t}" -S 2>/dev/null | grep -E -- '-j (KUBE-|CNI-|STOREFLEET-)' | grep -E '^-A ' | while read -r rule; do
        # iptables -S quotes comments as a shell would; xargs undoes it.
        printf '%s\n' "${rule/-A/-D}" | xargs iptables -t "${t}" 2>/dev/null || true
    done || true
    for c in ${chains}; do iptables -t "${t}" -F "${c}" 2>/dev/null || true; done
    for c in ${chains}; do iptables -t "${t}" -X "${c}" 2>/dev/null || true; done
done
for s in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router)' || true); do
    ipset destroy "${s}" 2>/dev/null || true
done
if [[ -f "${NODE}/ip_forward.before" ]]; then
    cat "${NODE}/ip_forward.before" >/proc/sys/net/ipv4/ip_forward
fi

# 6. The kubelet's cgroups (cgroupfs driver: /kubepods in every hierarchy).
for hierarchy in /sys/fs/cgroup/*/; do
    [[ -d "${hierarchy}kubepods" ]] || continue
    find "${hierarchy}kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null || true
done
left="$(leftovers)"
if [[ -n "${left}" ]]; then
    log "the node left behind:"
    printf '  %s\n' "${left}" >&2
    exit 1
fi
