"""How fast and how cheaply local stores are served (docs/serving.md).

Starts a real platform (API + worker processes, the local driver: nginx,
php-fpm per store in its cgroup, MariaDB, the pinned WordPress and
WooCommerce) in a temporary directory and measures, with wrk against the
stores' one nginx on loopback:

- one store with the sample products: its shop page and a product page
  cached (anonymous: the page cache) and uncached (the same page with a
  bypass cookie: PHP every time), each at 1 and 16 connections, beside a
  static file of the same size served by the same nginx in the same run (the
  ceiling on this machine): requests/s, p50, p95;
- a shopper's order, uncached: add to cart, the cart, the checkout page,
  placing the order (the Store API), one shopper and 16 at once;
- isolation: a neighbour's uncached product page p50 alone, then while two
  requests burn CPU in the first store (its plan: 1 CPU), and the ratio;
- idle stores: PSS of everything that serves them (nginx, the php-fpm
  masters, no worker once idle) per store at 10, 100 and --density stores,
  MariaDB's share beside it, extrapolated to this machine's memory.

Prints each figure against its target and writes everything, with the date,
the machine and its load, to bench/results/serve-local.json (or --results).

    .venv/bin/python bench/serve.py [--seconds 10] [--density 200] [--results FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.provision import _machine, _percentile, _provision
from tests.conftest import TEST_RELEASES, _services_env, artifacts, free_port
from tests.support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Api,
    PlatformProcesses,
    leave_nothing_behind,
    prepare,
    process_env,
)

from storefleet import smoke
from storefleet.config import Environment, Settings
from storefleet.drivers.verify import storefront_request

REPO = Path(__file__).resolve().parents[1]
WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "errors": %d, "non2xx": %d, '
    .. '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}\\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""
BURN = (
    "<?php $t = microtime(true) + (float)($_GET['s'] ?? 10); "
    "while (microtime(true) < $t) {} echo 'done';"
)


def _wrk(url: str, connections: int, seconds: int, script: Path, cookie: str | None) -> dict:
    base, headers = storefront_request(url)
    args = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s",
            "--timeout", "10s", "-s", str(script), "-H", f"Host: {headers['Host']}"]  # fmt: skip
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run([*args, base], capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["requests_per_s"] = round(result["requests"] / result["seconds"], 1)
    return result


def _pages(store: dict, seconds: int, script: Path, product: str) -> dict[str, Any]:
    """Cached and uncached pages beside the static ceiling, at 1 and 16 connections."""
    url = store["url"]
    with httpx.Client(timeout=30) as http:
        shop = http.get(url + "shop/")
        for _ in range(2):
            http.get(product)
        assert http.get(product).headers.get("x-storefleet-cache") == "HIT"
    # The ceiling: a static file as large as the shop page, from the same nginx.
    static = Path(store["_site"]) / "wp-content" / "uploads" / "bench-static.html"
    static.write_bytes(shop.content)
    shutil.chown(static, static.parent.stat().st_uid, static.parent.stat().st_gid)
    static.chmod(0o640)
    targets = {
        "static file (the ceiling)": (url + "wp-content/uploads/bench-static.html", None),
        "shop page, cached": (url + "shop/", None),
        "product page, cached": (product, None),
        "shop page, uncached": (url + "shop/", "wordpress_no_cache=1"),
        "product page, uncached": (product, "wordpress_no_cache=1"),
    }
    out: dict[str, Any] = {"page_bytes": len(shop.content)}
    for connections in (1, 16):
        for name, (target, cookie) in targets.items():
            out[f"{name} @{connections}"] = _wrk(target, connections, seconds, script, cookie)
    return out


def _order_ms(url: str) -> float:
    """A shopper's order through the Store API (cart, checkout): never cached."""
    start = time.perf_counter()
    smoke.place_order(url, timeout=60)
    return (time.perf_counter() - start) * 1000


def _orders(url: str, count: int, shoppers: int) -> dict[str, float]:
    with ThreadPoolExecutor(shoppers) as pool:
        start = time.monotonic()
        times = list(pool.map(_order_ms, [url] * count))
        wall = time.monotonic() - start
    return {
        "orders": count,
        "shoppers": shoppers,
        "p50_ms": round(_percentile(times, 50), 1),
        "p95_ms": round(_percentile(times, 95), 1),
        "orders_per_s": round(count / wall, 2),
    }


