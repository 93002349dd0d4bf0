"""Day-2 operations of a local store holding 1,000 orders: how long a backup,
a restore and a fleet upgrade take.

Starts a real platform (API + worker processes, SQLite, the local driver,
MariaDB for the stores, PHP) in a temporary directory; moves the platform's
releases to WordPress 6.9.7 + WooCommerce 10.9.4, creates a store with sample
products, adds --orders orders to it (bench/generate-orders.php, as the
store's own user), then measures:

- a backup (POST → completed) and its size, to a directory, or to the S3
  server of scripts/services.sh with --s3;
- a restore of that backup (POST → succeeded), checking every order is back;
- a fleet upgrade of that store to 7.0.4 + 11.0.1 (backup, new files,
  database upgrades, the checkout test), with each step's time.

Prints the figures and writes them, with the date and the machine, to
bench/results/day2-local.json. Everything it creates is deleted at the end.

    .venv/bin/python bench/day2.py [--orders 1000] [--s3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.provision import _machine
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


def _orders(settings: Settings, uid: str, stores_db: str) -> int:
    from sqlalchemy.engine import make_url

    url = make_url(stores_db)
    conn = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password,
        database=f"{settings.stores_db_prefix}{uid}",
    )  # fmt: skip
    with conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM wp_wc_orders WHERE type = 'shop_order'")
        return int(cur.fetchone()[0])


def _owner(settings: Settings, uid: str) -> int | None:
    root = settings.sites_path / "uids"
    for entry in root.iterdir() if root.is_dir() else []:
        if entry.read_text().strip() == uid:
            return int(entry.name)
    return None


def _wait_fleet(api: Api, upgrade_id: int) -> dict[str, Any]:
    while True:
        data: dict[str, Any] = api.http.get(f"/api/fleet/upgrades/{upgrade_id}").json()
        if data["status"] != "running":
            return data
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--s3", action="store_true", help="back up to the S3 server")
    parser.add_argument("--results", type=Path, default=REPO / "bench/results/day2-local.json")
    args = parser.parse_args()

    env_values = _services_env()
    stores_db = env_values.get("STOREFLEET_STORES_DB_URL")
    if not stores_db:
        sys.exit("run scripts/services.sh first (no STOREFLEET_STORES_DB_URL)")
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "command": " ".join(["bench/day2.py", *sys.argv[1:]]),
    }
    sites = Path("/var/tmp/storefleet-tests") / f"bench-{secrets.token_hex(4)}"
    bucket = None
    s3: Any = None
    with tempfile.TemporaryDirectory(prefix="storefleet-bench-") as tmp:
        data = Path(tmp) / "var"
        extra: dict[str, Any] = {}
        if args.s3:
            import boto3
            from botocore.config import Config

            bucket = f"sfbench-{secrets.token_hex(4)}"
            s3 = boto3.client(
                "s3", endpoint_url=env_values["STOREFLEET_TEST_S3_ENDPOINT"],
                region_name="us-east-1",
                aws_access_key_id=env_values["STOREFLEET_TEST_S3_ACCESS_KEY"],
                aws_secret_access_key=env_values["STOREFLEET_TEST_S3_SECRET_KEY"],
                config=Config(s3={"addressing_style": "path"},
                              request_checksum_calculation="when_required"),
            )  # fmt: skip
            s3.create_bucket(Bucket=bucket)
            extra = {
                "backup_target": "s3",
                "backup_s3_endpoint": env_values["STOREFLEET_TEST_S3_ENDPOINT"],
                "backup_s3_bucket": bucket,
                "backup_s3_access_key": env_values["STOREFLEET_TEST_S3_ACCESS_KEY"],
                "backup_s3_secret_key": env_values["STOREFLEET_TEST_S3_SECRET_KEY"],
            }
        settings = Settings(
            env=Environment.test, data_dir=data, sites_dir=sites, releases_dir=TEST_RELEASES,
            artifacts=artifacts(), secret_key=secrets.token_urlsafe(48), stores_db_url=stores_db,
            stores_db_prefix=f"bench{secrets.token_hex(2)}_", reconcile_interval_seconds=1,
            backup_schedule_hours=0, **extra,
        )  # fmt: skip
        prepare(settings).close()
        (Path(tmp) / "logs").mkdir()
        procs = PlatformProcesses(process_env(settings), Path(tmp) / "logs", free_port())
        procs.start("api")
        procs.start("worker")
        try:
            api = Api.login(procs.url, ADMIN_EMAIL, ADMIN_PASSWORD)
            old = api.http.post(
                "/api/fleet/upgrades", json={"wordpress": "6.9.7", "woocommerce": "10.9.4"}
            )
            assert old.status_code == 202, old.text
            created = api.create_store("bench-orders").json()
            store = api.wait_for(created["id"], "ready", timeout=600)
            uid = store["uid"]

            site = settings.stores_path / uid / "site"
            owner = _owner(settings, uid)
            start = time.monotonic()
            made = subprocess.run(  # type: ignore[call-overload]
                ["php", "-d", "memory_limit=512M", str(REPO / "bench/generate-orders.php"),
                 str(site), str(args.orders)],
                cwd=site, capture_output=True, text=True, check=False, timeout=3600,
                **({"user": owner, "group": owner, "extra_groups": []} if owner else {}),
            )  # fmt: skip
            assert made.returncode == 0, made.stdout + made.stderr
            orders = _orders(settings, uid, stores_db)
            assert orders >= args.orders, orders
            report["orders"] = {"count": orders, "generated_s": round(time.monotonic() - start, 1)}

            start = time.monotonic()
            backup = api.take_backup(store["id"], timeout=3600)
            backup_s = time.monotonic() - start
            ops = api.operations(store["id"])
            steps = {s["name"]: _step_s(s) for s in ops[0]["steps"]}
            report["backup"] = {
                "target": backup["target"],
                "seconds": round(backup_s, 2),
                "size_mib": round(backup["size_bytes"] / 2**20, 2),
                "database_rows": backup["manifest"]["database"]["rows"],
                "steps_s": steps,
            }

            start = time.monotonic()
            resp = api.http.post(f"/api/stores/{store['id']}/restore",
                                 json={"backup_id": backup["id"]})  # fmt: skip
            op = api.wait_operation(store["id"], resp.json()["id"], timeout=3600)
            restore_s = time.monotonic() - start
            assert op["status"] == "succeeded", op
            assert _orders(settings, uid, stores_db) == orders
            report["restore"] = {
                "seconds": round(restore_s, 2),
                "steps_s": {s["name"]: _step_s(s) for s in op["steps"]},
                "orders_after": orders,
            }

            start = time.monotonic()
            upgrade = api.http.post(
                "/api/fleet/upgrades", json={"wordpress": "7.0.4", "woocommerce": "11.0.1"}
            ).json()
            done = _wait_fleet(api, upgrade["id"])
            upgrade_s = time.monotonic() - start
            assert done["status"] == "succeeded", done
            [op] = [o for o in api.operations(store["id"]) if o["kind"] == "upgrade"]
            report["fleet_upgrade"] = {
                "from": "WordPress 6.9.7 + WooCommerce 10.9.4",
                "to": "WordPress 7.0.4 + WooCommerce 11.0.1",
                "stores": len(done["stores"]),
                "seconds_per_store": round(op["duration_seconds"], 2),
                "request_to_done_s": round(upgrade_s, 2),
                "steps_s": {s["name"]: _step_s(s) for s in op["steps"]},
            }
            assert _orders(settings, uid, stores_db) == orders
        finally:
            procs.stop()
            leave_nothing_behind([data, sites], stores_db, settings.stores_db_prefix)
            shutil.rmtree(sites, ignore_errors=True)
            if bucket and s3 is not None:
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    for item in page.get("Contents", []):
                        s3.delete_object(Bucket=bucket, Key=item["Key"])
                s3.delete_bucket(Bucket=bucket)

    b, r, u = report["backup"], report["restore"], report["fleet_upgrade"]
    print(f"store with {report['orders']['count']} orders "
          f"(generated in {report['orders']['generated_s']} s)")  # fmt: skip
    print(f"backup ({b['target']}):  {b['seconds']:7.2f} s, {b['size_mib']} MiB encrypted, "
          f"{b['database_rows']} rows; steps {b['steps_s']}")  # fmt: skip
    print(f"restore:        {r['seconds']:7.2f} s; steps {r['steps_s']}")
    print(f"fleet upgrade:  {u['seconds_per_store']:7.2f} s per store ({u['from']} → {u['to']}); "
          f"steps {u['steps_s']}")  # fmt: skip
    args.results.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(args.results.read_text()) if args.results.exists() else []
    results.append(report)
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    print(f"recorded in {args.results}")


def _step_s(step: dict[str, Any]) -> float | None:
    if not step.get("started_at") or not step.get("finished_at"):
        return None
    start = dt.datetime.fromisoformat(step["started_at"])
    end = dt.datetime.fromisoformat(step["finished_at"])
    return round((end - start).total_seconds(), 2)


if __name__ == "__main__":
    main()
