"""Provisioning time with the local driver.

Starts a real platform (API + worker processes, SQLite, embedded queue or
Redis with --redis, MariaDB for the stores, PHP, the pinned WordPress and
WooCommerce) in a temporary directory and measures:

- POST /api/stores → `ready` for one store, then for N created at once
  (median, max, throughput); every store has WooCommerce and sample products.
  The platform runs with its default timings (the reconciler's sweep every
  10 s, wp-cron every 60 s); one watcher lists the stores every 0.25 s.

- with ``--pool N``: POST → `ready` for N stores made one after another,
  with a warm pool of N standbys filled beforehand (each store adopts one)
  and without a pool (each provisioned); p50 and max of each, polled every
  50 ms. ``--only-pool`` skips the rest.

How fast stores answer their shoppers, and what idle stores cost: serve.py.

Prints the figures and writes them, with the date and the machine, to
bench/results/provision-local.json (or to --results FILE). Everything it
creates is deleted at the end.

    .venv/bin/python bench/provision.py [--concurrent 10] [--redis URL]
        [--worker-concurrency N] [--pool N [--only-pool]]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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

from storefleet.config import Environment, Settings

REPO = Path(__file__).resolve().parents[1]
PAGES = {"home": "", "shop": "shop/", "product": "product/beanie/"}


def _provision(api: Api, names: list[str]) -> list[float]:
    """POST one store per name, all at once; return the seconds from each
    POST to the moment the store was seen `ready`, sorted. One watcher lists
    the stores every 0.25 s, as a dashboard watches a fleet; a poller per
    store would put its own load on the two cores being measured."""

    def post(name: str) -> tuple[float, httpx.Response]:
        start = time.monotonic()
        return start, api.create_store(name)

    with ThreadPoolExecutor(len(names)) as pool:
        posted = list(pool.map(post, names))
    pending: dict[int, float] = {}
    for start, resp in posted:
        assert resp.status_code == 202, resp.text
        pending[int(resp.json()["id"])] = start
    times = []
    deadline = time.monotonic() + 600
    while pending:
        assert time.monotonic() < deadline, f"stores not ready within 600 s: {sorted(pending)}"
        items = api.http.get("/api/stores", params={"limit": 500}).json()["items"]
        seen = time.monotonic()
        for store in items:
            if store["id"] not in pending:
                continue
            if store["status"] == "ready":
                times.append(seen - pending.pop(store["id"]))
            elif store["status"] == "failed":
                raise AssertionError(f"{store['name']} failed: {store.get('failure_reason')}")
        time.sleep(0.25)
    return sorted(times)


def _one_by_one(api: Api, names: list[str]) -> list[tuple[float, str, dict[str, float]]]:
    """POST each store after the previous one is ready; (seconds from the
    POST to `ready`, polled every 50 ms, the operation that made it and its
    steps' seconds)."""
    out = []
    for name in names:
        start = time.monotonic()
        resp = api.create_store(name)
        assert resp.status_code == 202, resp.text
        store_id = resp.json()["id"]
        while True:
            store = api.http.get(f"/api/stores/{store_id}").json()
            if store["status"] == "ready":
                break
            assert store["status"] != "failed", store.get("failure_reason")
            assert time.monotonic() - start < 600, f"{name} not ready in 600 s"
            time.sleep(0.05)
        took = time.monotonic() - start
        op = api.operations(store_id)[0]  # the one that made it (newest first)
        steps = {
            st["name"]: round(
                (
                    dt.datetime.fromisoformat(st["finished_at"])
                    - dt.datetime.fromisoformat(st["started_at"])
                ).total_seconds(),
                3,
            )
            for st in op["steps"]
            if st["started_at"] and st["finished_at"]
        }
        out.append((took, op["kind"], steps))
    return out


def _wait_pool(procs: PlatformProcesses, settings: Settings, ready: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.effective_database_url)
    deadline = time.monotonic() + 900
    try:
        while True:
            with engine.connect() as conn:
                n = conn.scalar(
                    text("SELECT COUNT(*) FROM stores WHERE standby AND phase = 'ready'")
                )
            if (n or 0) >= ready:
                return
            assert time.monotonic() < deadline, f"the pool did not fill: {n} of {ready}"
            time.sleep(0.5)
    finally:
        engine.dispose()


def _pool_phase(settings: Settings, tmp: Path, size: int) -> dict[str, object]:
    """N stores one by one without a pool, then with a pool of N."""
    result: dict[str, object] = {"stores": size}
    for label, pool in (("without_pool", 0), ("with_pool", size)):
        run = settings.model_copy(update={"warm_pool_size": pool})
        logs = tmp / f"logs-{label}"
        logs.mkdir()
        procs = PlatformProcesses(process_env(run), logs, free_port())
        procs.start("api")
        procs.start("worker")
        try:
            api = Api.login(procs.url, ADMIN_EMAIL, ADMIN_PASSWORD)
            if pool:
                _wait_pool(procs, run, pool)
            load = [round(x, 2) for x in os.getloadavg()]
            runs = _one_by_one(api, [f"{label.replace('_', '-')}-{n}" for n in range(size)])
            times = [t for t, _, _ in runs]
            result[label] = {
                "p50_s": round(statistics.median(times), 2),
                "max_s": round(max(times), 2),
                "each_s": [round(t, 2) for t in times],
                "made_by": [kind for _, kind, _ in runs],
                "steps_s": [steps for _, _, steps in runs],
                "load_average_before": load,
            }
            for page in api.http.get("/api/stores", params={"limit": 500}).json()["items"]:
                api.http.delete(f"/api/stores/{page['id']}", params={"final_backup": "false"})
            deadline = time.monotonic() + 180
            while api.http.get("/api/stores").json()["total"] and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            procs.stop()
    return result


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _page_times(url: str, requests: int) -> dict[str, dict[str, float]]:
    out = {}
    with httpx.Client(timeout=30) as http:
        for name, path in PAGES.items():
            http.get(url + path)  # warm: the first view compiles and fills caches
            times = []
            for _ in range(requests):
                start = time.perf_counter()
                resp = http.get(url + path)
                times.append((time.perf_counter() - start) * 1000)
                assert resp.status_code == 200, (path, resp.status_code)
            out[name] = {
                "p50_ms": round(_percentile(times, 50), 1),
                "p95_ms": round(_percentile(times, 95), 1),
            }
    return out


def _machine() -> dict[str, object]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    php = subprocess.run(["php", "-v"], capture_output=True, text=True, check=False).stdout
    return {
        "host": platform.node(),
        "os": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "php": php.splitlines()[0] if php else None,
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrent", type=int, default=10)
    parser.add_argument("--redis", default=None)
    parser.add_argument(
        "--worker-concurrency", type=int, default=None,
        help="steps one worker runs at once (default: the platform's default)",
    )  # fmt: skip
    parser.add_argument("--pool", type=int, default=0, help="also measure a warm pool of N")
    parser.add_argument("--only-pool", action="store_true", help="measure only the warm pool")
    parser.add_argument("--results", type=Path, default=REPO / "bench/results/provision-local.json")
    args = parser.parse_args()
    if args.only_pool and not args.pool:
        parser.error("--only-pool needs --pool N")

    stores_db = _services_env().get("STOREFLEET_STORES_DB_URL")
    if not stores_db:
        sys.exit("run scripts/services.sh first (no STOREFLEET_STORES_DB_URL)")
    report: dict[str, object] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "command": " ".join(["bench/provision.py", *sys.argv[1:]]),
    }
    sites = Path("/var/tmp/storefleet-tests") / f"bench-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="storefleet-bench-") as tmp:
        data = Path(tmp) / "var"
        settings = Settings(
            env=Environment.test,
            data_dir=data,
            sites_dir=sites,
            releases_dir=TEST_RELEASES,
            artifacts=artifacts(),
            secret_key=secrets.token_urlsafe(48),
            stores_db_url=stores_db,
            stores_db_prefix=f"bench{secrets.token_hex(2)}_",
            warm_pool_size=0,  # each store provisioned, unless --pool
        )
        prepare(settings).close()
        if args.redis:
            settings = settings.model_copy(update={"redis_url": args.redis})
        if args.worker_concurrency:
            settings = settings.model_copy(update={"worker_concurrency": args.worker_concurrency})
        try:
            if args.pool:
                report["pool"] = _pool_phase(settings, Path(tmp), args.pool)
            if not args.only_pool:
                report["provision"] = _measure(settings, Path(tmp), args.concurrent, args.redis)
        finally:
            # Even when a run fails half-way: no PHP server or database is left.
            leave_nothing_behind([data, sites], stores_db, settings.stores_db_prefix)
            shutil.rmtree(sites, ignore_errors=True)
    _print(report, args.concurrent)
    if args.results.exists() and args.only_pool:  # keep the other figures of the file
        previous = json.loads(args.results.read_text())
        report = {**previous, **{k: v for k, v in report.items() if k != "provision"}}
    args.results.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.results}")


