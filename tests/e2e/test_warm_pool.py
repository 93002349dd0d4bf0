"""The warm pool end to end: real API and worker processes, the local
driver, MariaDB, PHP, WordPress and WooCommerce. "Create store" adopts a
standby, which becomes a store that keeps nothing of its standby life, and
the pool refills behind it. How fast: bench/provision.py --pool."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pymysql
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from storefleet import smoke
from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform, store_password


def _pool(url: str, token: str) -> dict[str, int]:
    """storefleet_warm_pool_stores by phase, from /metrics."""
    resp = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200, resp.text
    return {
        sample.labels["phase"]: int(sample.value)
        for family in text_string_to_metric_families(resp.text)
        for sample in family.samples
        if sample.name == "storefleet_warm_pool_stores"
    }


def _wait_pool(url: str, token: str, ready: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while (pool := _pool(url, token)).get("ready", 0) < ready:
        assert time.monotonic() < deadline, f"the pool did not fill: {pool}"
        time.sleep(0.5)


def _standbys(platform: LocalPlatform) -> list[dict[str, Any]]:
    engine = create_engine(platform.settings.effective_database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, name, uid, url FROM stores "
                    "WHERE standby AND phase = 'ready' ORDER BY id"
                )
            )
            return [dict(r._mapping) for r in rows]
    finally:
        engine.dispose()


def _store_db(platform: LocalPlatform, uid: str, password: str | None = None) -> Any:
    url = platform.stores_db.url
    user, database = url.username, platform.db_names(uid)
    if password is not None:  # as the store's own database user
        user = database
    return pymysql.connect(
        host=url.host, port=url.port or 3306, user=user,
        password=password if password is not None else url.password, database=database,
    )  # fmt: skip


def _secrets(platform: LocalPlatform, uid: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((platform.store_dir(uid) / "secrets.json").read_text())
    return data


def _standby_life(platform: LocalPlatform, standby: dict[str, Any]) -> str:
    """Live a little as a standby: a known admin password that signs in
    (a session), and a shopper's order (a WooCommerce session, a mail)."""
    with _store_db(platform, standby["uid"]) as conn, conn.cursor() as cur:
        # WordPress still accepts an MD5 hash (and upgrades it at sign-in).
        cur.execute(
            "UPDATE wp_users SET user_pass = MD5('standby-secret') WHERE user_login = 'admin'"
        )
        conn.commit()
    assert wordpress.signed_in(wordpress.login(standby["url"], "admin", "standby-secret"))
    return str(smoke.place_order(standby["url"]))


def _answers(url: str) -> int:
    try:
        return httpx.get(url, timeout=10).status_code
    except httpx.HTTPError:
        return 0


