"""Time from POST /api/stores to `ready` with the local driver.

Starts a real platform (API + worker processes, SQLite, embedded queue or
Redis with --redis, MariaDB for the stores, PHP + WordPress) in a temporary
directory, creates one store, then N stores at once, and prints the times
(median and max) and the ratio to the single store. Everything it creates is
deleted at the end.

    .venv/bin/python bench/provision.py [--concurrent 10] [--redis redis://127.0.0.1:6379/7]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import _services_env, free_port
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


def _time_to_ready(api: Api, name: str) -> float:
    start = time.monotonic()
    resp = api.create_store(name)
    assert resp.status_code == 202, resp.text
    api.wait_for(resp.json()["id"], "ready", timeout=300)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrent", type=int, default=10)
    parser.add_argument("--redis", default=None)
    args = parser.parse_args()

    stores_db = _services_env().get("STOREFLEET_STORES_DB_URL")
    if not stores_db:
        sys.exit("run scripts/services.sh first (no STOREFLEET_STORES_DB_URL)")
    with tempfile.TemporaryDirectory(prefix="storefleet-bench-") as tmp:
        data = Path(tmp) / "var"
        settings = Settings(
            env=Environment.test,
            data_dir=data,
            secret_key=secrets.token_urlsafe(48),
            stores_db_url=stores_db,
            stores_db_prefix=f"bench{secrets.token_hex(2)}_",
        )
        prepare(settings).close()
        if args.redis:
            settings = settings.model_copy(update={"redis_url": args.redis})
        env = process_env(settings)
        (Path(tmp) / "logs").mkdir()
        procs = PlatformProcesses(env, Path(tmp) / "logs", free_port())
        procs.start("api")
        procs.start("worker")
        try:
            api = Api.login(procs.url, ADMIN_EMAIL, ADMIN_PASSWORD)
            single = _time_to_ready(api, "bench-single")
            names = [f"bench-{n}" for n in range(args.concurrent)]
            start = time.monotonic()
            with ThreadPoolExecutor(args.concurrent) as pool:
                times = sorted(pool.map(lambda n: _time_to_ready(api, n), names))
            wall = time.monotonic() - start
            queue = "redis" if args.redis else "embedded (SQLite)"
            print(f"queue: {queue}; worker concurrency: {settings.worker_concurrency}")
            print(f"one store, POST to ready:            {single:6.2f} s")
            median = statistics.median(times)
            print(f"{args.concurrent} stores at once, median:        {median:6.2f} s")
            print(f"{args.concurrent} stores at once, max:           {times[-1]:6.2f} s")
            print(f"{args.concurrent} stores at once, all ready after: {wall:6.2f} s")
            print(
                f"ratio median/single: {statistics.median(times) / single:.2f}; "
                f"throughput: {args.concurrent / wall * 60:.1f} stores/minute"
            )
            for page in api.http.get("/api/stores", params={"limit": 500}).json()["items"]:
                api.http.delete(f"/api/stores/{page['id']}")
            deadline = time.monotonic() + 120
            while api.http.get("/api/stores").json()["total"] and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            procs.stop()
            # Even when a run fails half-way: no PHP server or database is left.
            leave_nothing_behind(data, stores_db, settings.stores_db_prefix)


if __name__ == "__main__":
    main()
