"""API tokens, sign-out, two-factor sign-in, /metrics and webhook
registration: the real API on a real socket and a real platform database."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import select, text

from storefleet.auth.models import ApiToken, RecoveryCode, User
from tests.integration.conftest import Platform
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, Api, process_env


def _bearer(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _token(api: Api, *scopes: str, name: str = "ci", **body: object) -> dict[str, object]:
    resp = api.http.post("/api/tokens", json={"name": name, "scopes": list(scopes), **body})
    assert resp.status_code == 201, resp.text
    data: dict[str, object] = resp.json()
    return data


def test_a_read_token_lists_but_cannot_create_and_revoked_or_signed_out_are_401(
    platform: Platform,
) -> None:
    """Acceptance (e)."""
    admin = platform.admin()
    created = _token(admin, "read")
    secret = str(created["token"])
    assert secret.startswith("sfp_") and created["scopes"] == ["read"]
    reader = _bearer(platform.url, secret)

    listed = reader.get("/api/stores")
    assert listed.status_code == 200, listed.text
    refused = reader.post("/api/stores", json={"name": "via-token", "admin_email": "a@b.co"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This API token lacks the stores scope"
    # Nothing was created, and the refusal is audited.
    assert admin.http.get("/api/stores").json()["total"] == 0
    audit = admin.http.get("/api/audit", params={"action": "access.denied"}).json()["items"]
    assert audit and audit[0]["target"] == "POST /api/stores"
    # A token cannot mint tokens (nor reach admin pages without the admin scope).
    assert reader.post("/api/tokens", json={"name": "x", "scopes": ["admin"]}).status_code == 403
    assert reader.get("/api/users").status_code == 403

    # Only the hash is stored; the list never shows the secret again.
    with platform.runtime.db.transaction(write=False) as session:
        row = session.scalars(select(ApiToken)).one()
        assert secret not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    assert secret not in admin.http.get("/api/tokens").text

    revoked = admin.http.delete(f"/api/tokens/{created['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    again = reader.get("/api/stores")
    assert again.status_code == 401 and "revoked" in again.json()["detail"]

    # Signing out ends the sign-in's token at once (not at its expiry).
    session_token = admin.http.headers["Authorization"].split()[1]
    assert admin.http.get("/api/auth/me").status_code == 200
    assert admin.http.post("/api/auth/logout").status_code == 204
    after = _bearer(platform.url, session_token).get("/api/auth/me")
    assert after.status_code == 401 and after.json()["detail"] == "Signed out; sign in again"


def test_scopes_are_enforced_per_endpoint(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory()
    admin = platform.admin()
    member = platform.member()
    stores = _bearer(platform.url, str(_token(member, "stores")["token"]))
    made = stores.post("/api/stores", json={"name": "tok-shop", "admin_email": "a@b.co"})
    assert made.status_code == 202, made.text
    # stores does not grant webhooks, and a member may not hold admin or metrics.
    hook = stores.post(
        "/api/webhooks", json={"url": "https://example.com/h", "events": ["store.ready"]}
    )
    assert hook.status_code == 403 and "webhooks scope" in hook.json()["detail"]
    bad = member.http.post("/api/tokens", json={"name": "m", "scopes": ["metrics"]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "scopes"
    # An admin's admin-scoped token reaches admin pages; a read one does not.
    full = _bearer(platform.url, str(_token(admin, "admin")["token"]))
    assert full.get("/api/users").status_code == 200
    me = full.get("/api/auth/me").json()
    assert me["scopes"] == ["admin", "read", "stores", "webhooks"]
    # Expired tokens are refused; an expiry in the past is refused when made.
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    resp = admin.http.post(
        "/api/tokens", json={"name": "old", "scopes": ["read"], "expires_at": past}
    )
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "expires_at"
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).isoformat()
    short = _bearer(platform.url, str(_token(admin, "read", expires_at=soon)["token"]))
    assert short.get("/api/stores").status_code == 200
    time.sleep(2.5)
    gone = short.get("/api/stores")
    assert gone.status_code == 401 and "expired" in gone.json()["detail"]


def test_last_use_is_written_at_most_once_a_minute(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory()
    admin = platform.admin()
    created = _token(admin, "read")
    reader = _bearer(platform.url, str(created["token"]))
    writes: list[object] = []
    from sqlalchemy import event

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            writes.append(statement)

    event.listen(platform.runtime.db.engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            assert reader.get("/api/stores").status_code == 200
    finally:
        event.remove(platform.runtime.db.engine, "before_cursor_execute", count)
    assert len(writes) == 1
    listed = admin.http.get("/api/tokens").json()["items"][0]
    assert listed["last_used_at"] is not None


def test_an_admin_revokes_a_users_sessions(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory()
    admin = platform.admin()
    member = platform.member("m-rev@example.com")
    token = _bearer(platform.url, str(_token(member, "read")["token"]))
    me = member.http.get("/api/auth/me").json()
    resp = admin.http.post(f"/api/users/{me['id']}/revoke-sessions")
    assert resp.status_code == 200 and resp.json()["revoked"] == 1
    assert member.http.get("/api/auth/me").status_code == 401
    # API tokens are revoked one by one, not by this.
    assert token.get("/api/auth/me").status_code == 200
    assert (
        admin.http.get("/api/audit", params={"action": "user.revoke_sessions"}).json()["total"] == 1
    )


def test_dashboard_sign_out_ends_the_session_on_the_server(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory()
    browser = httpx.Client(base_url=platform.url, timeout=30)
    resp = browser.post(
        "/api/auth/session", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert resp.status_code == 200
    stolen = browser.cookies.get("sf_session")
    assert stolen and browser.get("/api/auth/me").status_code == 200
    assert browser.delete("/api/auth/session").status_code == 204
    replay = httpx.get(platform.url + "/api/auth/me", cookies={"sf_session": stolen})
    assert replay.status_code == 401


def _login(url: str, otp: str | None = None, password: str = ADMIN_PASSWORD) -> httpx.Response:
    body = {"email": ADMIN_EMAIL, "password": password}
    if otp is not None:
        body["otp"] = otp
    return httpx.post(url + "/api/auth/login", json=body, timeout=30)


def test_totp_enrolment_sign_in_and_recovery_codes(platform: Platform) -> None:
    """Acceptance (g)."""
    admin = platform.admin()
    setup = admin.http.post("/api/auth/2fa/setup")
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/StoreFleet:")
    assert setup.json()["qr_svg"].startswith("data:image/svg+xml")
    totp = pyotp.TOTP(secret)
    wrong = admin.http.post("/api/auth/2fa/confirm", json={"code": "000000"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["field"] == "code"
    used = totp.now()
    confirmed = admin.http.post("/api/auth/2fa/confirm", json={"code": used})
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10

    # The secret and the codes are not in the database in plain text.
    with platform.runtime.db.transaction(write=False) as session:
        user = session.scalars(select(User).where(User.email == ADMIN_EMAIL)).one()
        assert user.totp_secret_enc and secret not in user.totp_secret_enc
        hashes = [r.code_hash for r in session.scalars(select(RecoveryCode)).all()]
        dump = " ".join(str(v) for v in session.execute(text("SELECT * FROM users")).all())
    assert secret not in dump and not set(codes) & set(hashes)

    no_code = _login(platform.url)
    assert no_code.status_code == 401
    assert no_code.headers["x-storefleet-otp"] == "required"
    assert _login(platform.url, "123456").status_code == 401
    # The code just used to confirm is not accepted again (named, not
    # totp.now(): on a slow machine a new 30 s step may have begun); the next one is.
    assert _login(platform.url, used).status_code == 401
    nxt = totp.at(time.time() + totp.interval)
    assert _login(platform.url, nxt).status_code == 200
    assert _login(platform.url, nxt).status_code == 401  # never twice

    first = _login(platform.url, codes[0])
    assert first.status_code == 200
    assert _login(platform.url, codes[0]).status_code == 401  # used up
    assert _login(platform.url, codes[1].lower().replace("-", "")).status_code == 200
    status = _bearer(platform.url, first.json()["access_token"]).get("/api/auth/2fa").json()
    assert status["enabled"] and status["recovery_codes_left"] == 8
    events = admin.http.get("/api/audit", params={"action": "auth.login_failed"}).json()
    reasons = {e["detail"]["reason"] for e in events["items"] if e["detail"]}
    assert "wrong two-factor code" in reasons


def test_admins_must_enrol_when_required(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory(require_2fa_for_admins=True)
    admin = platform.admin()  # signing in still works, to enrol
    me = admin.http.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["two_factor_required"] is True
    blocked = admin.http.get("/api/stores")
    assert blocked.status_code == 403 and "Two-factor" in blocked.json()["detail"]
    secret = admin.http.post("/api/auth/2fa/setup").json()["secret"]
    code = pyotp.TOTP(secret).now()
    assert admin.http.post("/api/auth/2fa/confirm", json={"code": code}).status_code == 200
    assert admin.http.get("/api/stores").status_code == 200
    later = pyotp.TOTP(secret).at(time.time() + 30)
    refused = admin.http.post("/api/auth/2fa/disable", json={"code": later})
    assert refused.status_code == 409
    # A member is not asked for it.
    member = platform.member()
    assert member.http.get("/api/stores").status_code == 200


def test_metrics_need_a_metrics_token_or_a_trusted_address(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory()
    admin = platform.admin()
    url = platform.url + "/metrics"
    assert httpx.get(url).status_code == 401
    session_token = admin.http.headers["Authorization"]
    assert httpx.get(url, headers={"Authorization": session_token}).status_code == 403
    read = str(_token(admin, "read")["token"])
    assert httpx.get(url, headers={"Authorization": f"Bearer {read}"}).status_code == 403
    metrics = str(_token(admin, "metrics")["token"])
    ok = httpx.get(url, headers={"Authorization": f"Bearer {metrics}"})
    assert ok.status_code == 200 and "storefleet_stores" in ok.text
    # The metrics token reads nothing else.
    assert _bearer(platform.url, metrics).get("/api/stores").status_code == 403

    trusted = platform_factory(metrics_trusted_networks="127.0.0.0/8")
    assert httpx.get(trusted.url + "/metrics").status_code == 200


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/hook", "127.0.0.1"),
        ("http://10.20.30.40/hook", "10.20.30.40"),
        ("http://[::1]:9/hook", "::1"),
        ("http://169.254.169.254/latest", "169.254.169.254"),
        ("http://localhost:9/hook", "localhost"),
        ("ftp://example.com/hook", "http"),
        ("https://user:pw@example.com/hook", "user name"),
    ],
)
def test_private_or_bad_webhook_urls_are_refused(
    platform_factory: Callable[..., Platform], url: str, why: str
) -> None:
    """Acceptance (f), third part: refused without the operator's setting."""
    platform = platform_factory()
    admin = platform.admin()
    resp = admin.http.post("/api/webhooks", json={"url": url, "events": ["store.ready"]})
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"][0]
    assert detail["field"] == "url" and why in detail["msg"]
    assert admin.http.get("/api/webhooks").json()["items"] == []


