"""Staging copies and push to live, end to end (issue 19, acceptance c):
real API and worker processes, MariaDB, PHP with WordPress and WooCommerce.

A live store with a stocked product → a staging copy (its own address,
noindex, offline payments only, its mail kept and never sent) → the price
changed and a page added on staging while a shopper orders on live → push
both → live has the new price and page AND the order (wp-admin and
/wc/v3/orders), the stock the order left, and its next order a fresh
number → a push that fails (injected) leaves live as it was → a refresh
brings live's orders into the copy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pymysql
import pytest

from storefleet import smoke
from tests.conftest import free_port
from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform, store_password
from tests.support import Api


class _SmtpTrap:
    """A TCP listener where a store's SMTP setting points: it counts the
    connections (each one is a mail that tried to leave) and refuses them."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(b"554 5.3.2 StoreFleet test trap: no mail here\r\n")

    def close(self) -> None:
        self.sock.close()


def _point_smtp_at(platform: LocalPlatform, uid: str, port: int) -> None:
    """Give the store an SMTP server (as the Kubernetes chart would)."""
    config = platform.store_dir(uid) / "site" / "wp-config.php"
    text = config.read_text()
    defines = (
        f"define('STOREFLEET_SMTP_HOST', '127.0.0.1');\ndefine('STOREFLEET_SMTP_PORT', {port});\n"
    )
    config.write_text(
        text.replace("if (!defined('ABSPATH'))", defines + "if (!defined('ABSPATH'))")
    )


def _opcache_rereads_config() -> None:
    """Wait until the stores' PHP runs the wp-config.php just changed.

    php-fpm's opcache checks a cached script's modification time only once its
    last check is opcache.revalidate_freq seconds old (2: php-fpm.conf.j2),
    counted in whole seconds of the request's start. A store that served a
    request just before the change runs its old wp-config.php for up to about
    3 s: live's order mail went to its mailbox, not to the SMTP server, when
    the order came within that window. More than 3 s after the write every
    request sees the new file."""
    time.sleep(3.5)


def _store_db(platform: LocalPlatform, uid: str) -> pymysql.connections.Connection[Any]:
    url = platform.stores_db.url
    return pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password,
        database=platform.db_names(uid), autocommit=True,
    )  # fmt: skip


def _write(client: httpx.Client, route: str, body: dict[str, Any]) -> Any:
    resp = client.post("/", params={"rest_route": route}, json=body)
    assert resp.status_code in (200, 201), f"{route}: {resp.status_code} {resp.text[:300]}"
    return resp.json()


def _mail(api: Api, store_id: int) -> list[dict[str, Any]]:
    resp = api.http.get(f"/api/stores/{store_id}/mail")
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def _page_text(url: str, page_id: int) -> str:
    resp = httpx.get(url.rstrip("/") + "/", params={"page_id": page_id}, timeout=30,
                     follow_redirects=True)  # fmt: skip
    assert resp.status_code == 200, resp.status_code
    return resp.text


def _own_file(platform: LocalPlatform, uid: str, rel: str) -> Path:
    return platform.store_dir(uid) / "site" / "wp-content" / rel


