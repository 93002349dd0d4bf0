# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# A small image for tests and the volume provisioner's helper pods: Debian's
# static busybox (sh, nc, httpd, nslookup, wget, mkdir, ...). On a real
# cluster the tests use busybox from Docker Hub instead.
IMAGE_BASE=debs
IMAGE_PACKAGES="busybox-static"
IMAGE_CONFIG=(--user 65534:65534 --env PATH=/bin --cmd '["/bin/sh"]')
image_customize() {
    local root="$1" applet
    rm -rf "${root}/usr/share"
    for applet in $("${root}/bin/busybox" --list); do
        [[ -e "${root}/bin/${applet}" ]] || ln -s busybox "${root}/bin/${applet}"
    done
    mkdir -p "${root}/etc" "${root}/tmp"
    chmod 1777 "${root}/tmp"
    printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"${root}/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"${root}/etc/group"
}
