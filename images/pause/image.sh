# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# The pod sandbox ("pause") image of the test node: Debian's catatonit, a
# static init whose -P mode does what Kubernetes' pause does (hold the pod's
# namespaces, reap zombies, exit on SIGTERM/SIGINT). containerd's
# sandbox_image points here, since registry.k8s.io cannot be reached.
IMAGE_BASE=debs
IMAGE_PACKAGES="catatonit"
IMAGE_CONFIG=(--user 65535:65535 --entrypoint '["/usr/bin/catatonit", "-P"]' --cmd '')
image_customize() {
    rm -rf "$1/usr/share"
}
