# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# The queue image of charts/storefleet: Debian's redis-server 7.0, run as uid
# 999 (the chart's runAsUser) with its data in /data. The chart passes the
# configuration file (a Secret holding the password) as the argument.
IMAGE_BASE=debian
IMAGE_PACKAGES="redis-server"
IMAGE_CONFIG=(--user 999:1000 --workingdir /data --port 6379/tcp
    --entrypoint '["redis-server"]' --cmd '["--dir", "/data", "--protected-mode", "no"]')

image_customize() {
    mkdir -p "$1/data"
    chown 999:1000 "$1/data"
}
