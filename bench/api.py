"""How fast the API answers (issue 20): requests/s and latency of

- ``GET /healthz`` (no database, no sign-in: the ceiling of the process),
- ``GET /api/auth/me`` (a sign-in's token: the session row and the user),
- ``GET /api/stores?limit=50`` (the first page of the store list, newest first),
- ``GET /api/stores/{id}`` (one store with its steps),

with wrk at 32 connections (and at 1: what one request costs alone), against
``storefleet api`` as a real process, on SQLite (the embedded default, one
process) and on PostgreSQL (the test server of var/services.env, a scratch
database dropped afterwards), with 10 and with 10,000 stores. The stores are
rows written straight into the platform database (each with a finished
provision operation of seven steps, as a provisioned store has), never
provisioned, owned by merchants (50 each); the requests are the admin's,
who sees every store. The rate limit is raised out of the way.

Prints each figure against its target — an authenticated read at ≥ 40 % of
``/healthz``'s requests/s and p50 ≤ 10 ms at 32 connections; a page of 50
stores p50 ≤ 50 ms at 10,000 stores — and writes everything, with the date,
the machine and its load, to bench/results/api.json (or --results).
``--profile DIR`` also records where the API process spends its time (py-spy,
collapsed stacks and a summary per endpoint) while wrk runs.

    .venv/bin/python bench/api.py [--seconds 10] [--databases sqlite,postgresql]
        [--stores 10,10000] [--profile DIR] [--results FILE]

Run it from another checkout (its ``.venv/bin/python bench/api.py``, this
file copied there) to compare two versions with the same command.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from bench.provision import _machine
from bench.serve import WRK_REPORT
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from tests.conftest import _services_env, free_port
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, Api, PlatformProcesses, prepare, process_env

from storefleet.auth.models import User
from storefleet.config import Environment, Settings
from storefleet.stores.models import Store, StoreOperation, StoreStep

REPO = Path(__file__).resolve().parents[1]
CONNECTIONS = 32
#: An authenticated read's share of /healthz's requests/s, and its p50 at 32 connections.
TARGET_SHARE, TARGET_P50_MS = 0.40, 10.0
#: A page of 50 stores at 10,000 stores.
TARGET_PAGE_P50_MS = 50.0
STORES_PER_MERCHANT = 50
STEPS = ("secrets", "endpoint", "database", "files", "install", "server", "verify")
ENDPOINTS = ("/healthz", "/api/auth/me", "/api/stores?limit=50", "/api/stores/{id}")
READS = ENDPOINTS[1:]


def _insert_stores(url: str, count: int) -> int:
    """``count`` ready stores (newest last), each with a finished provision
    operation and its steps, as rows; returns the id of one in the middle."""
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    tag = secrets.token_hex(3)
    with engine.begin() as conn:
        # Merchants own the stores, STORES_PER_MERCHANT each (they never sign
        # in here: their password hash is a placeholder); the admin sees all.
        merchants = (count + STORES_PER_MERCHANT - 1) // STORES_PER_MERCHANT
        conn.execute(insert(User), [
            {"email": f"merchant-{tag}-{n}@example.com", "password_hash": "-", "role": "member",
             "is_active": True, "created_at": now} for n in range(merchants)
        ])  # fmt: skip
        owners = (
            conn.execute(
                select(User.id).where(User.email.like(f"merchant-{tag}-%")).order_by(User.id)
            )
            .scalars()
            .all()
        )
        for start in range(0, count, 1000):
            batch = range(start, min(count, start + 1000))
            conn.execute(insert(Store), [
                _store_row(n, tag, owners[n // STORES_PER_MERCHANT], now, count) for n in batch
            ])  # fmt: skip
        rows = conn.execute(select(Store.id).order_by(Store.id)).scalars().all()
        ops = [{"store_id": sid, "kind": "provision", "status": "succeeded", "params": {},
                "result": {}, "requested_by": ADMIN_EMAIL, "created_at": now,
                "finished_at": now, "duration_seconds": 4.5} for sid in rows]  # fmt: skip
        for start in range(0, len(ops), 1000):
            conn.execute(insert(StoreOperation), ops[start : start + 1000])
        op_ids = conn.execute(
            select(StoreOperation.id, StoreOperation.store_id).order_by(StoreOperation.id)
        ).all()
        steps = [{"store_id": sid, "operation_id": oid, "operation": "provision",
                  "position": i, "name": name, "status": "succeeded", "attempt": 1,
                  "started_at": now, "finished_at": now, "duration_seconds": 0.5}
                 for oid, sid in op_ids for i, name in enumerate(STEPS)]  # fmt: skip
        for start in range(0, len(steps), 5000):
            conn.execute(insert(StoreStep), steps[start : start + 5000])
    engine.dispose()
    return int(rows[len(rows) // 2])


def _store_row(n: int, tag: str, owner: int, now: dt.datetime, count: int) -> dict[str, Any]:
    name = f"bench-{tag}-{n}"
    return {
        "owner_id": owner, "name": name, "uid": secrets.token_hex(8), "live_name": name,
        "driver": "local", "desired": "present", "phase": "ready",
        "admin_email": "merchant@example.com", "sample_products": True, "plan": "small",
        "wordpress_version": "7.0.4", "woocommerce_version": "11.0.1",
        "url": f"http://{name}.localhost:8080/", "admin_url": f"http://{name}.localhost:8080/wp-admin/",
        "port": 20000 + n, "created_at": now - dt.timedelta(seconds=count - n),
        "updated_at": now, "ready_at": now, "health_failures": 0,
    }  # fmt: skip


def _wrk(url: str, token: str | None, connections: int, seconds: float, script: Path) -> dict:
    args = ["wrk", "-t", str(min(2, connections)), "-c", str(connections),
            "-d", f"{seconds:g}s", "--timeout", "10s", "-s", str(script)]  # fmt: skip
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["requests_per_s"] = round(result["requests"] / result["seconds"], 1)
    return result


@contextlib.contextmanager
def _profiling(pids: list[int], out: Path | None) -> Iterator[None]:
    """py-spy records the API's processes (their stacks, collapsed) meanwhile."""
    if out is None:
        yield
        return
    py_spy = str(Path(sys.executable).parent / "py-spy")
    spies = []
    for pid in pids:
        where = str(out.with_suffix(f".{pid}.txt"))
        args = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "250",
                "--gil", "--nonblocking", "--output", where]  # fmt: skip
        spies.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(2)
            spy.wait(timeout=60)


