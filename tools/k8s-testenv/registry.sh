#!/usr/bin/env bash
# The test environment's image registry: Debian's docker-registry
# (distribution v2) as a host process on 127.0.0.1 (registry.env), plain HTTP,
# no authentication. up.sh starts it before the node's containerd, which
# pulls every image from it (hosts.toml); down.sh stops it. images/push.sh
# pushes what `make images` builds, scripts/publish-charts.sh the charts.
#   registry.sh start     start it (nothing when it runs already); waits until it answers
#   registry.sh stop      stop it (nothing when it does not run)
#   registry.sh status    exit 0 when it runs, 1 otherwise
# Data in var/registry/data, kept across start/stop: a warm run pushes nothing.
# Manifests that images/push.sh deleted (superseded builds) leave their blobs
# until the next start, which collects them while the registry is down.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN="${REGISTRY_DIR}/run"
DATA="${REGISTRY_DIR}/data"

start() {
    if registry_pid >/dev/null; then
        return 0
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/${REGISTRY_PORT}") 2>/dev/null; then
        log "port 127.0.0.1:${REGISTRY_PORT} is in use (another checkout's registry?); stop it or set STOREFLEET_REGISTRY_PORT"
        return 1
    fi
    command -v docker-registry >/dev/null || "${REPO_ROOT}/tools/host-packages.sh" registry
    mkdir -p "${RUN}" "${DATA}"
    cat >"${RUN}/config.yml" <<EOF
# The test registry (tools/k8s-testenv/registry.sh); written on every start.
version: 0.1
log:
  level: warn
  accesslog: {disabled: false}
  fields: {service: storefleet-test-registry}
storage:
  filesystem: {rootdirectory: ${DATA}}
  delete: {enabled: true}
  cache: {blobdescriptor: inmemory}
  maintenance:
    uploadpurging: {enabled: true, age: 24h, interval: 24h, dryrun: false}
http:
  addr: 127.0.0.1:${REGISTRY_PORT}
  # One instance: the secret only signs its own upload state.
  secret: storefleet-test-registry
health:
  storagedriver: {enabled: false}
EOF
    if [[ -f "${RUN}/collect" ]]; then
        # Blobs of the manifests push.sh deleted; only safe while nothing pushes.
        local started=${SECONDS}
        docker-registry garbage-collect --delete-untagged "${RUN}/config.yml" >"${RUN}/gc.log" 2>&1 ||
            { log "garbage-collect failed (${RUN}/gc.log)"; return 1; }
        rm -f "${RUN}/collect"
        log "registry: collected unreferenced blobs in $((SECONDS - started)) s"
    fi
    # (fd 9 is images/build.sh's lock on the image cache: not the registry's to hold)
    setsid docker-registry serve "${RUN}/config.yml" </dev/null >"${RUN}/registry.log" 2>&1 9>&- &
    echo $! >"${RUN}/registry.pid"
    local deadline=$((SECONDS + 30))
    until registry_answers; do
        if ! registry_pid >/dev/null; then
            log "docker-registry exited; last lines of ${RUN}/registry.log:"
            tail -n 20 "${RUN}/registry.log" >&2
            return 1
        fi
        if ((SECONDS >= deadline)); then
            log "the registry does not answer on ${TEST_REGISTRY} after 30 s"
            stop
            return 1
        fi
        sleep 0.05
    done
}

stop() {
    local pid
    pid="$(registry_pid)" || { rm -f "${RUN}/registry.pid"; return 0; }
    kill -TERM "${pid}" 2>/dev/null || true
    for _ in $(seq 1 100); do
        registry_pid >/dev/null || break
        sleep 0.1
    done
    if registry_pid >/dev/null; then
        log "docker-registry (pid ${pid}) ignored SIGTERM for 10 s; killing it"
        kill -KILL "${pid}" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "${RUN}/registry.pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) registry_pid >/dev/null ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
