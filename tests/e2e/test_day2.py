"""Suspend and resume, health after ready, and the metrics, end to end with
the local driver: real API and worker processes, MariaDB, PHP, WordPress."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from storefleet import smoke
from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform, store_password
from tests.support import Api


def _events(api: Api, store_id: int) -> list[dict[str, Any]]:
    resp = api.http.get(f"/api/stores/{store_id}/events")
    assert resp.status_code == 200
    data: list[dict[str, Any]] = resp.json()
    return data


def _wait(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.3)


def test_a_suspended_store_stops_selling_and_resumes_with_its_data(
    local_platform: LocalPlatform,
) -> None:
    api = local_platform.admin()
    member_email = "suspended-owner@example.com"
    local_platform.add_member(member_email, max_live_stores=1)
    member = Api.login(local_platform.url, member_email, "member-password")
    password = store_password()
    created = member.create_store("paused-shop", admin_password=password).json()
    store = member.wait_for(created["id"], "ready", timeout=180)
    before = smoke.place_order(store["url"])

    resp = member.http.post(f"/api/stores/{store['id']}/suspend")
    assert resp.status_code == 202, resp.text
    assert member.wait_operation(store["id"], resp.json()["id"])["status"] == "succeeded"
    assert member.store(store["id"])["status"] == "suspended"
    page = httpx.get(store["url"], timeout=10)
    assert page.status_code == 503
    assert "Store unavailable" in page.text
    shop = httpx.get(store["url"], params={"rest_route": "/wc/store/v1/products"}, timeout=10)
    assert shop.status_code == 503  # no Store API: nothing can be ordered
    assert local_platform.php_servers(store["uid"]) == []  # the store's PHP is not running
    # Still counts toward the live-store quota.
    assert member.http.get("/api/auth/me").json()["live_stores"] == 1
    assert member.create_store("second-shop").status_code == 429
    audit = api.http.get("/api/audit").json()["items"]
    assert any(a["action"] == "store.suspend" and a["actor_email"] == member_email for a in audit)
    # Suspending twice is refused; the page stays up through a sweep.
    assert member.http.post(f"/api/stores/{store['id']}/suspend").status_code == 409
    time.sleep(2)
    assert httpx.get(store["url"], timeout=10).status_code == 503

    resp = member.http.post(f"/api/stores/{store['id']}/resume")
    assert resp.status_code == 202, resp.text
    assert member.wait_operation(store["id"], resp.json()["id"])["status"] == "succeeded"
    assert member.store(store["id"])["status"] == "ready"
    after = smoke.place_order(store["url"])
    admin = wordpress.admin_client(store["url"], "admin", password)
    orders = {o["id"] for o in wordpress.rest(admin, "/wc/v3/orders")}
    assert {before, after} <= orders

    # A suspended store can be deleted: its "unavailable" page goes too.
    resp = member.http.post(f"/api/stores/{store['id']}/suspend")
    member.wait_operation(store["id"], resp.json()["id"])
    assert member.http.delete(f"/api/stores/{store['id']}").status_code == 202
    member.wait_for(store["id"], "deleted", timeout=120)
    gone = httpx.get(store["url"], timeout=3)
    assert gone.status_code == 404, "a deleted store's name is no store's"
    assert "No store answers" in gone.text


def test_a_dead_store_is_restarted_and_a_broken_one_degrades_until_repaired(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    platform = local_platform_factory(
        health_interval_seconds=1, health_failures_before_degraded=2, health_deep_seconds=0
    )
    api = platform.admin()
    created = api.create_store("watched-shop", sample_products=False).json()
    store = api.wait_for(created["id"], "ready", timeout=180)

    # Its php-fpm dies: the next request starts it again (the activator holds
    # its socket), and the store stays ready.
    [server] = platform.php_servers(store["uid"])
    os.killpg(server.pid, signal.SIGKILL)
    _wait("php-fpm gone", lambda: platform.php_servers(store["uid"]) == [])
    page = httpx.get(store["url"], timeout=30, headers={"Cookie": "wordpress_no_cache=1"})
    assert page.status_code == 200
    [again] = platform.php_servers(store["uid"])
    assert again.pid != server.pid
    assert api.store(store["id"])["status"] == "ready"

    # It answers, but not as a shop: degraded, with the reason.
    index = platform.store_dir(store["uid"]) / "site" / "index.php"
    moved = index.with_name("index.php.away")
    index.rename(moved)
    try:
        degraded = api.wait_for(store["id"], "degraded", timeout=60)
        # nginx finds no index.php (403 for the directory, 404 for the script).
        reason = degraded["failure_reason"]
        assert "answered 403" in reason or "answered 404" in reason, degraded
        assert any(e["message"].startswith("Degraded:") for e in _events(api, store["id"]))
    finally:
        moved.rename(index)
    healed = api.wait_for(store["id"], "ready", timeout=60)
    assert healed["failure_reason"] is None
    assert any("Healthy again" in e["message"] for e in _events(api, store["id"]))


def _metrics(url: str, token: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def _value(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:  # fmt: skip
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_as_stores_are_created_fail_and_are_deleted(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    platform = local_platform_factory(start_worker=False, log_format="json")
    api = platform.admin()
    scrape = api.http.post("/api/tokens", json={"name": "prometheus", "scopes": ["metrics"]})
    token = scrape.json()["token"]
    assert httpx.get(platform.url + "/metrics", timeout=30).status_code == 401
    start = _metrics(platform.url, token)
    assert _value(start, "storefleet_stores", phase="ready") == 0
    assert _value(start, "storefleet_database_up") == 1

    # One store that fails (its database name is taken), one that gets ready.
    doomed = api.create_store("doomed-shop", sample_products=False).json()
    name = platform.db_names(doomed["uid"])
    with platform.stores_db.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}`"))
        conn.execute(text(f"CREATE TABLE `{name}`.wp_users (ID INT PRIMARY KEY)"))
    created = api.create_store("counted-shop", sample_products=False).json()
    queued = _metrics(platform.url, token)
    assert _value(queued, "storefleet_stores", phase="pending") == 2
    assert _value(queued, "storefleet_queue_depth") >= 2
    assert _value(queued, "storefleet_queue_oldest_pending_seconds") > 0
    assert _value(queued, "storefleet_reconciler_last_sweep_age_seconds") == -1  # no worker yet

    platform.procs.start("worker")
    api.wait_for(doomed["id"], "failed", timeout=120)
    api.wait_for(created["id"], "ready", timeout=180)
    _wait("a reconciler sweep", lambda: _value(_metrics(platform.url, token),
          "storefleet_reconciler_last_sweep_age_seconds") >= 0)  # fmt: skip
    ready = _metrics(platform.url, token)
    assert _value(ready, "storefleet_stores", phase="ready") == 1
    assert _value(ready, "storefleet_stores", phase="failed") == 1
    assert _value(ready, "storefleet_operation_failures_total",
                  kind="provision", step="database", reason="permanent") == 1  # fmt: skip
    assert _value(ready, "storefleet_operation_duration_seconds_count",
                  kind="provision", status="succeeded") == 1  # fmt: skip
    assert _value(ready, "storefleet_step_duration_seconds_count",
                  operation="provision", step="install") == 1  # fmt: skip
    assert _value(ready, "storefleet_stores_without_backup") == 1
    assert _value(ready, "storefleet_queue_oldest_pending_seconds") == 0

    backup = api.take_backup(created["id"])  # completed, or it fails
    assert backup["size_bytes"] > 0
    httpx.post(platform.url + "/api/auth/login",
               json={"email": "admin@example.com", "password": "not-the-password"})  # fmt: skip
    assert api.http.delete(f"/api/stores/{created['id']}").status_code == 202
    api.wait_for(created["id"], "deleted", timeout=120)
    end = _metrics(platform.url, token)
    assert _value(end, "storefleet_stores", phase="ready") == 0
    assert _value(end, "storefleet_stores", phase="deleted") == 1
    assert _value(end, "storefleet_backups_taken_total", kind="manual", target="dir") == 1
    assert _value(end, "storefleet_backups_taken_total", kind="final", target="dir") == 1
    assert _value(end, "storefleet_login_failures_total") >= 1
    assert _value(end, "storefleet_operation_duration_seconds_count",
                  kind="delete", status="succeeded") == 1  # fmt: skip

    # STOREFLEET_LOG_FORMAT=json: every line the API and the worker logged is
    # a JSON object (uvicorn's access log included).
    lines = [ln for ln in platform.procs.logs().splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["logger"] == "uvicorn.access" for r in records)
    assert any(r["logger"].startswith("storefleet.operations") for r in records)