def _summarise_profile(out: Path) -> dict[str, Any]:
    """Where the samples were: the share of samples in which each of our
    functions (and some library hot spots) is on the stack, and at the top."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in sorted(out.parent.glob(out.name.removesuffix(".txt") + ".*.txt")):
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            count = int(n)
            frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 2)[-1]
                      for f in stack.split(";") if f]  # fmt: skip
            total += count
            for frame in set(frames):
                inclusive[frame] += count
            if frames:
                own[frames[-1]] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "on_stack": {k: round(v / total, 3) for k, v in inclusive.most_common(60)},
        "at_top": {k: round(v / total, 3) for k, v in own.most_common(30)},
    }


def _slug(endpoint: str) -> str:
    return endpoint.split("?")[0].strip("/").replace("/", "_").replace("{id}", "id")


def _cpu_seconds(pids: list[int]) -> float:
    import psutil

    times = [psutil.Process(pid).cpu_times() for pid in pids]
    return sum(t.user + t.system for t in times)


def _api_pids(procs: PlatformProcesses) -> list[int]:
    import psutil

    main = psutil.Process(procs.procs["api"].pid)
    children = [c.pid for c in main.children(recursive=True)]
    return children or [main.pid]


def _measure(
    base: str, token: str, store_id: int, seconds: float, script: Path,
    profile: Path | None, pids: list[int],
) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        path = endpoint.replace("{id}", str(store_id))
        auth = None if endpoint == "/healthz" else token
        _wrk(base + path, auth, CONNECTIONS, 2, script)  # warm up
        where = None
        if profile is not None:
            where = profile / (_slug(endpoint) + ".txt")
        cpu = _cpu_seconds(pids)
        with _profiling(pids, where):
            at32 = _wrk(base + path, auth, CONNECTIONS, seconds, script)
        # What a request costs the API's processes, whatever else the machine runs.
        at32["api_cpu_ms_per_request"] = round(
            (_cpu_seconds(pids) - cpu) * 1000 / max(1, at32["requests"]), 3
        )
        alone = _wrk(base + path, auth, 1, max(3.0, seconds / 2), script)
        out[endpoint] = {f"@{CONNECTIONS}": at32, "@1": alone}
        if where is not None:
            out[endpoint]["profile"] = _summarise_profile(where)
        print(f"  {endpoint:<22} {at32['requests_per_s']:>8.1f} req/s  p50 {at32['p50_ms']:7.2f} ms"
              f"  p99 {at32['p99_ms']:7.2f} ms  errors {at32['errors'] + at32['non2xx']}"
              f"  CPU {at32['api_cpu_ms_per_request']:5.2f} ms/request"
              f"   alone: p50 {alone['p50_ms']:6.2f} ms", flush=True)  # fmt: skip
    return out


@contextlib.contextmanager
def _database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'platform.db'}"
        return
    admin = _services_env().get("STOREFLEET_TEST_POSTGRES_URL")
    if not admin:
        sys.exit("run scripts/services.sh first (no STOREFLEET_TEST_POSTGRES_URL)")
    name = f"sfbench_{secrets.token_hex(4)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _run(kind: str, stores: int, args: argparse.Namespace, script: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="storefleet-bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        with _database(kind, tmp) as url:
            settings = Settings(
                env=Environment.test, data_dir=tmp / "var", database_url=url,
                secret_key=secrets.token_urlsafe(48),
            )  # fmt: skip
            prepare(settings).close()
            started = time.monotonic()
            store_id = _insert_stores(url, stores)
            inserted = time.monotonic() - started
            extra = {"STOREFLEET_API_REQUESTS_PER_MINUTE_PER_TOKEN": "100000000",
                     "STOREFLEET_API_REQUESTS_PER_MINUTE_PER_ADDRESS": "100000000",
                     "STOREFLEET_LOG_FORMAT": "json"}  # fmt: skip
            (tmp / "logs").mkdir()
            procs = PlatformProcesses(process_env(settings, **extra), tmp / "logs", free_port())
            try:
                _start_api(procs)
                api = Api.login(procs.url, ADMIN_EMAIL, ADMIN_PASSWORD)
                token = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
                assert api.http.get("/api/stores", params={"limit": 50}).status_code == 200
                profile = None
                if args.profile is not None:
                    profile = args.profile / f"{kind}-{stores}"
                    profile.mkdir(parents=True, exist_ok=True)
                print(f"{kind}, {stores} stores ({inserted:.1f} s to insert), one API process",
                      flush=True)  # fmt: skip
                figures = _measure(procs.url, token, store_id, args.seconds, script, profile,
                                   _api_pids(procs))  # fmt: skip
            finally:
                procs.stop()
    return {"database": kind, "stores": stores, "api_workers": 1, "endpoints": figures}


def _start_api(procs: PlatformProcesses, timeout: float = 600) -> None:
    """The API, waited for longer than the tests do: on a machine other
    sessions load to 20 its start alone has taken over a minute."""
    proc = procs.start("api", wait=None)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited: {procs.logs()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(procs.url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the API did not start")  # the caller stops it


def _verdicts(run: dict[str, Any]) -> list[str]:
    lines = []
    figures = run["endpoints"]
    ceiling = figures["/healthz"][f"@{CONNECTIONS}"]["requests_per_s"]
    for endpoint in READS:
        at32 = figures[endpoint][f"@{CONNECTIONS}"]
        share = at32["requests_per_s"] / ceiling if ceiling else 0.0
        ok = share >= TARGET_SHARE and at32["p50_ms"] <= TARGET_P50_MS
        lines.append(
            f"{run['database']:>10} {run['stores']:>6} stores  {endpoint:<22} "
            f"{share:5.0%} of /healthz (≥ {TARGET_SHARE:.0%}), p50 {at32['p50_ms']:6.2f} ms "
            f"(≤ {TARGET_P50_MS:g} ms): {'met' if ok else 'MISSED'}"
        )
    if run["stores"] >= 10_000:
        p50 = figures["/api/stores?limit=50"][f"@{CONNECTIONS}"]["p50_ms"]
        lines.append(
            f"{run['database']:>10} {run['stores']:>6} stores  a page of 50: p50 {p50:.2f} ms "
            f"(≤ {TARGET_PAGE_P50_MS:g} ms): {'met' if p50 <= TARGET_PAGE_P50_MS else 'MISSED'}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="each wrk run at 32 connections")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--stores", default="10,10000")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy's stacks go here")
    parser.add_argument("--results", type=Path, default=REPO / "bench/results/api.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "command": " ".join(["bench/api.py", *sys.argv[1:]]),
        "connections": CONNECTIONS,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="storefleet-bench-wrk-") as tmp:
        script = Path(tmp) / "report.lua"
        script.write_text(WRK_REPORT)
        for kind in args.databases.split(","):
            for stores in (int(n) for n in args.stores.split(",")):
                report["runs"].append(_run(kind, stores, args, script))
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print()
    verdicts = [line for run in report["runs"] for line in _verdicts(run)]
    print("\n".join(verdicts))
    report["verdicts"] = verdicts
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average at start {report['machine']['load_average_at_start']}, "
          f"at end {report['load_average_at_end']}; written to {args.results}")  # fmt: skip


if __name__ == "__main__":
    main()
