# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# CoreDNS for the test node's cluster DNS (kube-system/coredns): the binary
# that tools/k8s-testenv builds from the Go module proxy (with only the
# plugins its Corefile uses), alone in the image. It runs as a pod, so that
# NetworkPolicies that admit DNS by selecting kube-system's k8s-app=kube-dns
# pods (as the charts' do) work here as on any cluster.
IMAGE_BASE=debs
IMAGE_PACKAGES=""
IMAGE_CONFIG=(--user 65532:65532 --port 53/udp --port 53/tcp
    --entrypoint '["/coredns"]' --cmd '["-conf", "/etc/coredns/Corefile"]')

coredns_bin() { echo "$("${REPO_ROOT}/tools/k8s-testenv/build.sh" --print-bin)/coredns"; }
image_inputs() {
    [[ -x "$(coredns_bin)" ]] || die "coredns is not built: run make k8s-testenv"
    echo "coredns $(sha256sum <"$(coredns_bin)" | cut -d' ' -f1)"
}
image_manifest() { echo "coredns $("$(coredns_bin)" -version | head -n1) (tools/k8s-testenv/addons)"; }
image_customize() {
    install -D -m 0755 "$(coredns_bin)" "$1/coredns"
}