def _cli(platform: LocalPlatform, api: Api, *args: str) -> str:
    token = api.http.headers["Authorization"].split()[1]
    done = subprocess.run(
        [sys.executable, "-m", "storefleet", *args],
        env={**os.environ, "STOREFLEET_API_URL": platform.url, "STOREFLEET_TOKEN": token},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.timeout(900)
def test_staging_push_keeps_live_orders_and_a_failed_push_changes_nothing(
    local_platform: LocalPlatform,
) -> None:
    platform, api = local_platform, local_platform.admin()
    password, staging_password = store_password(), store_password()
    created = api.create_store("shop-live", admin_password=password)
    assert created.status_code == 202, created.text
    live = api.wait_for(created.json()["id"], "ready", timeout=240)
    live_admin = wordpress.admin_client(live["url"], "admin", password)
    [product] = wordpress.rest(live_admin, "/wc/v3/products", type="simple", per_page=1)
    pid = product["id"]
    _write(live_admin, f"/wc/v3/products/{pid}", {"manage_stock": True, "stock_quantity": 10})
    trap = _SmtpTrap()
    try:
        _staging_and_push(platform, api, live, pid, password, staging_password, trap)
    finally:
        trap.close()


def _staging_and_push(
    platform: LocalPlatform, api: Api, live: dict[str, Any], pid: int,
    password: str, staging_password: str, trap: _SmtpTrap,
) -> None:  # fmt: skip
    # -- a staging copy --------------------------------------------------------
    resp = api.http.post(
        f"/api/stores/{live['id']}/staging", json={"admin_password": staging_password, "days": 3}
    )
    assert resp.status_code == 202, resp.text
    copy = api.wait_for(resp.json()["id"], "ready", timeout=300)
    assert copy["staging_of_id"] == live["id"] and copy["url"] != live["url"]
    assert copy["expires_at"] is not None
    [listed] = api.http.get(f"/api/stores/{live['id']}/staging").json()
    assert listed["id"] == copy["id"]
    assert copy["name"] in _cli(platform, api, "stores", "staging", "list", live["name"])
    steps = [s["name"] for s in copy["steps"] if s["operation"] == "provision"]
    assert steps[:4] == ["source-database", "source-files", "source-store", "fetch"], steps
    assert "stage" in steps
    [source] = [b for b in api.backups(live["id"]) if b["kind"] == "staging"]
    assert source["status"] == "completed"
    # Not indexed (live is); only offline payment methods at its checkout.
    assert "noindex" in httpx.get(copy["url"], timeout=30, follow_redirects=True).text
    assert "noindex" not in httpx.get(live["url"], timeout=30, follow_redirects=True).text
    cart = httpx.get(copy["url"], params={"rest_route": "/wc/store/v1/cart"}, timeout=30).json()
    assert set(cart["payment_methods"]) <= {"cod", "bacs", "cheque"}, cart["payment_methods"]

    # -- changes on staging, an order on live meanwhile -------------------------
    # Both stores get an SMTP server: live's mail goes out to it; staging's never.
    _point_smtp_at(platform, live["uid"], trap.port)
    _point_smtp_at(platform, copy["uid"], trap.port)
    _opcache_rereads_config()
    staging_admin = wordpress.admin_client(copy["url"], "admin", staging_password)
    _write(staging_admin, f"/wc/v3/products/{pid}", {"regular_price": "123.45"})
    page = _write(
        staging_admin, "/wp/v2/pages",
        {"title": "Staging news", "status": "publish",
         "content": "Made on staging, pushed to live"},
    )  # fmt: skip
    staging_order = smoke.place_order(copy["url"], product_id=pid)
    order = smoke.place_order(live["url"], product_id=pid)
    assert trap.connections >= 1, "live's order mail did not reach its SMTP server"
    sent_by_live = trap.connections
    staging_mail = _mail(api, copy["id"])
    assert any(str(staging_order) in m["subject"] + m["text"] for m in staging_mail), staging_mail

    # -- push both --------------------------------------------------------------
    out = _cli(platform, api, "stores", "staging", "push", copy["name"], "--what", "both", "--wait")
    assert "succeeded" in out, out
    assert trap.connections == sent_by_live, "the staging copy sent mail"
    live_admin = wordpress.admin_client(live["url"], "admin", password)
    pushed = wordpress.rest(live_admin, f"/wc/v3/products/{pid}")
    assert pushed["regular_price"] == "123.45"
    assert pushed["stock_quantity"] == 9, "live's stock is not what its order left"
    assert "Made on staging, pushed to live" in _page_text(live["url"], page["id"])
    orders = {o["id"] for o in wordpress.rest(live_admin, "/wc/v3/orders", per_page=100)}
    assert order in orders and staging_order not in orders, (order, staging_order, orders)
    edit = live_admin.get("/wp-admin/admin.php", params={"page": "wc-orders", "action": "edit",
                                                         "id": order})  # fmt: skip
    assert edit.status_code == 200 and f"#{order}" in edit.text
    # Live is still live: its own address, title, indexed.
    front = httpx.get(live["url"], timeout=30, follow_redirects=True)
    assert "noindex" not in front.text and copy["url"] not in front.text
    next_order = smoke.place_order(live["url"], product_id=pid)
    assert next_order > page["id"] > order, (next_order, page["id"], order)
    [backup] = [b for b in api.backups(live["id"]) if b["kind"] == "push"]
    assert backup["status"] == "completed"

    _failed_push_changes_nothing(platform, api, live, copy, pid, password, {order, next_order})
    _refresh_brings_live_orders(api, copy, password, next_order)


def _failed_push_changes_nothing(
    platform: LocalPlatform, api: Api, live: dict[str, Any], copy: dict[str, Any], pid: int,
    password: str, orders: set[int],
) -> None:  # fmt: skip
    """A schema change on staging that live does not have: the database
    part fails after the files were pushed, and live is restored."""
    marker = _own_file(platform, copy["uid"], "uploads/only-on-staging.txt")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("pushed files")
    with _store_db(platform, copy["uid"]) as db, db.cursor() as cur:
        cur.execute(
            "UPDATE wp_postmeta SET meta_value = '99.99' "
            "WHERE post_id = %s AND meta_key IN ('_price', '_regular_price')",
            (pid,),
        )
        cur.execute("ALTER TABLE wp_posts ADD COLUMN only_on_staging INT NULL")  # fmt: skip
    resp = api.http.post(f"/api/stores/{copy['id']}/push", json={"what": "both"})
    assert resp.status_code == 202, resp.text
    failed = api.wait_operation(live["id"], resp.json()["id"], timeout=300)
    assert failed["status"] == "failed", failed
    assert "only_on_staging" in (failed["failure_reason"] or ""), failed
    rollback = next(o for o in api.operations(live["id"]) if o["kind"] == "restore")
    assert rollback["requested_by"] == f"rollback of push operation {failed['id']}"
    assert api.wait_operation(live["id"], rollback["id"], timeout=300)["status"] == "succeeded"
    api.wait_for(live["id"], "ready")
    assert not _own_file(platform, live["uid"], "uploads/only-on-staging.txt").exists()
    live_admin = wordpress.admin_client(live["url"], "admin", password)
    assert wordpress.rest(live_admin, f"/wc/v3/products/{pid}")["regular_price"] == "123.45"
    kept = {o["id"] for o in wordpress.rest(live_admin, "/wc/v3/orders", per_page=100)}
    assert orders <= kept, (orders, kept)
    with _store_db(platform, copy["uid"]) as db, db.cursor() as cur:
        cur.execute("ALTER TABLE wp_posts DROP COLUMN only_on_staging")


def _refresh_brings_live_orders(
    api: Api, copy: dict[str, Any], live_password: str, live_order: int
) -> None:
    resp = api.http.post(f"/api/stores/{copy['id']}/refresh")
    assert resp.status_code == 202, resp.text
    done = api.wait_operation(copy["id"], resp.json()["id"], timeout=300)
    assert done["status"] == "succeeded", (done["failure_reason"], done["steps"])
    # The copy has live's data now (its admin is live's: the password too),
    # and is still a staging copy.
    copy_admin = wordpress.admin_client(copy["url"], "admin", live_password)
    orders = {o["id"] for o in wordpress.rest(copy_admin, "/wc/v3/orders", per_page=100)}
    assert live_order in orders
    assert "noindex" in httpx.get(copy["url"], timeout=30, follow_redirects=True).text
    extended = api.http.post(f"/api/stores/{copy['id']}/extend", json={"days": 5})
    assert extended.status_code == 200, extended.text
    assert extended.json()["expires_at"] > copy["expires_at"]
