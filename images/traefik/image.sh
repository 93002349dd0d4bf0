# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# Traefik, the test node's ingress controller (kube-system/traefik, as on
# k3s): the binary that tools/k8s-testenv builds from the Go module proxy,
# alone in the image. It runs as a pod, so that the stores' NetworkPolicies
# admit it by selecting kube-system's app.kubernetes.io/name=traefik pods,
# as they do on k3s.
IMAGE_BASE=debs
IMAGE_PACKAGES=""
IMAGE_CONFIG=(--user 65532:65532 --port 8000/tcp --port 8443/tcp --port 9000/tcp
    --entrypoint '["/traefik"]' --cmd '')

traefik_bin() { echo "$("${REPO_ROOT}/tools/k8s-testenv/build.sh" --print-bin)/traefik"; }
image_inputs() {
    [[ -x "$(traefik_bin)" ]] || die "traefik is not built: run make k8s-testenv"
    echo "traefik $(sha256sum <"$(traefik_bin)" | cut -d' ' -f1)"
}
image_manifest() { echo "traefik $("$(traefik_bin)" version | awk '/^Version/ {print $2}') (tools/k8s-testenv/traefik)"; }
image_customize() {
    install -D -m 0755 "$(traefik_bin)" "$1/traefik"
}
