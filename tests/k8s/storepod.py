"""What runs inside a store's pod on the real node, as the serving tests of
test_stores.py look at it (docs/serving.md, "On Kubernetes"): PHP probes
dropped into the store's wp-content and asked for through the ingress like
any page (opcache's status as the php-fpm workers share it; where a page's
time goes, from microtime marks at WordPress's hooks), page times through
Traefik, and the pod's memory as the kubelet counts it."""

from __future__ import annotations

import base64
import json
import secrets
import statistics
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
from kubernetes import client

from tests.k8s.conftest import Cluster
from tests.k8s.realstores import INGRESS_PORT, web_pod

#: The store's volume in its pod.
CONTENT = "/var/www/html/wp-content"
#: A cookie that makes nginx skip the page cache (docs/serving.md): PHP renders every time.
UNCACHED = {"Cookie": "wordpress_no_cache=1"}

OPCACHE_PROBE = """<?php
// tests/k8s: opcache as this php-fpm worker shares it with its master and siblings.
header('Cache-Control: no-store');
header('Content-Type: application/json');
$s = opcache_get_status(true);
$scripts = array_keys($s['scripts'] ?? []);
$under = fn ($dir) => count(array_filter($scripts, fn ($p) => str_starts_with($p, $dir)));
echo json_encode([
    'enabled' => $s['opcache_enabled'] ?? false,
    'cached_scripts' => $s['opcache_statistics']['num_cached_scripts'] ?? 0,
    'core_scripts' => $under('/var/www/html/wp-'),
    'woocommerce_scripts' => $under('/opt/storefleet/woocommerce/'),
    'hits' => $s['opcache_statistics']['hits'] ?? 0,
    'misses' => $s['opcache_statistics']['misses'] ?? 0,
    'used_memory' => $s['memory_usage']['used_memory'] ?? 0,
    'cache_full' => $s['cache_full'] ?? null,
    'oom_restarts' => $s['opcache_statistics']['oom_restarts'] ?? null,
    'memory_consumption' => (int) ini_get('opcache.memory_consumption'),
    'validate_timestamps' => ini_get('opcache.validate_timestamps'),
    'core_mtime' => filemtime('/var/www/html/wp-includes/plugin.php'),
]);
"""

# Where an uncached page's time goes: milliseconds since the request reached
# PHP (REQUEST_TIME_FLOAT) at the start of WordPress's main hooks, written as
# a comment at the end of the page when the request asks for it.
TIMING_PLUGIN = """<?php
// tests/k8s: a must-use plugin that times a page when asked (X-StoreFleet-Timing).
if (!empty($_SERVER['HTTP_X_STOREFLEET_TIMING'])) {
    $GLOBALS['sf_marks'] = ['muplugins_loaded' => microtime(true)];
    foreach (['plugins_loaded', 'after_setup_theme', 'init', 'wp_loaded', 'template_redirect']
             as $sf_hook) {
        add_action($sf_hook, function () use ($sf_hook) {
            $GLOBALS['sf_marks'][$sf_hook] = microtime(true);
        }, PHP_INT_MIN);
    }
    add_action('shutdown', function () {
        $marks = [];
        foreach ($GLOBALS['sf_marks'] + ['shutdown' => microtime(true)] as $hook => $at) {
            $marks[$hook] = round(($at - $_SERVER['REQUEST_TIME_FLOAT']) * 1000, 1);
        }
        $marks['queries'] = get_num_queries();
        $marks['included_files'] = count(get_included_files());
        echo "\\n<!-- storefleet-timing " . json_encode($marks) . " -->";
    }, PHP_INT_MAX);
}
"""


def pod_exec(k8s: Cluster, ns: str, *command: str, stdin: str | None = None) -> str:
    """A command in the store's container; its output (a failure fails the test)."""
    pod = web_pod(k8s, ns).metadata.name
    interactive = ["-i"] if stdin is not None else []
    args = [k8s.kubectl, "--kubeconfig", str(k8s.kubeconfig), "exec", "--namespace", ns,
            pod, "-c", "wordpress", *interactive, "--", *command]  # fmt: skip
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
    return done.stdout


@contextmanager
def file_in_store(k8s: Cluster, ns: str, path: str, text: str) -> Iterator[str]:
    """A file in the store's wp-content (its volume) for the test's duration;
    yields its path under the store's URL."""
    encoded = base64.b64encode(text.encode()).decode()
    target = f"{CONTENT}/{path}"
    pod_exec(k8s, ns, "sh", "-c", 'base64 -d > "$1"', "sh", target, stdin=encoded)
    try:
        yield f"wp-content/{path}"
    finally:
        pod_exec(k8s, ns, "rm", "-f", target)


