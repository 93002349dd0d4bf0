#!/usr/bin/env bash
# Starts the test cluster's real node; run by up.sh once the API server answers
# and its PKI exists (never on its own). Every process runs on this machine,
# with its state under var/k8s:
#   the test registry (registry.sh: Debian's docker-registry on 127.0.0.1),
#   which containerd pulls every image from (hosts.toml)
#   containerd (Debian's, own config/root/state/socket) + runc
#   CNI: Debian's bridge + host-local + portmap on bridge sfbr0 (10.244.0.0/24)
#   kubelet, kube-proxy (iptables mode, NodePorts on 127.0.0.0/8 only)
#   kube-router in firewall-only mode (NetworkPolicy), local-path-provisioner:
#   host processes with a kubeconfig (node-level agents; no image to build)
#   CoreDNS: a Deployment in kube-system behind Service kube-dns (10.96.0.10),
#   labelled k8s-app=kube-dns so that NetworkPolicies admit DNS as on any
#   cluster (docs/k8s-testenv.md).
#   Traefik: the ingress controller, a Deployment in kube-system as on k3s,
#   on node ports 127.0.0.1:30080 (http) and :30443 (https).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# From up.sh: launch, wait_for, die_with_log, issue_cert, write_kubeconfig,
# kubectl_admin, PKI, PIDS, LOGS, READY_TIMEOUT.

NODE="${K8S_VAR}/node"
mkdir -p "${NODE}" "${CONTAINERD_DIR}" "${K8S_VAR}/cni/net.d" "${K8S_VAR}/kubelet" "${K8S_VAR}/local-path"
chmod 0700 "${K8S_VAR}/kubelet"

# --- identities ---------------------------------------------------------------
umask 077
# The kubelet as the Node authorizer and NodeRestriction expect it.
issue_cert kubelet-client "/O=system:nodes/CN=system:node:${NODE_NAME}" clientAuth
issue_cert kubelet-serving "/O=system:nodes/CN=system:node:${NODE_NAME}" serverAuth "IP:${NODE_IP},DNS:${NODE_NAME}"
# kube-proxy: the built-in system:node-proxier binding names this user.
issue_cert kube-proxy "/CN=system:kube-proxy" clientAuth
# The add-ons act cluster-wide (DNS reads every Service, the enforcer every
# policy and pod, the provisioner creates volumes and helper pods); as with
# kwok, the masters group stands in for their upstream ClusterRoles.
issue_cert node-addons "/O=system:masters/CN=storefleet-node-addons" clientAuth
write_kubeconfig "${PKI}/kubelet.kubeconfig" kubelet-client
write_kubeconfig "${PKI}/kube-proxy.kubeconfig" kube-proxy
write_kubeconfig "${PKI}/node-addons.kubeconfig" node-addons
umask 022

# --- the node's network -------------------------------------------------------
# The bridge exists before anything binds to its address; the CNI bridge
# plugin adopts it. Forwarding is needed for pod -> Service -> pod (routed
# through the host); our mangle chain drops anything that would cross between
# the bridge and any other interface, so nothing leaves the machine.
if ! ip link show "${NODE_BRIDGE}" >/dev/null 2>&1; then
    ip link add "${NODE_BRIDGE}" type bridge
fi
ip addr replace "${NODE_IP}/${NODE_PREFIX}" dev "${NODE_BRIDGE}"
ip link set "${NODE_BRIDGE}" up
[[ -f "${NODE}/ip_forward.before" ]] || cat /proc/sys/net/ipv4/ip_forward >"${NODE}/ip_forward.before"
iptables -t mangle -N "${GUARD_CHAIN}" 2>/dev/null || iptables -t mangle -F "${GUARD_CHAIN}"
iptables -t mangle -A "${GUARD_CHAIN}" -i "${NODE_BRIDGE}" -o "${NODE_BRIDGE}" -j RETURN
iptables -t mangle -A "${GUARD_CHAIN}" -i "${NODE_BRIDGE}" -j DROP
iptables -t mangle -A "${GUARD_CHAIN}" -o "${NODE_BRIDGE}" -j DROP
iptables -t mangle -C FORWARD -j "${GUARD_CHAIN}" 2>/dev/null || iptables -t mangle -I FORWARD 1 -j "${GUARD_CHAIN}"
echo 1 >/proc/sys/net/ipv4/ip_forward

