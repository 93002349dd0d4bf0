#!/usr/bin/env bash
# Installs (when missing) and starts, on loopback only, the services StoreFleet
# uses on one machine: MariaDB (the stores' database server, and the platform DB
# in the MariaDB test runs), Redis (the Redis queue backend, for tests; a
# password, no anonymous user), PHP
# (the local store driver, with php-fpm and nginx; WordPress and WooCommerce themselves come from the
# pinned releases, see src/storefleet/releases), PostgreSQL (a platform
# database the integration suite also runs on), and an S3-compatible object
# store for the backup tests (the Versity S3 Gateway, Apache-2.0, built once from the Go
# module proxy at the version pinned in tools/s3server/go.mod), and for the
# custom-domain tests Let's Encrypt's test ACME server pebble with its mock DNS
# server (built once likewise, tools/pebble; each test starts its own on free
# ports) and NSS's certutil (Chromium trusts pebble's root through it). Idempotent: a
# running service is left alone. Writes var/services.env (mode 0600) with the
# stores database URL of a generated MariaDB admin user and the S3 endpoint and
# generated keys, so no password is ever typed or passed in argv.
#
#   scripts/services.sh [mariadb] [redis] [postgres] [php] [s3] [acme]     (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
want=("$@"); [ ${#want[@]} -gt 0 ] || want=(mariadb redis postgres php s3 acme)
mkdir -p var && chmod 700 var
log() { printf '==> %s\n' "$*" >&2; }
# The generated admin passwords belong to this machine's servers, not to one
# checkout: every clone on the machine shares them (a second clone would
# otherwise reset the password under the first one's feet).
STATE="${STOREFLEET_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/storefleet}"
mkdir -p "$STATE" && chmod 700 "$STATE"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} (apt)"
  # A new machine has no package lists yet; an old list may name removed versions.
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  log "$what did not come up within ${secs}s"; return 1
}

start_mariadb() {
  apt_install mariadb-server mariadb-client
  if ! mariadb-admin --protocol=socket ping >/dev/null 2>&1; then
    log "starting MariaDB on 127.0.0.1:3306"
    as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld
    # mysqld_safe supervises mariadbd; setsid detaches it from this shell.
    as_root setsid -f mysqld_safe --bind-address=127.0.0.1 --port=3306 >/dev/null 2>&1 < /dev/null
    wait_for 60 MariaDB mariadb-admin --protocol=socket ping
  fi
  # A dedicated admin user for StoreFleet (creates store databases and users).
  local pwfile="$STATE/mariadb-admin.password"
  if [ ! -s "$pwfile" ] || ! MYSQL_PWD="$(cat "$pwfile")" mariadb -h 127.0.0.1 -u storefleet -e 'SELECT 1' >/dev/null 2>&1; then
    umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$pwfile"
    log "creating the MariaDB user 'storefleet' (password in $pwfile)"
    { printf "CREATE USER IF NOT EXISTS 'storefleet'@'localhost' IDENTIFIED BY '%s';\n" "$(cat "$pwfile")"
      printf "CREATE USER IF NOT EXISTS 'storefleet'@'127.0.0.1' IDENTIFIED BY '%s';\n" "$(cat "$pwfile")"
      printf "ALTER USER 'storefleet'@'localhost' IDENTIFIED BY '%s';\n" "$(cat "$pwfile")"
      printf "ALTER USER 'storefleet'@'127.0.0.1' IDENTIFIED BY '%s';\n" "$(cat "$pwfile")"
      echo "GRANT ALL PRIVILEGES ON *.* TO 'storefleet'@'localhost' WITH GRANT OPTION;"
      echo "GRANT ALL PRIVILEGES ON *.* TO 'storefleet'@'127.0.0.1' WITH GRANT OPTION;"
      echo "FLUSH PRIVILEGES;"
    } | as_root mariadb --protocol=socket -u root
  fi
  umask 077
  local url="mysql+pymysql://storefleet:$(cat "$pwfile")@127.0.0.1:3306/"
  touch var/services.env
  grep -v '^STOREFLEET_STORES_DB_URL=' var/services.env > var/services.env.new || true
  echo "STOREFLEET_STORES_DB_URL=$url" >> var/services.env.new
  mv var/services.env.new var/services.env
}