def _p50(url: str, n: int) -> float:
    base, headers = storefront_request(url)
    times = []
    with httpx.Client(timeout=60, headers={**headers, "Cookie": "wordpress_no_cache=1"}) as http:
        http.get(base)
        for _ in range(n):
            start = time.perf_counter()
            assert http.get(base).status_code == 200
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _isolation(store: dict, neighbour: dict, product_path: str) -> dict[str, float]:
    """The neighbour's uncached product page, alone and while two requests
    burn CPU in the first store (whose plan allows it one CPU)."""
    target = neighbour["url"] + product_path
    alone = _p50(target, 40)
    burn = Path(store["_site"]) / "wp-content" / "bench-burn.php"
    burn.write_text(BURN)
    shutil.chown(burn, burn.parent.stat().st_uid, burn.parent.stat().st_gid)
    base, headers = storefront_request(store["url"] + "wp-content/bench-burn.php")
    with ThreadPoolExecutor(2) as pool:
        burning = [
            pool.submit(httpx.get, base, params={"s": "25"}, headers=headers, timeout=60)
            for _ in range(2)
        ]
        time.sleep(1)
        loaded = _p50(target, 40)
        for f in burning:
            f.result()
    return {
        "neighbour_p50_alone_ms": round(alone, 1),
        "neighbour_p50_with_two_burning_requests_ms": round(loaded, 1),
        "ratio": round(loaded / alone, 2),
    }


def _pss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def _idle_cost(sites: Path, stores: int) -> dict[str, float]:
    """PSS of what serves idle stores: nginx and the php-fpm masters (an
    idle store runs no worker), per store; MariaDB's whole PSS beside it."""
    marker = str(sites)
    serving, workers = [], 0
    for proc in psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if marker in line and ("nginx" in line or "php-fpm: master" in line):
            serving.append(proc.info["pid"])
        if "php-fpm: pool store" in line:
            workers += 1
    # nginx's workers carry no path in their title: they are the master's children.
    for pid in list(serving):
        try:
            if "nginx: master" in " ".join(psutil.Process(pid).cmdline()):
                serving += [c.pid for c in psutil.Process(pid).children()]
        except psutil.Error:
            continue
    mariadb = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "mariadbd"]
    total = _pss_kib(serving)
    return {
        "stores": stores,
        "php_workers_running": workers,
        "serving_pss_mib": round(total / 1024, 1),
        "pss_per_idle_store_mib": round(total / 1024 / stores, 2),
        "mariadb_pss_mib": round(_pss_kib(mariadb) / 1024, 1),
    }


def _wait_idle(sites: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any("php-fpm: pool store" in " ".join(p.info["cmdline"] or [])
                   for p in psutil.process_iter(["cmdline"])):  # fmt: skip
            return
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument("--density", type=int, default=200, help="stores for the idle figures")
    parser.add_argument("--results", type=Path, default=REPO / "bench/results/serve-local.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    stores_db = _services_env().get("STOREFLEET_STORES_DB_URL")
    if not stores_db:
        sys.exit("run scripts/services.sh first (no STOREFLEET_STORES_DB_URL)")
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "command": " ".join(["bench/serve.py", *sys.argv[1:]]),
    }
    sites = Path("/var/tmp/storefleet-tests") / f"bench-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="storefleet-bench-") as tmp:
        data = Path(tmp) / "var"
        settings = Settings(
            env=Environment.test, data_dir=data, sites_dir=sites, releases_dir=TEST_RELEASES,
            artifacts=artifacts(), secret_key=secrets.token_urlsafe(48),
            stores_db_url=stores_db, stores_db_prefix=f"bench{secrets.token_hex(2)}_",
            stores_http_port=free_port(),
        )  # fmt: skip
        prepare(settings).close()
        env = process_env(settings, STOREFLEET_MAX_LIVE_STORES="100000",
                          STOREFLEET_MAX_CREATIONS_PER_HOUR="100000")  # fmt: skip
        (Path(tmp) / "logs").mkdir()
        procs = PlatformProcesses(env, Path(tmp) / "logs", free_port())
        procs.start("api")
        procs.start("worker")
        script = Path(tmp) / "report.lua"
        script.write_text(WRK_REPORT)
        try:
            api = Api.login(procs.url, ADMIN_EMAIL, ADMIN_PASSWORD)
            _provision(api, ["bench-serve", "bench-neighbour"])
            items = api.http.get("/api/stores", params={"limit": 500}).json()["items"]
            by_name = {s["name"]: s for s in items}
            for s in by_name.values():
                s["_site"] = str(settings.stores_path / s["uid"] / "site")
            store, neighbour = by_name["bench-serve"], by_name["bench-neighbour"]
            product = httpx.get(
                store["url"], params={"rest_route": "/wc/store/v1/products"}, timeout=30
            ).json()[0]["permalink"]
            product_path = product.removeprefix(store["url"])
            report["pages"] = _pages(store, args.seconds, script, product)
            report["orders"] = {
                "one shopper": _orders(store["url"], 20, 1),
                "16 shoppers": _orders(store["url"], 64, 16),
            }
            report["isolation"] = _isolation(store, neighbour, product_path)
            report["idle"] = _density(api, sites, args.density)
        finally:
            procs.stop()
            leave_nothing_behind([data, sites], stores_db, settings.stores_db_prefix)
            shutil.rmtree(sites, ignore_errors=True)
    _print(report)
    args.results.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.results}")


