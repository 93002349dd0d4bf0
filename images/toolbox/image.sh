# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# A small image for tests and the volume provisioner's helper pods: a Debian
# base with busybox's applets (nc, httpd, nslookup, wget, ...) linked in
# /usr/local/bin, and curl. (busybox's own wget crashes resolving a name here,
# static or not; curl and bash's /dev/tcp do not.) On a
# real cluster the tests use busybox from Docker Hub instead.
IMAGE_BASE=debian
IMAGE_PACKAGES="busybox curl"
IMAGE_CONFIG=(--user 65534:65534 --cmd '["/bin/sh"]')
image_customize() {
    local root="$1" applet
    for applet in $(chroot "${root}" busybox --list); do
        if ! chroot "${root}" sh -c "command -v ${applet}" >/dev/null 2>&1; then
            ln -s /bin/busybox "${root}/usr/local/bin/${applet}"
        fi
    done
}