# Redis on loopback with no anonymous access: the default user is off and
# the platform (its queue and its counters) signs in as "storefleet" with a
# generated password (state dir, 0600) — so a store's PHP on this machine
# cannot reach it. The password travels in a config file or on stdin, never
# in argv. A Redis started before it had a password gets the users now.
start_redis() {
  apt_install redis-server redis-tools
  local pwfile="$STATE/redis.password" conf="$STATE/redis.conf"
  if [ ! -s "$pwfile" ]; then
    (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$pwfile")
  fi
  local users
  users="user default off
user storefleet on >$(cat "$pwfile") ~* &* +@all"
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    log "Redis on 127.0.0.1:6379 answered without a password: giving it its users"
    printf 'ACL SETUSER storefleet reset on >%s ~* &* +@all\nACL SETUSER default off\n' \
      "$(cat "$pwfile")" | redis-cli -h 127.0.0.1 -p 6379 >/dev/null
  elif ! REDISCLI_AUTH="$(cat "$pwfile")" redis-cli --no-auth-warning --user storefleet \
      -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    log "starting Redis on 127.0.0.1:6379"
    (umask 077; printf '%s\n' "bind 127.0.0.1" "port 6379" "protected-mode yes" 'save ""' \
      "appendonly no" "daemonize yes" "logfile $PWD/var/redis.log" "$users" > "$conf")
    redis-server "$conf" >/dev/null
    wait_for 20 Redis env REDISCLI_AUTH="$(cat "$pwfile")" redis-cli --no-auth-warning \
      --user storefleet -h 127.0.0.1 -p 6379 ping
  fi
  touch var/services.env
  grep -v '^STOREFLEET_TEST_REDIS_URL=' var/services.env > var/services.env.new || true
  echo "STOREFLEET_TEST_REDIS_URL=redis://storefleet:$(cat "$pwfile")@127.0.0.1:6379" >> var/services.env.new
  mv var/services.env.new var/services.env
}

start_postgres() {
  apt_install postgresql
  local ver
  ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then
    as_root pg_createcluster "$ver" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting PostgreSQL $ver on 127.0.0.1:5432"
    as_root pg_ctlcluster "$ver" main start -o "-c listen_addresses=127.0.0.1"
  fi
  local pwfile="$STATE/postgres-admin.password"
  if [ ! -s "$pwfile" ] || ! PGPASSWORD="$(cat "$pwfile")" psql -h 127.0.0.1 -U storefleet -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
    umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$pwfile"
    log "creating the PostgreSQL role 'storefleet' (password in $pwfile)"
    printf "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='storefleet') THEN CREATE ROLE storefleet LOGIN CREATEDB; END IF; END \$\$;\nALTER ROLE storefleet WITH LOGIN CREATEDB PASSWORD '%s';\n" "$(cat "$pwfile")" \
      | as_root runuser -u postgres -- psql -q -d postgres >/dev/null
  fi
  umask 077
  touch var/services.env
  grep -v '^STOREFLEET_TEST_POSTGRES_URL=' var/services.env > var/services.env.new || true
  echo "STOREFLEET_TEST_POSTGRES_URL=postgresql+psycopg://storefleet:$(cat "$pwfile")@127.0.0.1:5432/postgres" >> var/services.env.new
  mv var/services.env.new var/services.env
}

# PHP for local stores: the CLI (the installer, wp-cron), php-fpm (each store
# runs a master of its own, started by the platform) and nginx (the platform
# starts its own instance; Debian's default site is never started here).
start_php() {
  apt_install php-cli php-mysql php-xml php-mbstring php-curl php-zip php-gd php-intl \
    php8.2-fpm nginx-light
}

# The Versity S3 Gateway (Apache-2.0; a production S3 server with a POSIX
# backend) on 127.0.0.1:18333, storing objects under the state directory.
# The binary is built once into ~/.cache/storefleet/s3server (about 2.5
# minutes on two cores) at the version pinned in tools/s3server/go.mod.
S3_PORT=18333
start_s3() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/storefleet/s3server"
  local gw="$cache/versitygw" stamp="$cache/versitygw.version"
  local version
  version="$(sed -n 's/^\s*github.com\/versity\/versitygw \(v[^ ]*\).*/\1/p' tools/s3server/go.mod | head -1)"
  if [ ! -x "$gw" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
    command -v go >/dev/null 2>&1 || { log "go is not installed: cannot build the S3 server"; return 1; }
    log "building the Versity S3 Gateway $version (the S3 server of the backup tests; once)"
    mkdir -p "$cache"
    (cd tools/s3server && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
      go build -trimpath -ldflags="-s -w" -o "$gw.tmp" github.com/versity/versitygw/cmd/versitygw)
    mv -f "$gw.tmp" "$gw"
    echo "$version" > "$stamp"
  fi
  local keys="$STATE/s3.keys" data="$STATE/s3-objects"
  if [ ! -s "$keys" ]; then
    umask 077
    python3 -c 'import secrets; print("sf" + secrets.token_hex(8)); print(secrets.token_urlsafe(30))' > "$keys"
  fi
  local access secret
  access="$(sed -n 1p "$keys")"; secret="$(sed -n 2p "$keys")"
  mkdir -p "$data" && chmod 700 "$data"
  if ! curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" 2>/dev/null; then
    log "starting the S3 server on 127.0.0.1:$S3_PORT"
    # The root credentials travel in its environment, never in argv.
    ROOT_ACCESS_KEY="$access" ROOT_SECRET_KEY="$secret" \
      setsid -f "$gw" --port "127.0.0.1:$S3_PORT" posix "$data" > "$STATE/s3.log" 2>&1 < /dev/null
    wait_for 60 "the S3 server" curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"
  fi
  touch var/services.env
  grep -v '^STOREFLEET_TEST_S3_' var/services.env > var/services.env.new || true
  { echo "STOREFLEET_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
    echo "STOREFLEET_TEST_S3_ACCESS_KEY=$access"
    echo "STOREFLEET_TEST_S3_SECRET_KEY=$secret"; } >> var/services.env.new
  mv var/services.env.new var/services.env
}

for w in "${want[@]}"; do
  case "$w" in
    mariadb) start_mariadb ;;
    redis) start_redis ;;
    postgres) start_postgres ;;
    php) start_php ;;
    s3) start_s3 ;;
    acme) apt_install libnss3-tools && tools/pebble/build.sh >/dev/null ;;
    *) log "unknown service: $w"; exit 2 ;;
  esac
done
