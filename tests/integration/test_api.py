"""The HTTP API against a real server and a real platform database (SQLite and
MariaDB), without a worker: what the API promises on its own."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
from sqlalchemy import select

from storefleet import heartbeats
from storefleet.auth import tokens
from storefleet.config import Settings
from storefleet.db import utcnow
from storefleet.runtime import Runtime
from storefleet.stores.models import Store
from tests.integration.conftest import Platform
from tests.support import ADMIN_EMAIL, Api, add_member


def test_health_and_readiness(platform: Platform) -> None:
    assert httpx.get(platform.url + "/healthz").json() == {"status": "ok"}
    heartbeats.beat(platform.runtime.db, heartbeats.RECONCILER, "worker-1")
    ready = httpx.get(platform.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "queue": "ok", "reconciler": "ok"},
    }


def test_readiness_reports_a_reconciler_that_stopped_sweeping(platform: Platform) -> None:
    ready = httpx.get(platform.url + "/readyz")
    # No worker has swept yet: said, but the API itself is ready.
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["reconciler"].startswith("no sweep recorded")
    stale = platform.runtime.settings.reconciler_stale_seconds
    long_ago = utcnow() - dt.timedelta(seconds=stale + 30)
    heartbeats.beat(platform.runtime.db, heartbeats.RECONCILER, "worker-1", at=long_ago)
    ready = httpx.get(platform.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    said = ready.json()["checks"]["reconciler"]
    # (the request itself may take a second or two on a loaded machine)
    age = int(said.removeprefix("stale: the last good sweep was ").removesuffix("s ago"))
    assert said.startswith("stale: the last good sweep was ") and said.endswith("s ago"), said
    assert stale + 30 <= age <= stale + 40, said
    heartbeats.beat(platform.runtime.db, heartbeats.RECONCILER, "worker-2")
    assert httpx.get(platform.url + "/readyz").json()["status"] == "ok"


def test_sign_in_and_me(platform: Platform) -> None:
    me = platform.admin().http.get("/api/auth/me").json()
    assert me["email"] == ADMIN_EMAIL
    assert me["role"] == "admin"
    assert me["live_stores"] == 0


def test_wrong_password_is_401_then_429(platform: Platform) -> None:
    member = f"t-{secrets.token_hex(3)}@example.com"
    add_member(platform.runtime, member, "right-password")
    codes = [
        httpx.post(
            platform.url + "/api/auth/login", json={"email": member, "password": "wrong-pass"}
        ).status_code
        for _ in range(7)
    ]
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429, 429]
    # Throttled even with the right password until the window passes.
    resp = httpx.post(
        platform.url + "/api/auth/login", json={"email": member, "password": "right-password"}
    )
    assert resp.status_code == 429
    assert "Retry-After" in resp.headers
    assert "this account" in resp.json()["detail"]


def test_expired_tampered_and_missing_tokens_are_401(platform: Platform) -> None:
    key = platform.runtime.settings.signing_key()
    expired = tokens.issue(1, "admin", key=key, minutes=-1, sid="x")
    forged = jwt.encode(
        {"sub": "1", "sid": "x", "aud": "storefleet", "exp": 4102444800},
        "not-the-platform-key-but-long-enough-for-hs256",
    )
    valid = platform.admin().http.headers["Authorization"].split()[1]
    tampered = valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB")
    for token, expected in ((expired, "expired"), (forged, "Invalid"), (tampered, "Invalid")):
        resp = httpx.get(platform.url + "/api/stores", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, token
        assert expected in resp.json()["detail"]
    assert httpx.get(platform.url + "/api/stores").status_code == 401


def test_members_see_only_their_own_stores(platform: Platform) -> None:
    alice, bob = platform.member(), platform.member()
    created = alice.create_store("alice-shop", admin_password="alice-secret-1")
    assert created.status_code == 202, created.text
    store_id = created.json()["id"]

    assert bob.http.get(f"/api/stores/{store_id}").status_code == 404
    assert bob.http.get(f"/api/stores/{store_id}/events").status_code == 404
    assert bob.http.delete(f"/api/stores/{store_id}").status_code == 404
    assert bob.http.post(f"/api/stores/{store_id}/retry").status_code == 404
    assert bob.http.get("/api/stores").json()["total"] == 0
    # Nothing bob did changed the store.
    assert alice.store(store_id)["status"] == "pending"
    # Admins see every store, with its owner.
    listed = platform.admin().http.get("/api/stores").json()["items"]
    assert [(s["name"], s["owner_email"]) for s in listed] == [
        ("alice-shop", alice.http.get("/api/auth/me").json()["email"])
    ]


_INVALID: list[tuple[dict[str, object], str]] = [
    ({"name": "ab"}, "name"),
    ({"name": "Shop-one"}, "name"),
    ({"name": "1shop"}, "name"),
    ({"name": "shop-"}, "name"),
    ({"name": "shop_one"}, "name"),
    ({"name": "a" * 41}, "name"),
    ({"name": "shop one"}, "name"),
    ({"admin_email": "not-an-email"}, "admin_email"),
    ({"admin_email": ""}, "admin_email"),
    ({"admin_password": "short"}, "admin_password"),
    ({"admin_password": "x" * 129}, "admin_password"),
    ({"admin_password": 12345678}, "admin_password"),
    # WordPress could never sign these in (it trims when hashing only; a form
    # cannot carry control characters).
    ({"admin_password": " leading space"}, "admin_password"),
    ({"admin_password": "trailing space "}, "admin_password"),
    ({"admin_password": "new\nline inside"}, "admin_password"),
    ({"admin_password": "tab\tinside!"}, "admin_password"),
    ({"sample_products": "perhaps"}, "sample_products"),
]


def test_invalid_fields_are_422_naming_the_field(platform: Platform) -> None:
    admin = platform.admin()
    for body, field in _INVALID:
        full = {"name": "valid-name", "admin_email": "ok@example.com", **body}
        resp = admin.http.post("/api/stores", json=full)
        assert resp.status_code == 422, (body, resp.text)
        errors = resp.json()["detail"]
        assert [e["field"] for e in errors] == [field], body
        assert errors[0]["msg"].startswith(f"{field}: "), body
    assert admin.http.get("/api/stores").json()["total"] == 0


def test_missing_fields_are_422(platform: Platform) -> None:
    resp = platform.admin().http.post("/api/stores", json={})
    assert resp.status_code == 422
    assert sorted(e["field"] for e in resp.json()["detail"]) == ["admin_email", "name"]


def test_generated_password_is_shown_once_and_stored_encrypted(platform: Platform) -> None:
    admin = platform.admin()
    resp = admin.create_store("generated-pw")
    assert resp.status_code == 202
    password = resp.json()["admin_password"]
    assert password and len(password) >= 16
    store_id = resp.json()["id"]
    assert "admin_password" not in admin.store(store_id)
    assert password not in admin.http.get("/api/stores").text
    with platform.runtime.db.transaction(write=False) as session:
        enc = session.scalar(select(Store.admin_password_enc).where(Store.id == store_id))
    assert enc and password not in enc
    assert platform.runtime.box.open(enc) == password
    # A chosen password is never echoed back.
    chosen = admin.create_store("chosen-pw", admin_password="my-own-password")
    assert chosen.json()["admin_password"] is None


def test_queue_gets_the_id_after_commit_and_nothing_on_conflict(platform: Platform) -> None:
    admin = platform.admin()
    queue = platform.runtime.queue
    before = queue.pending_count()
    first = admin.create_store("queued-shop", admin_password="queue-secret-9")
    assert first.status_code == 202
    assert queue.pending_count() == before + 1
    assert admin.create_store("queued-shop").status_code == 409
    assert queue.pending_count() == before + 1
    raw = b"".join(m if isinstance(m, bytes) else str(m).encode() for m in queue.raw_messages())
    assert b"queue-secret-9" not in raw


def test_concurrent_creations_of_one_name(platform: Platform) -> None:
    a, b = platform.member(), platform.member()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda api: api.create_store("same-name").status_code, [a, b]))
    assert sorted(results) == [202, 409]


def test_fifty_concurrent_creations_respect_quotas_exactly(platform: Platform) -> None:
    members = [platform.member() for _ in range(5)]
    jobs = [(m, f"s{i}-{n}") for i, m in enumerate(members) for n in range(10)]

    def create(job: tuple[Api, str]) -> tuple[int, int, str]:
        api, name = job
        resp = api.create_store(name)
        return members.index(api), resp.status_code, resp.text

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(create, jobs))
    per_member = Counter((i, code) for i, code, _ in results)
    for i in range(5):
        assert per_member[(i, 202)] == 5, results
        assert per_member[(i, 429)] == 5, results
    assert all("at most 5 live stores" in text for _, code, text in results if code == 429)
    for m in members:
        assert m.http.get("/api/stores").json()["total"] == 5


def test_hourly_creation_limit(platform: Platform) -> None:
    member = platform.member(max_creations_per_hour=2)
    first = member.create_store("hourly-one").json()["id"]
    assert member.create_store("hourly-two").status_code == 202
    assert member.http.delete(f"/api/stores/{first}").status_code == 202
    resp = member.create_store("hourly-three")
    assert resp.status_code == 429
    assert "per hour" in resp.json()["detail"]


def test_retry_needs_a_failed_store_and_delete_is_idempotent(platform: Platform) -> None:
    admin = platform.admin()
    store_id = admin.create_store("retry-shop").json()["id"]
    resp = admin.http.post(f"/api/stores/{store_id}/retry")
    assert resp.status_code == 409
    assert "failed" in resp.json()["detail"]
    assert admin.http.delete(f"/api/stores/{store_id}").json()["status"] == "deleting"
    assert admin.http.delete(f"/api/stores/{store_id}").status_code == 202
    assert admin.http.get("/api/stores/999999").status_code == 404


def _names(api: Api, **params: Any) -> tuple[list[str], int]:
    """Every page of the store list, following its cursors; and its total."""
    names: list[str] = []
    while True:
        r = api.http.get("/api/stores", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        names += [s["name"] for s in page["items"]]
        if page["next_cursor"] is None:
            return names, page["total"]
        assert len(page["items"]) == params["limit"]
        params["cursor"] = page["next_cursor"]


def test_store_list_pages_by_cursor_filters_and_sorts(platform: Platform) -> None:
    admin, member = platform.admin(), platform.member(max_live_stores=5)
    for n in range(3):
        assert admin.create_store(f"page-{n}").status_code == 202
    assert member.create_store("other-1").status_code == 202
    page = admin.http.get("/api/stores", params={"limit": 2}).json()
    assert page["total"] == 4
    assert [s["name"] for s in page["items"]] == ["other-1", "page-2"]
    rest = admin.http.get("/api/stores", params={"limit": 2, "cursor": page["next_cursor"]})
    assert [s["name"] for s in rest.json()["items"]] == ["page-1", "page-0"]
    assert rest.json()["next_cursor"] is None
    # A store created meanwhile does not shift the pages after the cursor.
    assert admin.create_store("page-3").status_code == 202
    again = admin.http.get("/api/stores", params={"limit": 2, "cursor": page["next_cursor"]})
    assert [s["name"] for s in again.json()["items"]] == ["page-1", "page-0"]
    assert _names(admin, limit=2, sort="name") == (
        ["other-1", "page-0", "page-1", "page-2", "page-3"], 5,
    )  # fmt: skip
    assert _names(admin, limit=1, sort="-name", name_prefix="page-") == (
        ["page-3", "page-2", "page-1", "page-0"], 4,
    )  # fmt: skip
    assert _names(admin, limit=3, sort="created_at")[0] == [
        "page-0", "page-1", "page-2", "other-1", "page-3",
    ]  # fmt: skip
    # LIKE's wildcards are plain characters in a prefix.
    assert _names(admin, limit=5, name_prefix="%") == ([], 0)
    assert _names(admin, limit=5, name_prefix="page_") == ([], 0)
    member_id = member.http.get("/api/auth/me").json()["id"]
    assert _names(admin, limit=5, owner_id=member_id) == (["other-1"], 1)
    # A member sees only their own stores, whatever owner they ask for.
    assert _names(member, limit=5, owner_id=1) == (["other-1"], 1)
    # A cursor of another sort, or none of ours, is refused with a reason.
    for cursor, sort in ((page["next_cursor"], "name"), ("bm90LWEtY3Vyc29y", "-created_at")):
        bad = admin.http.get("/api/stores", params={"limit": 2, "cursor": cursor, "sort": sort})
        assert bad.status_code == 422
        assert "cursor" in bad.json()["detail"]
    assert admin.http.get("/api/stores", params={"sort": "uid"}).status_code == 422


def test_user_management_and_audit_log_are_for_admins(platform: Platform) -> None:
    admin, member = platform.admin(), platform.member()
    assert member.http.get("/api/users").status_code == 403
    assert member.http.get("/api/audit").status_code == 403
    new = admin.http.post(
        "/api/users",
        json={"email": "new@example.com", "password": "new-password", "role": "member"},
    )
    assert new.status_code == 201
    dup = admin.http.post(
        "/api/users", json={"email": "NEW@example.com", "password": "new-password"}
    )
    assert dup.status_code == 409
    user_id = new.json()["id"]
    patched = admin.http.patch(f"/api/users/{user_id}", json={"is_active": False})
    assert patched.json()["is_active"] is False
    login = httpx.post(
        platform.url + "/api/auth/login",
        json={"email": "new@example.com", "password": "new-password"},
    )
    assert login.status_code == 401
    actions = [e["action"] for e in admin.http.get("/api/audit").json()["items"]]
    assert "user.create" in actions and "user.update" in actions and "auth.login" in actions
    assert "new-password" not in admin.http.get("/api/audit").text


def test_the_stream_sends_changes_the_user_may_see(platform: Platform) -> None:
    alice, bob = platform.member(), platform.member()
    token = alice.http.headers["Authorization"].split()[1]
    received: list[str] = []

    def listen() -> None:
        with httpx.stream(
            "GET",
            platform.url + "/api/stores/stream",
            headers={"Authorization": f"Bearer {token}"},
            timeout=20,
        ) as resp:
            assert resp.status_code == 200
            for line in resp.iter_lines():
                received.append(line)
                if line.startswith("data:") and "alice-live" in line:
                    return

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(listen)
        deadline = time.monotonic() + 10
        while not any(line.startswith("event: ready") for line in received):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert bob.create_store("bob-hidden").status_code == 202
        assert alice.create_store("alice-live").status_code == 202
        future.result(timeout=20)
    assert any("alice-live" in line for line in received)
    assert not any("bob-hidden" in line for line in received)
    assert httpx.get(platform.url + "/api/stores/stream", timeout=5).status_code == 401


def test_bootstrap_is_idempotent_and_takes_the_password_from_a_file(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    pw_file = tmp_path / "admin-password"
    pw_file.write_text("first-password-123\n")
    env = {**os.environ, "STOREFLEET_DATA_DIR": str(tmp_path / "var"),
           "STOREFLEET_SECRET_KEY": "k" * 40}  # fmt: skip
    env.pop("STOREFLEET_ADMIN_PASSWORD", None)
    argv = [sys.executable, "-m", "storefleet", "bootstrap", "--admin-password-file", str(pw_file)]
    for _ in range(2):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "admin admin@example.com is in place" in done.stdout
    pw_file.write_text("second-password-456")
    assert subprocess.run(argv, env=env, capture_output=True, timeout=120).returncode == 0
    listed = subprocess.run(
        [sys.executable, "-m", "storefleet", "users", "list"], env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert listed.stdout.count("admin@example.com") == 1
    from storefleet.auth import passwords, repository

    runtime = Runtime(Settings(data_dir=tmp_path / "var", secret_key="k" * 40))
    with runtime.db.transaction(write=False) as session:
        admin = repository.by_email(session, "admin@example.com")
        assert admin is not None and admin.is_admin
        assert passwords.verify_password(admin.password_hash, "second-password-456")
    runtime.close()
