#!/usr/bin/env bash
# Runs the README's two commands on a fresh Debian 12: a minbase bookworm
# rootfs (mmdebstrap, from this machine's Debian mirror) with only what a new
# machine of this kind has before anyone works on it (Python 3.11, Node.js 20
# with npm, Go, git, make, a C compiler, the CA certificates) — no MariaDB,
# PHP, WordPress, Redis, PostgreSQL or Chromium — entered with pivot_root in
# network, mount and PID namespaces of its own. Its loopback services cannot
# clash with this machine's; it reaches the package registries through NAT.
# See docs/fresh-machine.md.
#
#   scripts/fresh-machine.sh up      clean clone → `make up` → create a store → an order
#   scripts/fresh-machine.sh test    clean clone → `make test` (CI=true)
#   scripts/fresh-machine.sh shell   a shell in the fresh machine (after up/test)
#   scripts/fresh-machine.sh run CMD...  CMD in its checkout (after up/test)
#   scripts/fresh-machine.sh clean   remove the rootfs and everything it left
#
# STOREFLEET_FRESH_DIR (default /var/tmp/storefleet-fresh) holds the base
# tarball (reused) and the rootfs (made anew by up/test). Root only.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${STOREFLEET_FRESH_DIR:-/var/tmp/storefleet-fresh}"
ROOTFS="$DIR/rootfs"
BASE="$DIR/bookworm-base.tar"
NS=sf-fresh
HOST_IF=sf-fresh0
NS_IF=sf-fresh1
NET=10.254.254
log() { printf '[fresh-machine] %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "run as root"; exit 2; }

mirror() {
  # The Debian mirror this machine uses (deb822 or one-line sources).
  local m
  m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$m" ] || m=$(awk '$1=="deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

base() {
  [ -s "$BASE" ] && return 0
  mkdir -p "$DIR"
  log "building a minbase bookworm tarball (mmdebstrap, $(mirror))"
  mmdebstrap --variant=minbase --quiet \
    --include=ca-certificates,git,make,gcc,g++,libc6-dev,python3,python3-venv,python3-dev,curl,procps,iproute2,sudo,xz-utils \
    bookworm "$DIR/partial-base.tar" "$(mirror)"
  mv "$DIR/partial-base.tar" "$BASE"
}

unmount_all() {
  # Deepest first; ignore what is not mounted.
  if [ -d "$ROOTFS" ]; then
    { findmnt -rn -o TARGET | grep "^$ROOTFS" || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
}

net_down() {
  ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$HOST_IF" 2>/dev/null || true
  iptables -t nat -D POSTROUTING -s "$NET.0/30" ! -o "$HOST_IF" -j MASQUERADE 2>/dev/null || true
  iptables -D FORWARD -i "$HOST_IF" -j ACCEPT 2>/dev/null || true
  iptables -D FORWARD -o "$HOST_IF" -j ACCEPT 2>/dev/null || true
}

net_up() {
  net_down
  ip netns add "$NS"
  ip link add "$HOST_IF" type veth peer name "$NS_IF"
  ip link set "$NS_IF" netns "$NS"
  ip addr add "$NET.1/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip -n "$NS" addr add "$NET.2/30" dev "$NS_IF"
  ip -n "$NS" link set "$NS_IF" up
  ip -n "$NS" link set lo up
  ip -n "$NS" route add default via "$NET.1"
  sysctl -qw net.ipv4.ip_forward=1
  iptables -t nat -A POSTROUTING -s "$NET.0/30" ! -o "$HOST_IF" -j MASQUERADE
  iptables -I FORWARD -i "$HOST_IF" -j ACCEPT
  iptables -I FORWARD -o "$HOST_IF" -j ACCEPT
}

# Removes the rootfs, but never through a mount (a /proc, /sys or /dev of
# this machine bound into it).
remove_rootfs() {
  unmount_all
  if findmnt -rn -o TARGET | grep -q "^$ROOTFS"; then
    log "something is still mounted under $ROOTFS; not removing it"
    return 1
  fi
  rm -rf --one-file-system "$ROOTFS"
}

rootfs() {
  remove_rootfs
  mkdir -p "$ROOTFS"
  tar -xf "$BASE" -C "$ROOTFS"
  # What a new machine of this kind has before the session: Node.js 20 with
  # npm and Go (copied from this machine), the certificates and the registry
  # settings it trusts.
  cp -a /usr/bin/node "$ROOTFS/usr/bin/node"
  mkdir -p "$ROOTFS/usr/lib/node_modules"
  cp -a /usr/lib/node_modules/npm "$ROOTFS/usr/lib/node_modules/"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/bin/npx"
  mkdir -p "$ROOTFS/usr/local/go"
  cp -a /usr/local/go/. "$ROOTFS/usr/local/go/"
  ln -sf /usr/local/go/bin/go "$ROOTFS/usr/local/bin/go"
  cp -a /usr/local/share/ca-certificates/. "$ROOTFS/usr/local/share/ca-certificates/" 2>/dev/null || true
  cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  for f in /etc/pip.conf /root/.npmrc; do [ -f "$f" ] && cp "$f" "$ROOTFS$f"; done
  cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
  # A Debian installation has these; mmdebstrap's minbase does not.
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOTFS/etc/hosts"
  echo fresh-machine >"$ROOTFS/etc/hostname"
  tr -d '-' </proc/sys/kernel/random/uuid >"$ROOTFS/etc/machine-id"
  # A clean clone of this checkout's HEAD, and the offline release mirror beside it.
  git clone -q --no-hardlinks "$REPO" "$ROOTFS/root/storefleet"
  git -C "$ROOTFS/root/storefleet" checkout -q "$(git -C "$REPO" rev-parse HEAD)"
  if [ -d "$REPO/../shared/vendor" ]; then
    mkdir -p "$ROOTFS/root/shared/vendor"
    cp -a "$REPO/../shared/vendor/." "$ROOTFS/root/shared/vendor/"
  fi
  [ -d /opt/wheels ] && { mkdir -p "$ROOTFS/opt/wheels"; cp -a /opt/wheels/. "$ROOTFS/opt/wheels/"; }
  return 0
}

# The CA settings a machine of this kind starts its sessions with (its
# registries are reached through a TLS-inspecting proxy whose CA they trust).
CA_ENV=$(env | grep -E '^(SSL_CERT_FILE|SSL_CERT_DIR|PIP_CERT|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|NODE_EXTRA_CA_CERTS|GIT_SSL_CAINFO)=' | tr '\n' ' ' || true)
export CA_ENV

# Runs a command in the fresh machine: its own network, mounts and PIDs.
# nsenter, not `ip netns exec`: that remounts /sys, whose fs/cgroup is then an
# empty directory, and the kubelet of the Kubernetes suite finds no cgroup
# mounts ("failed to find cgroup mounts"). pivot_root, not chroot: the rootfs
# must be the mount namespace's root, as on a machine. Under chroot the
# kubelet finds no mount holding its directory, and `kubectl exec` into a
# container landed in this machine's own root: setns() into a container's
# mount namespace resets the root to that namespace's root mount, which a
# chroot leaves as the host's.
enter() {
  nsenter --net="/run/netns/$NS" unshare --mount --pid --fork --propagation private bash -c '
    set -e
    R="$1"; shift
    mount --bind "$R" "$R"
    # shellcheck disable=SC2086
    mount -t proc proc "$R/proc"
    mount -t sysfs sysfs "$R/sys"
    mount --rbind /dev "$R/dev"
    mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
    mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
    mount -t tmpfs -o mode=755 tmpfs "$R/run"
    mkdir -p "$R/sys/fs/cgroup" "$R/.host"
    mount --rbind /sys/fs/cgroup "$R/sys/fs/cgroup"
    cd "$R"
    pivot_root . .host
    cd /
    umount -l /.host
    exec /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
      PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      PIP_FIND_LINKS=/opt/wheels $CA_ENV \
      "$@"
  ' fresh "$ROOTFS" "$@"
}

prove_up() {
  log "fresh machine: $(enter bash -c 'for c in mariadb php redis-server psql chromium; do command -v $c >/dev/null && echo "$c present"; done; echo checked')"
  log "make up (log: $DIR/make-up.log)"
  enter bash -c 'cd /root/storefleet && STOREFLEET_ADMIN_PASSWORD=fresh-machine-admin exec make up' >"$DIR/make-up.log" 2>&1 &
  local pid=$! deadline=$((SECONDS + 1800))
  until grep -q "StoreFleet is running" "$DIR/make-up.log"; do
    kill -0 "$pid" 2>/dev/null || { tail -40 "$DIR/make-up.log"; log "make up exited"; return 1; }
    ((SECONDS < deadline)) || { log "make up did not come up in 30 min"; return 1; }
    sleep 5
  done
  log "up after $SECONDS s; creating a store with no options and ordering"
  local ok=0
  enter bash -c '
    set -e
    cd /root/storefleet
    api=http://127.0.0.1:8000
    token=$(curl -fsS $api/api/auth/login -H "content-type: application/json" \
      -d "{\"email\":\"admin@example.com\",\"password\":\"fresh-machine-admin\"}" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"access_token\"])")
    created=$(curl -fsS $api/api/stores -H "authorization: Bearer $token" -H "content-type: application/json" \
      -d "{\"name\":\"fresh-shop\",\"admin_email\":\"me@example.com\"}")
    id=$(echo "$created" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"id\"])")
    password=$(echo "$created" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"admin_password\"])")
    for i in $(seq 300); do
      store=$(curl -fsS $api/api/stores/$id -H "authorization: Bearer $token")
      status=$(echo "$store" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"status\"])")
      [ "$status" = ready ] || [ "$status" = failed ] && break
      sleep 1
    done
    echo "$store" | python3 -c "import json,sys; s=json.load(sys.stdin); print(s[\"status\"], s[\"url\"], s[\"wordpress_version\"], s[\"woocommerce_version\"]); [print(\" \", t[\"name\"], t[\"status\"], t[\"message\"]) for t in s[\"steps\"]]"
    [ "$status" = ready ]
    url=$(echo "$store" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"url\"])")
    home=$(curl -fsS "$url")
    echo "$home" | grep -qi "coming soon" && { echo "coming-soon page"; exit 1; }
    echo "home page: $(echo "$home" | grep -c "Add to cart") add-to-cart buttons"
    STOREFLEET_API_URL=$api STOREFLEET_TOKEN=$token STOREFLEET_STORE_ADMIN_PASSWORD="$password" \
      .venv/bin/storefleet stores smoke-test fresh-shop
  ' || ok=1
  # Ctrl-C, as a person would: SIGINT to `storefleet up` (seen from here; it
  # runs in the fresh machine's own PID namespace).
  for p in $(ip netns pids "$NS"); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "storefleet up" && kill -INT "$p"
  done
  wait "$pid" || true
  tail -3 "$DIR/make-up.log"
  return "$ok"
}

prove_test() {
  log "make test with CI=true (log: $DIR/make-test.log)"
  local start=$SECONDS
  if enter bash -c 'cd /root/storefleet && exec env CI=true .ci/run' >"$DIR/make-test.log" 2>&1; then
    log "make test passed in $((SECONDS - start)) s; last lines:"
    tail -5 "$DIR/make-test.log"
  else
    log "make test FAILED after $((SECONDS - start)) s; last lines:"
    tail -40 "$DIR/make-test.log"
    return 1
  fi
}

cleanup() { net_down; unmount_all; }

no_other_node() {
  # The Kubernetes suite's node shares this machine's kubepods cgroups with any
  # other node here (a host `make k8s-up`, a CI run): both would break.
  local pid
  if pid=$(pgrep -x kubelet | head -1) && [ -n "$pid" ]; then
    log "a Kubernetes node already runs on this machine (kubelet pid $pid); stop it first (make k8s-down)"
    exit 1
  fi
}

case "${1:-}" in
  up|test)
    [ "$1" = up ] || no_other_node
    base
    rootfs
    trap cleanup EXIT
    net_up
    if [ "$1" = up ]; then prove_up; else prove_test; fi
    ;;
  shell) trap cleanup EXIT; net_up; enter bash -l ;;
  run) shift; no_other_node; trap cleanup EXIT; net_up; enter bash -c 'cd /root/storefleet && exec "$@"' run "$@" ;;
  clean) cleanup; remove_rootfs ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