def _measure(
    settings: Settings, tmp: Path, concurrent: int, redis: str | None
) -> dict[str, object]:
    """One store, then ``concurrent`` at once, each provisioned."""
    (tmp / "logs").mkdir()
    procs = PlatformProcesses(process_env(settings), tmp / "logs", free_port())
    procs.start("api")
    procs.start("worker")
    try:
        api = Api.login(procs.url, ADMIN_EMAIL, ADMIN_PASSWORD)
        (single,) = _provision(api, ["bench-single"])
        start = time.monotonic()
        times = _provision(api, [f"bench-{n}" for n in range(concurrent)])
        wall = time.monotonic() - start
        for page in api.http.get("/api/stores", params={"limit": 500}).json()["items"]:
            api.http.delete(f"/api/stores/{page['id']}")
        deadline = time.monotonic() + 180
        while api.http.get("/api/stores").json()["total"] and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        procs.stop()
    return {
        "queue": "redis" if redis else "embedded (SQLite)",
        "worker_concurrency": settings.worker_concurrency,
        "one_store_s": round(single, 2),
        "concurrent": concurrent,
        "concurrent_median_s": round(statistics.median(times), 2),
        "concurrent_max_s": round(times[-1], 2),
        "all_ready_after_s": round(wall, 2),
        "stores_per_minute": round(concurrent / wall * 60, 1),
    }


