"""Users that keep the platform administrable, and an audit log that keeps
every sign-in and refusal with the client's address (on SQLite, MariaDB and
PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from storefleet.audit.models import AuditEvent
from storefleet.auth.models import User
from tests.integration.conftest import Platform
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, Api, process_env


def _user_id(platform: Platform, email: str) -> int:
    with platform.runtime.db.transaction(write=False) as session:
        found = session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


def _audit(admin: Api, **filters: Any) -> list[dict[str, Any]]:
    resp = admin.http.get("/api/audit", params={"limit": 500, **filters})
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(platform: Platform) -> None:
    admin = platform.admin()
    me = _user_id(platform, ADMIN_EMAIL)
    resp = admin.http.patch(f"/api/users/{me}", json={"role": "member"})
    assert resp.status_code == 409, resp.text
    assert resp.json()["detail"] == (
        f"{ADMIN_EMAIL} is the last active admin: make another user an admin first"
    )
    # A second admin may be demoted while the first remains...
    second = admin.http.post(
        "/api/users",
        json={"email": "second@example.com", "password": "second-pass", "role": "admin"},
    ).json()["id"]
    other = Api.login(platform.url, "second@example.com", "second-pass")
    assert other.http.patch(f"/api/users/{me}", json={"role": "member"}).status_code == 200
    # ...after which the second is the last one, and stays an admin.
    resp = other.http.patch(f"/api/users/{second}", json={"role": "member"})
    assert resp.status_code == 409 and "last active admin" in resp.json()["detail"]
    with platform.runtime.db.transaction(write=False) as session:
        admins = session.scalars(select(User.email).where(User.role == "admin")).all()
    assert admins == ["second@example.com"]


def test_two_admins_deactivating_each_other_at_once_leave_one(platform: Platform) -> None:
    admin = platform.admin()
    admin.http.post(
        "/api/users",
        json={"email": "twin@example.com", "password": "twin-password", "role": "admin"},
    )
    twin = Api.login(platform.url, "twin@example.com", "twin-password")
    ids = {
        ADMIN_EMAIL: _user_id(platform, ADMIN_EMAIL),
        "twin": _user_id(platform, "twin@example.com"),
    }
    jobs = [(admin, ids["twin"]), (twin, ids[ADMIN_EMAIL])]

    def deactivate(job: tuple[Api, int]) -> int:
        api, user_id = job
        return api.http.patch(f"/api/users/{user_id}", json={"is_active": False}).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(deactivate, jobs))
    # One wins; the other is refused (409), or was signed out by the first (401).
    assert codes[0] == 200 and codes[1] in (401, 409), codes
    with platform.runtime.db.transaction(write=False) as session:
        active = session.scalars(select(User.id).where(User.role == "admin", User.is_active)).all()
    assert len(active) == 1


def test_an_admin_cannot_deactivate_itself(platform: Platform) -> None:
    admin = platform.admin()
    admin.http.post(
        "/api/users", json={"email": "other@example.com", "password": "other-pass", "role": "admin"}
    )
    resp = admin.http.patch(
        f"/api/users/{_user_id(platform, ADMIN_EMAIL)}", json={"is_active": False}
    )
    assert resp.status_code == 409
    assert "your own account" in resp.json()["detail"]
    assert admin.http.get("/api/auth/me").json()["is_active"] is True


def test_changing_ones_own_password_needs_the_current_one(platform: Platform) -> None:
    admin = platform.admin()
    me = _user_id(platform, ADMIN_EMAIL)
    url = f"/api/users/{me}"
    missing = admin.http.patch(url, json={"password": "a-new-password"})
    assert missing.status_code == 403 and "current password" in missing.json()["detail"]
    wrong = admin.http.patch(url, json={"password": "a-new-password", "current_password": "nope"})
    assert wrong.status_code == 403 and "wrong" in wrong.json()["detail"]
    right = admin.http.patch(
        url, json={"password": "a-new-password", "current_password": ADMIN_PASSWORD}
    )
    assert right.status_code == 200, right.text
    Api.login(platform.url, ADMIN_EMAIL, "a-new-password")  # asserts the 200
    old = httpx.post(
        platform.url + "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert old.status_code == 401, old.text  # the old password no longer opens it
    # An admin resets another user's password without knowing it.
    member = platform.member()
    member_id = member.http.get("/api/auth/me").json()["id"]
    assert (
        admin.http.patch(f"/api/users/{member_id}", json={"password": "reset-by-admin"}).status_code
        == 200
    )
    refused = _audit(admin, action="user.update", result="failure")
    assert [e["detail"]["refused"] for e in refused] == ["current password"] * 2


def test_refusals_are_audited_even_though_their_requests_roll_back(platform: Platform) -> None:
    admin = platform.admin()
    wrong = httpx.post(
        platform.url + "/api/auth/login", json={"email": ADMIN_EMAIL, "password": "not-it"}
    )
    assert wrong.status_code == 401
    unknown = httpx.post(
        platform.url + "/api/auth/login", json={"email": "nobody@example.com", "password": "x"}
    )
    assert unknown.status_code == 401
    member = platform.member(max_live_stores=1)
    assert member.create_store("only-one").status_code == 202
    over = member.create_store("one-too-many")
    assert over.status_code == 429
    assert member.http.get("/api/users").status_code == 403

    failed = _audit(admin, action="auth.login_failed")
    assert {e["actor_email"] for e in failed} == {ADMIN_EMAIL, "nobody@example.com"}
    assert all(e["result"] == "failure" and e["client_ip"] == "127.0.0.1" for e in failed)
    member_email = member.http.get("/api/auth/me").json()["email"]
    refused = _audit(admin, actor=member_email, result="failure")
    assert [(e["action"], e["target"]) for e in refused] == [
        ("access.denied", "GET /api/users"),
        ("store.create", "store-name:one-too-many"),
    ]
    assert refused[1]["detail"] == {"refused": "live stores"}
    # The refused creation left nothing else behind.
    assert member.http.get("/api/stores").json()["total"] == 1
    # Filters: by actor (part of the email), by action, by result.
    assert {e["action"] for e in _audit(admin, actor=member_email)} == {
        "access.denied",
        "store.create",
        "auth.login",
        "user.create",
    } - {"user.create"}
    assert all(e["action"] == "auth.login" for e in _audit(admin, action="auth.login"))
    assert all(e["result"] == "success" for e in _audit(admin, result="success"))
    assert _audit(admin, actor="%") == []  # a pattern character is matched literally


def test_every_audit_row_carries_the_client_address(platform: Platform) -> None:
    admin = platform.admin()
    created = admin.http.post(
        "/api/users", json={"email": "someone@example.com", "password": "someone-pw"}
    ).json()
    admin.http.patch(f"/api/users/{created['id']}", json={"max_live_stores": 3})
    store = admin.create_store("audited-shop").json()["id"]
    admin.http.delete(f"/api/stores/{store}")
    httpx.post(platform.url + "/api/auth/login", json={"email": ADMIN_EMAIL, "password": "no"})
    with platform.runtime.db.transaction(write=False) as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.client_ip)).all()
    actions = {action for action, _ in rows}
    assert {"user.create", "user.update", "store.create", "store.delete", "auth.login",
            "auth.login_failed"} <= actions  # fmt: skip
    # The first admin was made on this host; everything else came over HTTP.
    assert all(ip for _, ip in rows), rows
    assert {ip for action, ip in rows if action != "user.create" or ip != "local"} == {"127.0.0.1"}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storefleet", "users", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_host_recovers_a_platform_without_an_admin(
    platform: Platform, make_settings: Callable[..., Any]
) -> None:
    member = platform.member("merchant@example.com")
    # However it came about (a database edit, an old bug): no admin can sign in.
    with platform.runtime.db.transaction() as session:
        session.execute(update(User).where(User.email == ADMIN_EMAIL).values(is_active=False))
    failed = httpx.post(
        platform.url + "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert failed.status_code == 401
    assert member.http.get("/api/users").status_code == 403
    env = {**os.environ, **process_env(platform.runtime.settings)}
    activated = _cli(env, "activate", ADMIN_EMAIL)
    assert activated.returncode == 0, activated.stderr
    assert "admin, active" in activated.stdout
    assert platform.admin().http.get("/api/auth/me").json()["is_active"] is True
    promoted = _cli(env, "promote", "merchant@example.com")
    assert promoted.returncode == 0, promoted.stderr
    assert member.http.get("/api/users").status_code == 200  # the role is read on each request
    assert _cli(env, "activate", "ghost@example.com").returncode == 1
    by_host = [
        e for e in _audit(platform.admin(), action="user.update") if e["client_ip"] == "local"
    ]
    assert len(by_host) == 2 and all(e["actor_email"].startswith("host:") for e in by_host)


@pytest.mark.parametrize("field", ["is_active", "role"])
def test_a_member_changes_nobody(platform: Platform, field: str) -> None:
    member = platform.member()
    value: object = False if field == "is_active" else "member"
    resp = member.http.patch(f"/api/users/{_user_id(platform, ADMIN_EMAIL)}", json={field: value})
    assert resp.status_code == 403
