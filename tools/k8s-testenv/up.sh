#!/usr/bin/env bash
# Starts a real Kubernetes control plane on loopback, in the background:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, one real node
# (node-up.sh: containerd, kubelet, kube-proxy, CoreDNS, kube-router,
# local-path-provisioner) and kwok with simulated nodes for scale tests. State lives in var/k8s/ (see lib.sh); the admin kubeconfig
# is written to var/k8s/kubeconfig and kubectl/helm are linked in var/k8s/bin/.
# Idempotent: when the environment already answers, it does nothing.
# Stop it with down.sh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_COUNT="${STOREFLEET_K8S_NODES:-3}"
READY_TIMEOUT="${STOREFLEET_K8S_READY_TIMEOUT:-60}"
NODE_PORT_RANGE=30000-32767

PKI="${K8S_VAR}/pki"
PIDS="${K8S_VAR}/pids"
LOGS="${K8S_VAR}/logs"
KUBECONFIG_ADMIN="${K8S_VAR}/kubeconfig"
APISERVER_URL="https://127.0.0.1:${K8S_APISERVER_PORT}"

if ! "${TESTENV_DIR}/build.sh" --check; then
    log "binaries are missing; run 'make k8s-testenv' first"
    exit 1
fi

apiserver_ready() {
    [[ -f "${PKI}/admin.crt" ]] &&
        curl -fsS --max-time 2 --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" \
            "${APISERVER_URL}/readyz" >/dev/null 2>&1
}

