# shellcheck shell=bash disable=SC2034  # sourced by images/build.sh
# The database image of charts/storefleet (the platform's MySQL and the
# stores' MySQL): Debian's MariaDB 10.11, run as uid 999 (the charts'
# runAsUser). Its entrypoint honours the variables of the official mysql
# image that the charts set (MYSQL_ROOT_PASSWORD, MYSQL_DATABASE,
# MYSQL_USER, MYSQL_PASSWORD) and initialises an empty data directory.
IMAGE_BASE=debian
IMAGE_PACKAGES="mariadb-server"
IMAGE_CONFIG=(--user 999:999 --port 3306/tcp
    --entrypoint '["/usr/local/bin/storefleet-mariadb"]' --cmd '["mariadbd"]')

# The mysql account gets the charts' uid and gid before the package creates it.
image_essential() {
    echo 'mysql:x:999:999:MariaDB Server:/nonexistent:/bin/false' >>"$1/etc/passwd"
    echo 'mysql:x:999:' >>"$1/etc/group"
    echo 'mysql:!:19000::::::' >>"$1/etc/shadow"
}

image_customize() {
    local root="$1"
    cp -a "${IMAGES_DIR}/mariadb/rootfs/." "${root}/"
    chown -R 0:0 "${root}/usr/local/bin" "${root}/etc/mysql/mariadb.conf.d"
    # The data directory comes from the volume; the package's own is dropped.
    rm -rf "${root}/var/lib/mysql"
    mkdir -p "${root}/var/lib/mysql" "${root}/run/mysqld"
    chown 999:999 "${root}/var/lib/mysql" "${root}/run/mysqld"
}
