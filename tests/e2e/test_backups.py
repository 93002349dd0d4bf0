"""Backups, restores and clones of local stores, end to end: real API and
worker processes, MariaDB, PHP with WordPress and WooCommerce, and a real S3
server. Each test damages what a merchant would lose and checks it is back."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pymysql
import pytest

from storefleet import smoke
from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform, store_password


def _own_file(platform: LocalPlatform, uid: str, rel: str, content: str) -> Path:
    """A file of the merchant's in the store's wp-content (owned by the store)."""
    path = platform.store_dir(uid) / "site" / "wp-content" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    owner = platform.store_owner(uid)
    if owner is not None:
        for part in [path, *path.parents]:
            if part == platform.store_dir(uid) / "site" / "wp-content":
                break
            os.chown(part, owner, owner)
    return path


def _store_db(platform: LocalPlatform, uid: str) -> pymysql.connections.Connection[Any]:
    url = platform.stores_db.url
    return pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password,
        database=platform.db_names(uid),
    )  # fmt: skip


def _order_status(url: str, password: str, order_id: int) -> int:
    admin = wordpress.admin_client(url, "admin", password)
    resp = admin.get("/", params={"rest_route": f"/wc/v3/orders/{order_id}"})
    return resp.status_code


def _backup_damage_restore(platform: LocalPlatform) -> dict[str, Any]:
    api = platform.admin()
    password = store_password()
    created = api.create_store("kept-shop", admin_password=password)
    assert created.status_code == 202, created.text
    store_id = created.json()["id"]
    store = api.wait_for(store_id, "ready", timeout=180)
    uid, url = store["uid"], store["url"]

    order_id = smoke.place_order(url)
    note = _own_file(platform, uid, "uploads/2026/11/price-list.txt", "prices: 1, 2, 3\n")

    backup = api.take_backup(store_id)
    assert backup["kind"] == "manual"
    assert backup["sha256"] and backup["size_bytes"] > 0
    assert backup["manifest"]["parts"]["database.jsonl.gz"]["size"] > 0
    assert (backup["wordpress_version"], backup["woocommerce_version"]) == ("7.0.4", "11.0.1")
    ops = api.operations(store_id)
    assert [s["name"] for s in ops[0]["steps"]] == ["database", "files", "store"]
    assert api.store(store_id)["status"] == "ready"

    # What a merchant loses: an orders table and a file of theirs.
    with _store_db(platform, uid) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE wp_wc_orders")
    note.unlink()
    assert _order_status(url, password, order_id) != 200

    resp = api.http.post(f"/api/stores/{store_id}/restore", json={"backup_id": backup["id"]})
    assert resp.status_code == 202, resp.text
    op = api.wait_operation(store_id, resp.json()["id"])
    assert op["status"] == "succeeded", op
    assert [s["name"] for s in op["steps"]] == [
        "fetch", "stop", "files", "database", "address", "server", "verify",
    ]  # fmt: skip
    restored = api.wait_for(store_id, "ready")
    assert _order_status(url, password, order_id) == 200
    assert note.read_text() == "prices: 1, 2, 3\n"
    with _store_db(platform, uid) as conn, conn.cursor() as cur:
        cur.execute("SELECT uid FROM storefleet_owner")
        assert cur.fetchall() == ((uid,),)  # the store's own marker, kept
    # And it goes on selling.
    assert smoke.place_order(url) > order_id
    assert restored["failure_reason"] is None
    return {"api": api, "store_id": store_id, "backup": backup, "uid": uid}


def test_backup_and_restore_into_a_directory(local_platform: LocalPlatform) -> None:
    result = _backup_damage_restore(local_platform)
    backup = result["backup"]
    path = local_platform.settings.backups_path / "stores" / result["uid"]
    [stored] = list(path.iterdir())
    assert stored.name == f"backup-{backup['id']}.sfb"
    data = stored.read_bytes()
    assert data[:4] == b"SFB1"
    assert b"wp_options" not in data and b"price-list" not in data  # encrypted at rest
    assert oct(stored.stat().st_mode & 0o777) == "0o600"

    # A backup changed in storage is refused, and the store is left as it was.
    api, store_id = result["api"], result["store_id"]
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    stored.write_bytes(bytes(damaged))
    resp = api.http.post(f"/api/stores/{store_id}/restore", json={"backup_id": backup["id"]})
    op = api.wait_operation(store_id, resp.json()["id"])
    assert op["status"] == "failed"
    assert "does not match its recorded digest" in op["failure_reason"]
    assert api.store(store_id)["status"] == "ready"


def test_backup_and_restore_through_s3(
    local_platform_factory: Callable[..., LocalPlatform], s3_bucket: dict[str, Any]
) -> None:
    platform = local_platform_factory(**s3_bucket["settings"])
    result = _backup_damage_restore(platform)
    client, bucket = s3_bucket["client"], s3_bucket["bucket"]
    key = f"storefleet/stores/{result['uid']}/backup-{result['backup']['id']}.sfb"
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert len(body) == result["backup"]["size_bytes"]
    assert body[:4] == b"SFB1" and b"wp_options" not in body
    assert not platform.settings.backups_path.exists() or not any(
        platform.settings.backups_path.rglob("*.sfb")
    )


def test_a_backup_cloned_into_a_new_store_sells_on_its_own(local_platform: LocalPlatform) -> None:
    api = local_platform.admin()
    password = store_password()
    created = api.create_store("original-shop", admin_password=password).json()
    original = api.wait_for(created["id"], "ready", timeout=180)
    first_order = smoke.place_order(original["url"])
    backup = api.take_backup(original["id"])

    resp = api.create_store("cloned-shop", source_backup_id=backup["id"])
    assert resp.status_code == 202, resp.text
    clone_password = resp.json()["admin_password"]
    assert clone_password and clone_password != password
    clone = api.wait_for(resp.json()["id"], "ready", timeout=240)
    steps = [s["name"] for s in clone["steps"] if s["operation"] == "provision"]
    assert steps == [
        "fetch", "secrets", "endpoint", "database", "files", "content", "data", "install",
        "upgrade", "server", "verify",
    ]  # fmt: skip
    assert clone["uid"] != original["uid"] and clone["url"] != original["url"]

    # The clone has the original's order, at its own address, and its own admin.
    assert _order_status(clone["url"], clone_password, first_order) == 200
    home = httpx.get(clone["url"], timeout=30)
    assert "cloned-shop" in home.text
    assert original["url"].rstrip("/") not in home.text
    assert not wordpress.signed_in(wordpress.login(clone["url"], "admin", password))
    with _store_db(local_platform, clone["uid"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT uid FROM storefleet_owner")
        assert cur.fetchall() == ((clone["uid"],),)
        cur.execute("SELECT option_value FROM wp_options WHERE option_name = 'siteurl'")
        assert cur.fetchone()[0].rstrip("/") == clone["url"].rstrip("/")

    # Both take orders, each into its own database.
    in_clone = smoke.place_order(clone["url"])
    in_original = smoke.place_order(original["url"])
    admin_clone = wordpress.admin_client(clone["url"], "admin", clone_password)
    admin_original = wordpress.admin_client(original["url"], "admin", password)
    clone_orders = {o["id"] for o in wordpress.rest(admin_clone, "/wc/v3/orders")}
    original_orders = {o["id"] for o in wordpress.rest(admin_original, "/wc/v3/orders")}
    assert {first_order, in_clone} <= clone_orders
    assert {first_order, in_original} <= original_orders
    assert in_original not in clone_orders or in_original == in_clone
    assert len(clone_orders) == len(original_orders) == 2


@pytest.mark.parametrize("final", [True])
def test_deletion_keeps_a_final_backup(local_platform: LocalPlatform, final: bool) -> None:
    api = local_platform.admin()
    created = api.create_store("leaving-shop", sample_products=False).json()
    api.wait_for(created["id"], "ready", timeout=180)
    assert api.http.delete(f"/api/stores/{created['id']}").status_code == 202
    deleted = api.wait_for(created["id"], "deleted", timeout=180)
    steps = [s["name"] for s in deleted["steps"] if s["operation"] == "delete"]
    assert steps[:3] == ["backup-database", "backup-files", "backup-store"]
    [final_backup] = api.backups(created["id"])
    assert final_backup["kind"] == "final" and final_backup["status"] == "completed"
    assert final_backup["expires_at"] is not None
    # The CLI finds it by the deleted store's name (no live store has it).
    token = api.http.headers["Authorization"].split()[1]
    listed = subprocess.run(
        [sys.executable, "-m", "storefleet", "stores", "backups", "leaving-shop"],
        env={**os.environ, "STOREFLEET_API_URL": local_platform.url, "STOREFLEET_TOKEN": token},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert f"{final_backup['id']:>6}" in listed.stdout and "final" in listed.stdout
    # A deleted store's final backup can be cloned back to life.
    resp = api.create_store("leaving-shop", source_backup_id=final_backup["id"])
    assert resp.status_code == 202, resp.text
    api.wait_for(resp.json()["id"], "ready", timeout=240)