any_pid_alive() {
    local f
    for f in "${PIDS}"/*.pid; do
        [[ -e "${f}" ]] || continue
        kill -0 "$(cat "${f}")" 2>/dev/null && return 0
    done
    return 1
}

if any_pid_alive && apiserver_ready; then
    log "already up: ${KUBECONFIG_ADMIN}"
    exit 0
fi
# Another checkout's node (or a fresh-machine run's, in its own namespaces)
# would share the kubepods cgroups with this one: pods of both stay Pending or
# die. Refuse, naming it, rather than fail later in a test (and before
# down.sh below touches the cgroups they share).
for pid in $(pgrep -x kubelet 2>/dev/null); do
    cmd="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null || true)"
    ns="$(readlink "/proc/${pid}/ns/pid" 2>/dev/null || true)"
    if [[ -n "${cmd}" && ("${cmd}" != *"${K8S_VAR}/"* || "${ns}" != "$(readlink /proc/self/ns/pid)") ]]; then
        log "another Kubernetes node runs on this machine (kubelet pid ${pid}: ${cmd:0:160})"
        log "two nodes share the kubepods cgroups and break each other's pods: stop it first (make k8s-down in its checkout, or scripts/fresh-machine.sh clean)"
        exit 1
    fi
done
if [[ -d "${K8S_VAR}" ]]; then
    # A previous environment, half running or crashed: its node may have left
    # mounts, a bridge and chains; down.sh removes them before we start.
    log "stopping what is left of a previous environment first"
    "${TESTENV_DIR}/down.sh"
fi
[[ "$(id -u)" == 0 ]] || { log "the real node needs root (containerd, bridge, iptables)"; exit 1; }
# The node's images live on this disk and cannot be pulled again; near full,
# the kubelet deletes them and pods fail ("failed to get sandbox image").
mkdir -p "${K8S_VAR}"
free_mib=$(df -Pm "${K8S_VAR}" | awk 'NR == 2 {print $4}')
if (( free_mib < ${STOREFLEET_K8S_MIN_FREE_MIB:-3072} )); then
    log "only ${free_mib} MiB free on the disk of ${K8S_VAR}; the node and its images need 3 GiB (STOREFLEET_K8S_MIN_FREE_MIB)"
    exit 1
fi
"${REPO_ROOT}/tools/host-packages.sh" node

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "${K8S_ETCD_PORT}" "${K8S_ETCD_PEER_PORT}" "${K8S_APISERVER_PORT}" "${K8S_KCM_PORT}" \
    "${K8S_SCHEDULER_PORT}" "${K8S_KWOK_PORT}" "${K8S_KUBELET_HEALTHZ_PORT}" "${K8S_PROXY_HEALTHZ_PORT}" \
    "${K8S_PROXY_METRICS_PORT}"; do
    if port_in_use "${port}"; then
        log "port 127.0.0.1:${port} is already in use; set STOREFLEET_K8S_*_PORT (see tools/k8s-testenv/lib.sh)"
        exit 1
    fi
done

start=${SECONDS}
# Whatever fails from here on, leave no process behind (logs are kept for the reader).
trap 'rc=$?; if ((rc != 0)); then "${TESTENV_DIR}/down.sh" --keep-logs >/dev/null 2>&1 || true; fi' EXIT
rm -rf "${K8S_VAR}"
mkdir -p "${K8S_VAR}" && chmod 0700 "${K8S_VAR}"
mkdir -p "${PKI}" "${PIDS}" "${LOGS}" "${K8S_VAR}/bin"
mkdir -m 0700 "${K8S_VAR}/etcd"

# --- certificates --------------------------------------------------------
# One throw-away CA signs the serving certificate and one client certificate
# per identity. ECDSA P-256 keys keep generation instant. The admin is in
# system:masters, which also grants impersonation (tests use it to act as
# ServiceAccounts).
umask 077
openssl_quiet() { openssl "$@" 2>/dev/null; }
openssl_quiet ecparam -name prime256v1 -genkey -noout -out "${PKI}/ca.key"
openssl_quiet req -x509 -new -key "${PKI}/ca.key" -sha256 -days 365 -subj "/CN=storefleet-testenv-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "${PKI}/ca.crt"

issue_cert() { # name subject extended-key-usage [subjectAltName]
    local name="$1" subj="$2" eku="$3" san="${4:-}" ext
    ext="$(mktemp "${PKI}/ext.XXXXXX")"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=${eku}"
        [[ -n "${san}" ]] && echo "subjectAltName=${san}"
    } >"${ext}"
    openssl_quiet ecparam -name prime256v1 -genkey -noout -out "${PKI}/${name}.key"
    openssl_quiet req -new -key "${PKI}/${name}.key" -subj "${subj}" -out "${PKI}/${name}.csr"
    openssl_quiet x509 -req -in "${PKI}/${name}.csr" -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" -CAcreateserial \
        -days 365 -sha256 -extfile "${ext}" -out "${PKI}/${name}.crt"
    rm -f "${ext}" "${PKI}/${name}.csr"
}
issue_cert apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:10.96.0.1,IP:${NODE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue_cert admin "/O=system:masters/CN=storefleet-admin" clientAuth
issue_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
issue_cert scheduler "/CN=system:kube-scheduler" clientAuth
# kwok acts for every simulated kubelet (node status, leases, pod status);
# upstream grants it a cluster-wide role, here the masters group stands in.
issue_cert kwok "/O=system:masters/CN=kwok-controller" clientAuth
# The API server's identity towards the kubelet (logs, exec, port-forward).
issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
# Service-account tokens: kube-apiserver signs them, the controller manager
# mints them for its controllers.
openssl_quiet genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${PKI}/sa.key"
openssl_quiet pkey -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub"

write_kubeconfig() { # file identity
    local file="$1" id="$2"
    cat >"${file}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: storefleet-testenv
  cluster:
    server: ${APISERVER_URL}
    certificate-authority-data: $(base64 -w0 "${PKI}/ca.crt")
users:
- name: ${id}
  user:
    client-certificate-data: $(base64 -w0 "${PKI}/${id}.crt")
    client-key-data: $(base64 -w0 "${PKI}/${id}.key")
contexts:
- name: storefleet-testenv
  context:
    cluster: storefleet-testenv
    user: ${id}
current-context: storefleet-testenv
EOF
}
write_kubeconfig "${PKI}/controller-manager.kubeconfig" controller-manager
write_kubeconfig "${PKI}/scheduler.kubeconfig" scheduler
write_kubeconfig "${PKI}/kwok.kubeconfig" kwok
umask 022

# --- processes -----------------------------------------------------------
# Each runs in its own session so that a Ctrl-C in the caller's terminal does
# not reach it; down.sh stops them by the recorded pid.
launch() { # name binary args...
    local name="$1" bin="$2"
    shift 2
    setsid "${K8S_BIN}/${bin}" "$@" </dev/null >"${LOGS}/${name}.log" 2>&1 &
    echo $! >"${PIDS}/${name}.pid"
}

die_with_log() { # name message
    log "$2; last lines of ${LOGS}/$1.log:"
    tail -n 30 "${LOGS}/$1.log" >&2 || true
    exit 1 # the EXIT trap stops the rest
}

wait_for() { # name timeout-seconds command...
    local name="$1" deadline=$((SECONDS + $2))
    shift 2
    until "$@"; do
        kill -0 "$(cat "${PIDS}/${name}.pid")" 2>/dev/null || die_with_log "${name}" "${name} exited"
        ((SECONDS < deadline)) || die_with_log "${name}" "${name} not ready after ${READY_TIMEOUT} s"
        sleep 0.2
    done
}

etcd_url="http://127.0.0.1:${K8S_ETCD_PORT}"
# Data is thrown away on down, so fsync buys nothing and costs test time.
launch etcd etcd \
    --name=storefleet-testenv \
    --data-dir="${K8S_VAR}/etcd" \
    --listen-client-urls="${etcd_url}" --advertise-client-urls="${etcd_url}" \
    --listen-peer-urls="http://127.0.0.1:${K8S_ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls="http://127.0.0.1:${K8S_ETCD_PEER_PORT}" \
    --initial-cluster="storefleet-testenv=http://127.0.0.1:${K8S_ETCD_PEER_PORT}" \
    --unsafe-no-fsync=true \
    --log-level=warn

# Pods reach the API server (Service "kubernetes", for in-cluster clients such
# as CoreDNS and the platform's worker) at the node's bridge address, so it
# listens on every address; the guard chain below accepts its port only on
# loopback and on the node's bridge. Clients on this machine use 127.0.0.1.
iptables -N "${GUARD_INPUT_CHAIN}" 2>/dev/null || iptables -F "${GUARD_INPUT_CHAIN}"
iptables -A "${GUARD_INPUT_CHAIN}" -i lo -j RETURN
iptables -A "${GUARD_INPUT_CHAIN}" -i "${NODE_BRIDGE}" -j RETURN
iptables -A "${GUARD_INPUT_CHAIN}" -p tcp --dport "${K8S_APISERVER_PORT}" -j DROP
iptables -A "${GUARD_INPUT_CHAIN}" -d "${NODE_POD_CIDR}" -j DROP
iptables -C INPUT -j "${GUARD_INPUT_CHAIN}" 2>/dev/null || iptables -I INPUT 1 -j "${GUARD_INPUT_CHAIN}"

# The API server retries etcd on its own, so it starts without waiting.
launch kube-apiserver kube-apiserver \
    --bind-address=0.0.0.0 --advertise-address="${NODE_IP}" --secure-port="${K8S_APISERVER_PORT}" \
    --etcd-servers="${etcd_url}" \
    --tls-cert-file="${PKI}/apiserver.crt" --tls-private-key-file="${PKI}/apiserver.key" \
    --client-ca-file="${PKI}/ca.crt" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota,PodSecurity \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="${PKI}/sa.pub" --service-account-signing-key-file="${PKI}/sa.key" \
    --service-cluster-ip-range="${SERVICE_CIDR}" --service-node-port-range="${NODE_PORT_RANGE}" \
    --kubelet-client-certificate="${PKI}/apiserver-kubelet-client.crt" \
    --kubelet-client-key="${PKI}/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --allow-privileged=true \
    --profiling=false

etcd_healthy() { curl -fsS --max-time 1 "${etcd_url}/health" -o /dev/null 2>/dev/null; }
wait_for etcd "${READY_TIMEOUT}" etcd_healthy
wait_for kube-apiserver "${READY_TIMEOUT}" apiserver_ready
write_kubeconfig "${KUBECONFIG_ADMIN}" admin
chmod 0600 "${KUBECONFIG_ADMIN}"
ln -sf "${K8S_BIN}/kubectl" "${K8S_VAR}/bin/kubectl"
ln -sf "${K8S_BIN}/helm" "${K8S_VAR}/bin/helm"
log "kube-apiserver ready after $((SECONDS - start)) s"

launch kube-controller-manager kube-controller-manager \
    --kubeconfig="${PKI}/controller-manager.kubeconfig" \
    --authentication-kubeconfig="${PKI}/controller-manager.kubeconfig" \
    --authorization-kubeconfig="${PKI}/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="${K8S_KCM_PORT}" --cert-dir="${K8S_VAR}/kube-controller-manager" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="${PKI}/sa.key" --root-ca-file="${PKI}/ca.crt" \
    --cluster-signing-cert-file="${PKI}/ca.crt" --cluster-signing-key-file="${PKI}/ca.key" \
    --service-cluster-ip-range="${SERVICE_CIDR}" \
    --profiling=false

launch kube-scheduler kube-scheduler \
    --kubeconfig="${PKI}/scheduler.kubeconfig" \
    --authentication-kubeconfig="${PKI}/scheduler.kubeconfig" \
    --authorization-kubeconfig="${PKI}/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="${K8S_SCHEDULER_PORT}" \
    --leader-elect=false \
    --profiling=false

# kwok manages only nodes annotated as fake, so pointing the same tooling at a
# cluster with real nodes never touches them.
launch kwok kwok \
    --config="${TESTENV_DIR}/kwok/stages.yaml" \
    --kubeconfig="${PKI}/kwok.kubeconfig" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 \
    --cidr="${KWOK_POD_CIDR}" \
    --node-ip=10.0.0.1 \
    --server-address="127.0.0.1:${K8S_KWOK_PORT}"

kubectl_admin() { "${K8S_BIN}/kubectl" --kubeconfig "${KUBECONFIG_ADMIN}" "$@"; }

# The simulated nodes: the Node objects a kubelet would register.
nodes_manifest="$(mktemp)"
for i in $(seq 1 "${NODE_COUNT}"); do
    cat >>"${nodes_manifest}" <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-${i}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: zone-${i}
spec:
  # Scale tests only: a pod lands here only if it tolerates this taint.
  taints:
    - {key: ${KWOK_TAINT_KEY}, value: "true", effect: NoSchedule}
EOF
done
kubectl_admin create -f "${nodes_manifest}" >/dev/null
rm -f "${nodes_manifest}"

nodes_ready() {
    [[ "$(kubectl_admin get nodes -l type=kwok \
        -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
        grep -c '^True$')" -eq "${NODE_COUNT}" ]]
}
# Pods need the namespace's default ServiceAccount, which the controller
# manager creates; seeing it in "default" proves the controllers are running.
default_sa_exists() { kubectl_admin get serviceaccount default -n default >/dev/null 2>&1; }
scheduler_healthy() {
    curl -fsSk --max-time 1 "https://127.0.0.1:${K8S_SCHEDULER_PORT}/healthz" -o /dev/null
}
wait_for kwok "${READY_TIMEOUT}" nodes_ready
# Simulated nodes have room for ephemeral storage too (kwok keeps the
# allocatable it finds), so that pods requesting it schedule there as on a
# real node.
for i in $(seq 1 "${NODE_COUNT}"); do
    kubectl_admin patch node "kwok-node-${i}" --subresource=status --type=merge \
        -p '{"status":{"capacity":{"ephemeral-storage":"1Ti"},"allocatable":{"ephemeral-storage":"1Ti"}}}' >/dev/null
done
wait_for kube-controller-manager "${READY_TIMEOUT}" default_sa_exists
wait_for kube-scheduler "${READY_TIMEOUT}" scheduler_healthy
log "control plane and ${NODE_COUNT} simulated nodes ready after $((SECONDS - start)) s"

# shellcheck source=node-up.sh
source "${TESTENV_DIR}/node-up.sh"

log "ready in $((SECONDS - start)) s: node ${NODE_NAME} and ${NODE_COUNT} simulated nodes"
log "  export KUBECONFIG=${KUBECONFIG_ADMIN}; PATH=${K8S_VAR}/bin:\$PATH"