cat >"${K8S_VAR}/cni/net.d/10-storefleet.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "storefleet",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${NODE_BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "${K8S_VAR}/cni/ipam",
        "ranges": [[{"subnet": "${NODE_POD_CIDR}", "gateway": "${NODE_IP}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

# --- the registry ------------------------------------------------------------------
# The node pulls every image from it, as a node pulls from any registry; what
# make images has pushed already is not pushed again (a warm up pushes nothing).
"${TESTENV_DIR}/registry.sh" start
"${REPO_ROOT}/images/push.sh"
"${REPO_ROOT}/scripts/publish-charts.sh"

# --- containerd -----------------------------------------------------------------
pause_image="$(awk '$1 == "pause" {print $2}' "${IMAGES_INDEX}" 2>/dev/null || true)"
[[ -n "${pause_image}" ]] || die_with_log kube-apiserver "no pause image: run 'make images' first"
# The test registry as containerd's CRI sees it: plain HTTP on loopback, said
# explicitly (hosts.toml), pull and resolve only.
mkdir -p "${CONTAINERD_DIR}/certs.d/${TEST_REGISTRY}"
cat >"${CONTAINERD_DIR}/certs.d/${TEST_REGISTRY}/hosts.toml" <<EOF
server = "http://${TEST_REGISTRY}"

[host."http://${TEST_REGISTRY}"]
  capabilities = ["pull", "resolve"]
EOF
cat >"${CONTAINERD_DIR}/config.toml" <<EOF
# The test node's containerd (Debian's 1.6). Its own root (var/k8s-containerd,
# kept between runs for the images), state and socket (var/k8s), so the
# system's containerd (if any) is untouched.
version = 2
root = "${CONTAINERD_ROOT}"
state = "${CONTAINERD_DIR}/state"
oom_score = 0
[grpc]
  address = "${CONTAINERD_SOCK}"
[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = "${CONTAINERD_DIR}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  # registry.k8s.io is out of reach: the sandbox image is built here and,
  # like every other image, pulled from the test registry.
  sandbox_image = "${pause_image}"
  # This machine lacks CAP_SYS_RESOURCE: a negative oom_score_adj (the
  # kubelet gives sandboxes -998) is refused and runc fails to start them.
  restrict_oom_score_adj = true
  # Network namespaces under our state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".registry]
    # One directory per registry host with its hosts.toml (the test registry's above).
    config_path = "${CONTAINERD_DIR}/certs.d"
  [plugins."io.containerd.grpc.v1.cri".cni]
    # Debian's containernetworking-plugins
    bin_dir = "/usr/lib/cni"
    conf_dir = "${K8S_VAR}/cni/net.d"
    max_conf_num = 1
EOF
launch_abs() { # name binary args... (a system binary, not one of the cache)
    local name="$1" bin="$2"
    shift 2
    setsid "${bin}" "$@" </dev/null >"${LOGS}/${name}.log" 2>&1 &
    echo $! >"${PIDS}/${name}.pid"
}
launch_abs containerd "$(command -v containerd)" --config "${CONTAINERD_DIR}/config.toml"
wait_for containerd "${READY_TIMEOUT}" containerd_running
# What it pulled under a tag that has moved since (containerd's root is kept).
"${TESTENV_DIR}/node-images.sh"

# --- kubelet ------------------------------------------------------------------
cat >"${NODE}/resolv.conf" <<EOF
# Pods get the cluster DNS from the kubelet; nothing outside resolves here.
nameserver ${CLUSTER_DNS_IP}
EOF
cat >"${NODE}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: ${K8S_KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${K8S_KUBELET_HEALTHZ_PORT}
tlsCertFile: ${PKI}/kubelet-serving.crt
tlsPrivateKeyFile: ${PKI}/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${PKI}/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
imageServiceEndpoint: unix://${CONTAINERD_SOCK}
# This machine: cgroup v1 without systemd as init, swap allowed. Local
# ephemeral storage is accounted (the node reports its capacity, so pods
# that request ephemeral-storage, as the stores' quota requires, schedule).
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
localStorageCapacityIsolation: true
clusterDomain: cluster.local
clusterDNS: [${CLUSTER_DNS_IP}]
resolvConf: ${NODE}/resolv.conf
# No image garbage collection (a test run would pull again what it deleted),
# and no evicting pods because the shared disk of a build machine runs fuller
# than a node's would. Below an eviction threshold the eviction manager deletes
# every unused image, whatever the GC percentages say: absolute thresholds,
# not 1% (2.5 GB of a 252 GB disk, which a build of the images beside the
# node crossed; the images come back from the registry, but slowly).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "256Mi", imagefs.available: "256Mi", nodefs.inodesFree: "1%"}
serializeImagePulls: false
maxPods: 110
volumePluginDir: ${K8S_VAR}/kubelet/volume-plugins
EOF
launch kubelet kubelet \
    --config="${NODE}/kubelet.yaml" \
    --kubeconfig="${PKI}/kubelet.kubeconfig" \
    --root-dir="${K8S_VAR}/kubelet" \
    --cert-dir="${K8S_VAR}/kubelet/pki" \
    --hostname-override="${NODE_NAME}" \
    --node-ip="${NODE_IP}" \
    --node-labels="storefleet.dev/node=real"

# --- kube-proxy -----------------------------------------------------------------
cat >"${NODE}/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${PKI}/kube-proxy.kubeconfig
hostnameOverride: ${NODE_NAME}
mode: iptables
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:${K8S_PROXY_HEALTHZ_PORT}
metricsBindAddress: 127.0.0.1:${K8S_PROXY_METRICS_PORT}
# NodePorts answer on loopback only (kube-proxy sets route_localnet for it).
nodePortAddresses: ["127.0.0.0/8"]
clusterCIDR: ${NODE_POD_CIDR}
# Leave the machine's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
launch kube-proxy kube-proxy --config="${NODE}/kube-proxy.yaml"

# --- cluster objects the add-ons serve ---------------------------------------------
coredns_image="$(awk '$1 == "coredns" {print $2}' "${IMAGES_INDEX}" 2>/dev/null || true)"
[[ -n "${coredns_image}" ]] || die_with_log kube-apiserver "no coredns image: run 'make images' first"
kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
  - {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  # Cluster names only: nothing outside resolves, so nothing leaves the machine.
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
        }
        cache 30
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: 1
  selector:
    matchLabels: {k8s-app: kube-dns}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile: {type: RuntimeDefault}
        # Port 53 without a capability.
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "0"}]
      containers:
        - name: coredns
          image: ${coredns_image}
          imagePullPolicy: IfNotPresent
          args: ["-conf", "/etc/coredns/Corefile"]
          ports:
            - {name: dns, containerPort: 53, protocol: UDP}
            - {name: dns-tcp, containerPort: 53, protocol: TCP}
          readinessProbe:
            httpGet: {path: /ready, port: 8181}
            periodSeconds: 2
          livenessProbe:
            httpGet: {path: /health, port: 8080}
          resources:
            requests: {cpu: 50m, memory: 32Mi}
            limits: {memory: 128Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: config, mountPath: /etc/coredns, readOnly: true}
      volumes:
        - name: config
          configMap: {name: coredns}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: ${CLUSTER_DNS_IP}
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, protocol: UDP, targetPort: 53}
    - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: v1
kind: Namespace
metadata:
  name: local-path-storage
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: local-path-provisioner-service-account
  namespace: local-path-storage
automountServiceAccountToken: false
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-path
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
EOF

# --- Traefik: the ingress controller -----------------------------------------------
# As on k3s: a Deployment in kube-system labelled app.kubernetes.io/name=traefik
# (what the stores' NetworkPolicies admit), the default IngressClass "traefik",
# and a Service whose node ports answer on 127.0.0.1: stores are
# http://<name>.localhost:${INGRESS_HTTP_PORT}/ from this machine (browsers and
# curl resolve *.localhost to loopback).
traefik_image="$(awk '$1 == "traefik" {print $2}' "${IMAGES_INDEX}" 2>/dev/null || true)"
[[ -n "${traefik_image}" ]] || die_with_log kube-apiserver "no traefik image: run 'make images' first"
kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: traefik, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "storefleet:traefik"}
rules:
  - apiGroups: [""]
    resources: [services, secrets, nodes]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [ingresses, ingressclasses]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [ingresses/status]
    verbs: [update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "storefleet:traefik"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "storefleet:traefik"}