def test_create_store_adopts_a_standby_that_keeps_nothing_of_its_life(
    local_platform_factory: Any,
) -> None:
    platform: LocalPlatform = local_platform_factory(warm_pool_size=2)
    api = platform.admin()
    made = api.http.post("/api/tokens", json={"name": "scraper", "scopes": ["metrics"]})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    _wait_pool(platform.url, token, 2)
    standbys = _standbys(platform)
    assert len(standbys) == 2
    listed = api.http.get("/api/stores").json()
    assert listed["total"] == 0 and listed["items"] == [], "standbys are nobody's stores"
    first = standbys[0]
    standby_order = _standby_life(platform, first)
    old_secrets = _secrets(platform, first["uid"])

    # Two creations at once: each adopts a standby of its own.
    password = store_password()
    bodies = [
        {"name": "pooled-shop", "admin_password": password, "admin_email": "pool@example.com"},
        {
            "name": "bare-pooled-shop",
            "admin_password": password,
            "admin_email": "pool@example.com",
            "sample_products": False,
        },
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(2) as threads:
        answers = list(threads.map(lambda b: api.create_store(str(b.pop("name")), **b), bodies))
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    ids = [a.json()["id"] for a in answers]
    stores = [api.wait_for(i, "ready", timeout=120) for i in ids]
    print(f"\nPOST → ready for both: {time.monotonic() - started:.2f}s")
    assert sorted(ids) == sorted(s["id"] for s in standbys), "each took a standby"
    for store in stores:
        ops = api.operations(store["id"])
        assert ops[0]["kind"] == "adopt" and ops[0]["status"] == "succeeded", ops[0]
        assert [s["name"] for s in ops[0]["steps"]] == [
            "secrets", "endpoint", "database", "config", "install", "server", "verify",
        ]  # fmt: skip
        events = api.http.get(f"/api/stores/{store['id']}/events").json()
        text_ = json.dumps(events)
        # Its timeline starts with the merchant's request (not the standby's).
        assert events[0]["message"].startswith("Store requested by"), events[0]
        assert "adopted from the warm pool" in text_ and "Standby store" not in text_
    pooled = next(s for s in stores if s["name"] == "pooled-shop")
    bare = next(s for s in stores if s["name"] == "bare-pooled-shop")
    # Either took the standby that lived a little.
    lived = next(s for s in stores if s["id"] == first["id"])
    assert lived["url"] != first["url"] and f"{lived['name']}." in lived["url"]

    # Nothing of its standby life: the old name, admin password, session,
    # order, mail and secrets are gone; the merchant's admin signs in.
    # (Its database first: signing in below makes a session.)
    new_secrets = _secrets(platform, first["uid"])
    assert new_secrets["db_password"] != old_secrets["db_password"]
    assert all(new_secrets[k] != v for k, v in old_secrets.items() if k.endswith(("KEY", "SALT")))
    try:
        _store_db(platform, first["uid"], old_secrets["db_password"]).close()
        raise AssertionError("the standby's database password still works")
    except pymysql.err.OperationalError:
        pass
    with _store_db(platform, first["uid"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT user_login, user_email FROM wp_users")
        assert cur.fetchall() == (("admin", "pool@example.com"),)
        cur.execute("SELECT COUNT(*) FROM wp_woocommerce_sessions")
        assert cur.fetchone() == (0,)
        cur.execute("SELECT COUNT(*) FROM wp_usermeta WHERE meta_key = 'session_tokens'")
        assert cur.fetchone() == (0,)
        cur.execute("SELECT COUNT(*) FROM wp_options WHERE option_name LIKE '\\_transient\\_%'")
        transients = cur.fetchone()
    mail = [
        json.loads(p.read_text())
        for p in (platform.store_dir(first["uid"]) / "mail").glob("*.json")
    ]
    assert [m["to"] for m in mail] == [["pool@example.com"]], mail  # the new-site mail only
    print(f"transients after adoption: {transients}; the standby's order was {standby_order}")

    assert _answers(first["url"]) == 404
    assert not wordpress.signed_in(wordpress.login(lived["url"], "admin", "standby-secret"))
    lived_admin = wordpress.admin_client(lived["url"], "admin", password)
    assert wordpress.rest(lived_admin, "/wc/v3/orders") == []
    assert lived["name"] in httpx.get(lived["url"], timeout=30).text

    # It sells: a shopper's order, seen by its admin; the bare store has no products.
    index = httpx.get(pooled["url"], params={"rest_route": "/"}, timeout=60)
    assert index.status_code == 200, (index.status_code, index.text[-800:])
    order = smoke.place_order(pooled["url"])
    admin = wordpress.admin_client(pooled["url"], "admin", password)
    assert [o["id"] for o in wordpress.rest(admin, "/wc/v3/orders")] == [order]
    assert len(wordpress.store_products(pooled["url"])) > 0
    assert wordpress.store_products(bare["url"]) == []

    # The pool refills with new standbys; the adopted stores stay the merchant's.
    _wait_pool(platform.url, token, 2)
    assert {s["id"] for s in _standbys(platform)}.isdisjoint(ids)
    assert sorted(s["name"] for s in api.http.get("/api/stores").json()["items"]) == [
        "bare-pooled-shop", "pooled-shop",
    ]  # fmt: skip