def _print(report: dict[str, object], concurrent: int) -> None:
    p = report.get("provision")
    if isinstance(p, dict):
        print(f"queue: {p['queue']}; worker concurrency: {p['worker_concurrency']}")
        print(f"one store, POST to ready:             {p['one_store_s']:6.2f} s   (target ≤ 6 s)")
        median = p["concurrent_median_s"]
        print(f"{concurrent} stores at once, median:          {median:6.2f} s   (target ≤ 15 s)")
        print(f"{concurrent} stores at once, max:             {p['concurrent_max_s']:6.2f} s")
        print(f"ratio median/single: {p['concurrent_median_s'] / p['one_store_s']:.2f}; "
              f"throughput: {p['stores_per_minute']} stores/minute")  # fmt: skip
    pool = report.get("pool")
    if isinstance(pool, dict):
        with_, without = pool["with_pool"], pool["without_pool"]
        assert isinstance(with_, dict) and isinstance(without, dict)
        n = pool["stores"]
        print(f"{n} stores one by one, no pool, p50:       {without['p50_s']:6.2f} s "
              f"(max {without['max_s']:.2f} s)")  # fmt: skip
        print(
            f"{n} stores one by one, pool of {n}, p50:    {with_['p50_s']:6.2f} s "
            f"(max {with_['max_s']:.2f} s; target p50 < 1 s; made by {with_['made_by']})"
        )
        print(f"ratio with/without the pool: {with_['p50_s'] / without['p50_s']:.2f}")


if __name__ == "__main__":
    main()