subjects:
  - {kind: ServiceAccount, name: traefik, namespace: kube-system}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: traefik
  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}
spec:
  controller: traefik.io/ingress-controller
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: traefik
  namespace: kube-system
  labels: {app.kubernetes.io/name: traefik, app.kubernetes.io/instance: traefik-kube-system}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: traefik, app.kubernetes.io/instance: traefik-kube-system}
  template:
    metadata:
      labels: {app.kubernetes.io/name: traefik, app.kubernetes.io/instance: traefik-kube-system}
    spec:
      serviceAccountName: traefik
      priorityClassName: system-cluster-critical
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: traefik
          image: ${traefik_image}
          imagePullPolicy: IfNotPresent
          args:
            - --global.checkNewVersion=false
            - --global.sendAnonymousUsage=false
            - --entryPoints.web.address=:8000
            - --entryPoints.websecure.address=:8443
            - --entryPoints.websecure.http.tls=true
            - --entryPoints.traefik.address=:9000
            - --ping=true
            - --providers.kubernetesIngress=true
            - --providers.kubernetesIngress.ingressEndpoint.publishedService=kube-system/traefik
            # A store whose pod is not ready answers 503 (unavailable), not 404 (no such store).
            - --providers.kubernetesIngress.allowEmptyServices=true
            - --log.level=INFO
          ports:
            - {name: web, containerPort: 8000}
            - {name: websecure, containerPort: 8443}
            - {name: traefik, containerPort: 9000}
          readinessProbe:
            httpGet: {path: /ping, port: 9000}
            periodSeconds: 2
          livenessProbe:
            httpGet: {path: /ping, port: 9000}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {memory: 256Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata:
  name: traefik
  namespace: kube-system
  labels: {app.kubernetes.io/name: traefik}
spec:
  type: NodePort
  selector: {app.kubernetes.io/name: traefik, app.kubernetes.io/instance: traefik-kube-system}
  ports:
    - {name: web, port: 80, targetPort: web, nodePort: ${INGRESS_HTTP_PORT}}
    - {name: websecure, port: 443, targetPort: websecure, nodePort: ${INGRESS_HTTPS_PORT}}
EOF

# --- local-path-provisioner --------------------------------------------------------
cat >"${NODE}/local-path.json" <<EOF
{"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["${K8S_VAR}/local-path"]}]}
EOF
toolbox_image="$(awk '$1 == "toolbox" {print $2}' "${IMAGES_INDEX}" 2>/dev/null || true)"
cat >"${NODE}/local-path-helper.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: helper-pod
spec:
  priorityClassName: system-node-critical
  tolerations:
    - {key: node.kubernetes.io/disk-pressure, operator: Exists, effect: NoSchedule}
  containers:
    - name: helper-pod
      image: ${toolbox_image}
      imagePullPolicy: IfNotPresent
      securityContext: {runAsUser: 0}
EOF
# The helper pods create and delete the volume directories on the node.
cat >"${NODE}/local-path-setup" <<'EOF'
#!/bin/sh
set -eu
mkdir -m 0777 -p "$VOL_DIR"
EOF
cat >"${NODE}/local-path-teardown" <<'EOF'
#!/bin/sh
set -eu
rm -rf "$VOL_DIR"
EOF
kubectl_admin -n local-path-storage create configmap local-path-config \
    --from-file=config.json="${NODE}/local-path.json" --from-file=helperPod.yaml="${NODE}/local-path-helper.yaml" \
    --from-file=setup="${NODE}/local-path-setup" --from-file=teardown="${NODE}/local-path-teardown" \
    --dry-run=client -o yaml | kubectl_admin apply -f - >/dev/null
launch local-path-provisioner local-path-provisioner \
    start --kubeconfig "${PKI}/node-addons.kubeconfig" \
    --namespace local-path-storage --configmap-name local-path-config \
    --config "${NODE}/local-path.json" --helper-pod-file "${NODE}/local-path-helper.yaml" \
    --helper-image "${toolbox_image}" \
    --service-account-name local-path-provisioner-service-account \
    --provisioner-name rancher.io/local-path

# --- kube-router (NetworkPolicy only) ------------------------------------------------
launch kube-router kube-router \
    --kubeconfig="${PKI}/node-addons.kubeconfig" \
    --hostname-override="${NODE_NAME}" \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
    --enable-cni=false --enable-ipv6=false \
    --service-cluster-ip-range="${SERVICE_CIDR}" \
    --service-node-port-range=30000-32767 \
    --health-port=0 --metrics-port=0

# --- ready? ------------------------------------------------------------------------
kubelet_healthy() { curl -fsS --max-time 1 "http://127.0.0.1:${K8S_KUBELET_HEALTHZ_PORT}/healthz" -o /dev/null 2>/dev/null; }
node_ready() {
    [[ "$(kubectl_admin get node "${NODE_NAME}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
proxy_healthy() { curl -fsS --max-time 1 "http://127.0.0.1:${K8S_PROXY_HEALTHZ_PORT}/healthz" -o /dev/null 2>/dev/null; }
coredns_ready() {
    [[ "$(kubectl_admin -n kube-system get deployment coredns -o jsonpath='{.status.availableReplicas}' 2>/dev/null)" == 1 ]]
}
router_ready() { iptables -S KUBE-ROUTER-FORWARD >/dev/null 2>&1; }
traefik_ready() {
    [[ "$(kubectl_admin -n kube-system get deployment traefik -o jsonpath='{.status.availableReplicas}' 2>/dev/null)" == 1 ]] &&
        curl -sS --max-time 1 -o /dev/null "http://127.0.0.1:${INGRESS_HTTP_PORT}/" 2>/dev/null
}
wait_for kubelet "${READY_TIMEOUT}" kubelet_healthy
wait_for kubelet "${READY_TIMEOUT}" node_ready
wait_for kube-proxy "${READY_TIMEOUT}" proxy_healthy
wait_for kubelet "${READY_TIMEOUT}" coredns_ready
wait_for kube-router "${READY_TIMEOUT}" router_ready
wait_for kubelet "${READY_TIMEOUT}" traefik_ready
kill -0 "$(cat "${PIDS}/local-path-provisioner.pid")" 2>/dev/null || die_with_log local-path-provisioner "local-path-provisioner exited"
log "node ${NODE_NAME} Ready (containerd, kubelet, kube-proxy, CoreDNS, Traefik on 127.0.0.1:${INGRESS_HTTP_PORT}, kube-router, local-path)"