def test_webhook_registration_secret_once_and_fleet_wide_for_admins(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory(webhooks_allow_private_networks=True)
    admin = platform.admin()
    member = platform.member()
    body = {"url": "http://127.0.0.1:9/hook", "events": ["store.ready", "store.failed"]}
    made = member.http.post("/api/webhooks", json=body)
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert secret.startswith("whsec_")
    listed = member.http.get("/api/webhooks")
    assert secret not in listed.text and len(listed.json()["items"]) == 1
    with platform.runtime.db.transaction(write=False) as session:
        dump = str(session.execute(text("SELECT * FROM webhooks")).all())
    assert secret not in dump
    fleet = member.http.post("/api/webhooks", json={**body, "fleet_wide": True})
    assert fleet.status_code == 403
    assert admin.http.post("/api/webhooks", json={**body, "fleet_wide": True}).status_code == 201
    unknown = member.http.post("/api/webhooks", json={**body, "events": ["store.exploded"]})
    assert unknown.status_code == 422
    hook_id = made.json()["id"]
    assert admin.http.delete(f"/api/webhooks/{hook_id}").status_code == 404  # not the admin's
    assert member.http.get(f"/api/webhooks/{hook_id}/deliveries").json()["items"] == []
    assert member.http.delete(f"/api/webhooks/{hook_id}").status_code == 204
    assert member.http.get("/api/webhooks").json()["items"] == []


def _cli(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storefleet", *args],
        cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_cli_tokens_login_with_a_code_and_reset_2fa(
    platform_factory: Callable[..., Platform], tmp_path: Path
) -> None:
    """`storefleet login` asks for the code; `tokens create|list|revoke`;
    STOREFLEET_TOKEN; `users reset-2fa` recovers a locked-out admin (audited)."""
    platform = platform_factory()
    base = {k: v for k, v in os.environ.items() if not k.startswith("STOREFLEET_")}
    env = {**base, "STOREFLEET_API_URL": platform.url, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    admin = platform.admin()
    secret = admin.http.post("/api/auth/2fa/setup").json()["secret"]
    totp = pyotp.TOTP(secret)
    admin.http.post("/api/auth/2fa/confirm", json={"code": totp.now()})

    nxt = totp.at(time.time() + totp.interval)
    done = _cli("login", ADMIN_EMAIL, env=env, cwd=tmp_path, stdin=f"{ADMIN_PASSWORD}\n{nxt}\n")
    assert done.returncode == 0, done.stderr
    assert "signed in" in done.stdout

    made = _cli(
        "tokens", "create", "ci", "-s", "read", "--expires-days", "7", env=env, cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    secret_token = made.stdout.strip().splitlines()[-1]
    assert secret_token.startswith("sfp_")
    listed = _cli("tokens", "list", env=env, cwd=tmp_path)
    assert "ci" in listed.stdout and secret_token not in listed.stdout
    with_token = {**env, "STOREFLEET_TOKEN": secret_token}
    stores = _cli("stores", "list", env=with_token, cwd=tmp_path)
    assert stores.returncode == 0 and "0 store(s)" in stores.stdout, stores.stderr
    refused = _cli("stores", "create", "no-shop", "--admin-email", "a@b.co", env=with_token,
                   cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 1 and "lacks the stores scope" in refused.stderr
    token_id = made.stdout.split()[1]
    assert _cli("tokens", "revoke", token_id, env=env, cwd=tmp_path).returncode == 0
    gone = _cli("stores", "list", env=with_token, cwd=tmp_path)
    assert gone.returncode == 1 and "(401)" in gone.stderr
    assert _cli("logout", env=env, cwd=tmp_path).returncode == 0

    # The authenticator is lost: the operator resets it on the host.
    host = {**base, **process_env(platform.runtime.settings)}
    reset = _cli("users", "reset-2fa", ADMIN_EMAIL, env=host, cwd=tmp_path)
    assert reset.returncode == 0, reset.stderr
    assert "reset" in reset.stdout
    assert _login(platform.url).status_code == 200  # the password alone again
    entry = Api.login(platform.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    events = entry.http.get("/api/audit", params={"action": "user.update"}).json()["items"]
    assert any(e["detail"].get("two_factor") == "reset" and e["actor_email"].startswith("host:")
               for e in events)  # fmt: skip
    assert entry.http.get("/api/auth/2fa").json()["enabled"] is False