def through_ingress(store_url: str) -> tuple[str, dict[str, str]]:
    """The ingress's address on this machine and the store's Host."""
    host = store_url.split("//", 1)[1].split("/", 1)[0]
    return f"http://127.0.0.1:{INGRESS_PORT}/", {"Host": host}


def opcache(http: httpx.Client, probe: str) -> dict[str, Any]:
    answer = http.get(probe, headers=UNCACHED)
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    status: dict[str, Any] = answer.json()
    return status


def page_times(
    http: httpx.Client, path: str, count: int, headers: dict[str, str] | None = None
) -> tuple[list[float], list[str]]:
    """Milliseconds of ``count`` GETs one after another, and each one's
    X-StoreFleet-Cache."""
    times, verdicts = [], []
    for _ in range(count):
        start = time.perf_counter()
        answer = http.get(path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
        verdicts.append(answer.headers.get("x-storefleet-cache", "-"))
    return times, verdicts


def concurrent_times(
    base: str, host: dict[str, str], path: str, clients: int, each: int, *, cached: bool
) -> tuple[list[float], float]:
    """``clients`` shoppers at once, ``each`` GETs apiece (through the page
    cache or past it): every request's milliseconds, and requests per second."""

    def one(_: int) -> list[float]:
        with httpx.Client(base_url=base, headers=host, timeout=60) as http:
            return page_times(http, path, each, None if cached else UNCACHED)[0]

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = [t for chunk in pool.map(one, range(clients)) for t in chunk]
    return times, len(times) / (time.perf_counter() - start)


def timing_marks(http: httpx.Client, path: str, count: int) -> dict[str, float]:
    """The median of each mark (TIMING_PLUGIN) over ``count`` uncached GETs."""
    runs: list[dict[str, float]] = []
    for _ in range(count):
        answer = http.get(path, headers={**UNCACHED, "X-StoreFleet-Timing": "1"})
        assert answer.status_code == 200, answer.status_code
        assert answer.headers.get("x-storefleet-cache") == "BYPASS"
        comment = answer.text.rsplit("<!-- storefleet-timing ", 1)[1].split(" -->", 1)[0]
        runs.append(json.loads(comment))
    return {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]}


def probe_name() -> str:
    return f"sf-probe-{secrets.token_hex(6)}.php"


def working_set(k8s: Cluster, ns: str) -> dict[str, int]:
    """The store container's memory as the kubelet reports it (stats/summary:
    what `kubectl top` would show, and what eviction looks at)."""
    pod = web_pod(k8s, ns)
    raw = k8s.run(
        "kubectl", "get", "--raw",
        f"/api/v1/nodes/{pod.spec.node_name}/proxy/stats/summary",
    ).stdout  # fmt: skip
    for entry in json.loads(raw)["pods"]:
        if entry["podRef"]["namespace"] == ns and entry["podRef"]["name"] == pod.metadata.name:
            (container,) = [c for c in entry["containers"] if c["name"] == "wordpress"]
            memory = container["memory"]
            return {
                "working_set_bytes": int(memory["workingSetBytes"]),
                "rss_bytes": int(memory["rssBytes"]),
            }
    raise AssertionError(f"no stats for {ns}/{pod.metadata.name}")


def processes(k8s: Cluster, ns: str) -> list[str]:
    """The command lines running in the store's container (no ps in the image)."""
    out = pod_exec(
        k8s, ns, "sh", "-c",
        "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done",
    )  # fmt: skip
    return [line.strip() for line in out.splitlines() if line.strip()]


def fpm_setting(k8s: Cluster, ns: str, name: str) -> str:
    """A setting of the pod's php-fpm pool, as php-fpm reads its configuration
    with the container's environment (the plan's numbers; kubectl exec runs
    with the same environment as the container's entrypoint)."""
    script = "/usr/sbin/php-fpm8.2 -tt --fpm-config /etc/php/8.2/fpm/php-fpm.conf 2>&1 | cat"
    out = pod_exec(k8s, ns, "sh", "-c", script)
    for line in out.splitlines():
        if f"\t{name} = " in line:
            return line.split(" = ", 1)[1].strip()
    raise AssertionError(f"{name} not in php-fpm -tt:\n{out[-2000:]}")


def cgroup_memory_limit(k8s: Cluster, ns: str) -> int:
    """The memory limit of the store's container as its cgroup holds it (v2 or v1)."""
    out = pod_exec(
        k8s, ns, "sh", "-c",
        "cat /sys/fs/cgroup/memory.max 2>/dev/null"
        " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    )  # fmt: skip
    return int(out.strip())


def container_resources(k8s: Cluster, ns: str) -> client.V1ResourceRequirements:
    return web_pod(k8s, ns).spec.containers[0].resources