def _density(api: Api, sites: Path, target: int) -> dict[str, Any]:
    figures = []
    made = 2
    for step in sorted({10, 100, target}):
        if step <= made:
            continue
        names = [f"idle-{n}" for n in range(made, step)]
        start = time.monotonic()
        for i in range(0, len(names), 10):
            _provision_quietly(api, names[i : i + 10])
        took = time.monotonic() - start
        made = step
        _wait_idle(sites)
        figure = _idle_cost(sites, made)
        figure["provisioned_in_s"] = round(took, 1)
        figures.append(figure)
        print(f"{made} stores: {figure}", flush=True)
    last = figures[-1]
    per_store = last["pss_per_idle_store_mib"] + last["mariadb_pss_mib"] / last["stores"]
    memory_mib = psutil.virtual_memory().total / 2**20
    return {
        "figures": figures,
        "per_store_with_mariadb_share_mib": round(per_store, 2),
        "stores_in_this_machines_memory": int(memory_mib * 0.8 / per_store),
    }


def _provision_quietly(api: Api, names: list[str]) -> None:
    for name in names:
        resp = api.create_store(name, sample_products=False)
        assert resp.status_code == 202, resp.text
    deadline = time.monotonic() + 900
    while True:
        items = api.http.get("/api/stores", params={"limit": 500, "status": "ready"}).json()
        ready = {s["name"] for s in items["items"]}
        if set(names) <= ready:
            return
        assert time.monotonic() < deadline, "stores not ready in 15 minutes"
        time.sleep(2)


def _print(report: dict[str, Any]) -> None:
    pages = report["pages"]
    print(f"page: {pages['page_bytes']} bytes")
    for key, value in pages.items():
        if key == "page_bytes":
            continue
        errors = value["errors"] + value["non2xx"]
        print(f"{key:<34} {value['requests_per_s']:>9.1f} req/s  p50 {value['p50_ms']:8.2f} ms"
              f"  p95 {value['p95_ms']:8.2f} ms  errors {errors}")  # fmt: skip
    static16 = pages["static file (the ceiling) @16"]["requests_per_s"]
    cached16 = pages["product page, cached @16"]
    cached1 = pages["product page, cached @1"]
    uncached1 = pages["product page, uncached @1"]
    share = cached16["requests_per_s"] / static16
    print(f"cached product p50 @1: {cached1['p50_ms']:.2f} ms (target ≤ 1 ms): "
          f"{'met' if cached1['p50_ms'] <= 1 else 'MISSED'}")  # fmt: skip
    print(f"cached product @16: {share:.0%} of the static file's requests/s (target ≥ 40 %): "
          f"{'met' if share >= 0.4 else 'MISSED'}")  # fmt: skip
    print(f"uncached product p50 @1: {uncached1['p50_ms']:.1f} ms (target ≤ 100 ms): "
          f"{'met' if uncached1['p50_ms'] <= 100 else 'MISSED'}")  # fmt: skip
    for name, value in report["orders"].items():
        print(f"order, {name}: p50 {value['p50_ms']} ms, p95 {value['p95_ms']} ms, "
              f"{value['orders_per_s']} orders/s")  # fmt: skip
    iso = report["isolation"]
    print(f"neighbour's uncached page under two CPU-burning requests: {iso['ratio']}x "
          f"(target ≤ 2x): {'met' if iso['ratio'] <= 2 else 'MISSED'}")  # fmt: skip
    idle = report["idle"]
    for figure in idle["figures"]:
        per = figure["pss_per_idle_store_mib"]
        print(f"{figure['stores']:>5} idle stores: {per} MiB PSS a store (target ≤ 5 MiB), "
              f"MariaDB {figure['mariadb_pss_mib']} MiB in all")  # fmt: skip
    print(
        f"with MariaDB's share {idle['per_store_with_mariadb_share_mib']} MiB a store: "
        f"about {idle['stores_in_this_machines_memory']} idle stores in 80 % of this machine"
    )


if __name__ == "__main__":
    main()
