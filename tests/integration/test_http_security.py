"""What every HTTP answer promises: security headers, a dashboard session
that page script cannot read, forwarded headers believed from trusted proxies
only, a rate limit on the whole API, and a Retry-After on every 429."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from pydantic import ValidationError

from storefleet.app import FRONTEND_DIST
from storefleet.config import Settings
from tests.integration.conftest import Platform
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, Api, add_member


def _set_cookies(resp: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name (the whole header, attributes included)."""
    return {h.split("=", 1)[0]: h for h in resp.headers.get_list("set-cookie")}


def _audit(platform: Platform, action: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = (
        platform.admin().http.get("/api/audit", params={"action": action}).json()["items"]
    )
    return items


# -- security headers -----------------------------------------------------------


def test_security_headers_on_every_response(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory()
    admin = platform.admin()
    answers = [
        httpx.get(platform.url + "/healthz"),
        httpx.get(platform.url + "/api/openapi.json"),
        httpx.get(platform.url + "/api/stores"),  # 401
        httpx.get(platform.url + "/api/no-such-thing"),  # 404
        admin.http.post("/api/stores", json={}),  # 422
        admin.http.get("/api/stores"),
    ]
    if FRONTEND_DIST.is_dir():
        answers += [httpx.get(platform.url + "/"), httpx.get(platform.url + "/stores/7")]
    for resp in answers:
        where = f"{resp.request.method} {resp.request.url.path} → {resp.status_code}"
        csp = resp.headers.get("content-security-policy", "")
        assert "script-src 'self';" in csp, where
        assert "frame-ancestors 'none'" in csp, where
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
        assert resp.headers.get("x-content-type-options") == "nosniff", where
        assert resp.headers.get("referrer-policy") == "no-referrer", where
        assert resp.headers.get("x-frame-options") == "DENY", where
        assert "strict-transport-security" not in resp.headers, f"{where}: HSTS over http"
        if resp.request.url.path.startswith("/api/"):
            assert resp.headers.get("cache-control") == "no-store", where
    # The API docs load Swagger UI from this origin (the dashboard's build), no inline script.
    docs = httpx.get(platform.url + "/api/docs")
    assert docs.status_code == 200 and "<script>" not in docs.text
    docs_csp = docs.headers["content-security-policy"]
    assert "script-src 'self';" in docs_csp and "http" not in docs_csp  # no other origin
    assert httpx.get(platform.url + "/api/docs/init.js").text.startswith("window.ui")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert httpx.get(f"{platform.url}/api-docs/{asset}").status_code == 200, asset
    # No CORS: the dashboard is served from the API's own origin.
    cross = httpx.get(platform.url + "/api/openapi.json", headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in cross.headers
    assert "cors_origins" not in Settings.model_fields


# -- trusted proxies ------------------------------------------------------------


def test_settings_read_trusted_proxies_as_addresses_or_networks() -> None:
    s = Settings(trusted_proxies="10.0.0.0/8, 192.168.1.5,fd00::/8")  # type: ignore[arg-type]
    assert s.trusted_proxies == ["10.0.0.0/8", "192.168.1.5/32", "fd00::/8"]
    assert Settings().trusted_proxies == []
    with pytest.raises(ValidationError, match="not an address or a network"):
        Settings(trusted_proxies="10.0.0.0/8,ingress")  # type: ignore[arg-type]


def test_forwarded_headers_are_believed_from_trusted_proxies_only(
    platform_factory: Callable[..., Platform],
) -> None:
    untrusted = platform_factory()
    trusted = platform_factory(trusted_proxies=["127.0.0.1"], login_failures_per_address=3)

    def fail(platform: Platform, email: str, client: str) -> httpx.Response:
        return httpx.post(
            platform.url + "/api/auth/login",
            json={"email": email, "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.7, {client}", "X-Forwarded-Proto": "https"},
        )

    # Not trusted: the proxy's own address, whatever the headers say.
    assert fail(untrusted, "a@example.com", "203.0.113.9").status_code == 401
    assert [e["client_ip"] for e in _audit(untrusted, "auth.login_failed")] == ["127.0.0.1"]
    # Trusted: the nearest address that is not a trusted proxy.
    assert fail(trusted, "a@example.com", "203.0.113.9").status_code == 401
    assert [e["client_ip"] for e in _audit(trusted, "auth.login_failed")] == ["203.0.113.9"]
    # So the throttle tells clients apart behind the one proxy address.
    for n in range(2):
        assert fail(trusted, f"b{n}@example.com", "203.0.113.9").status_code == 401
    assert fail(trusted, "c@example.com", "203.0.113.9").status_code == 429
    assert fail(trusted, "c@example.com", "203.0.113.10").status_code == 401
    # And the scheme: HSTS and Secure cookies once the proxy says https.
    ok = httpx.get(trusted.url + "/healthz", headers={"X-Forwarded-Proto": "https"})
    assert ok.headers["strict-transport-security"] == "max-age=31536000"
    ignored = httpx.get(untrusted.url + "/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in ignored.headers


# -- the dashboard's session ----------------------------------------------------


def test_the_dashboard_session_is_an_httponly_cookie_with_csrf(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory()
    browser = httpx.Client(base_url=platform.url)
    # Another site's form can post only "simple" content types: no session from those.
    forged = httpx.post(
        platform.url + "/api/auth/session",
        content=f'{{"email": "{ADMIN_EMAIL}", "password": "{ADMIN_PASSWORD}"}}',
        headers={"Content-Type": "text/plain"},
    )
    assert forged.status_code == 422 and "set-cookie" not in forged.headers
    signed_in = browser.post(
        "/api/auth/session", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    body = signed_in.json()
    assert set(body) == {"csrf_token", "expires_in"}  # no token for page script
    cookies = _set_cookies(signed_in)
    session, csrf = cookies["sf_session"], cookies["sf_csrf"]
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=3600"):
        assert attribute.lower() in session.lower(), session
    assert "httponly" not in csrf.lower() and "samesite=strict" in csrf.lower()
    assert "secure" not in session.lower()  # plain http here: see the https case below
    assert browser.cookies["sf_csrf"] == body["csrf_token"]

    assert browser.get("/api/auth/me").json()["email"] == ADMIN_EMAIL
    create = {"name": "cookie-shop", "admin_email": "a@example.com"}
    missing = browser.post("/api/stores", json=create)
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    wrong = browser.post("/api/stores", json=create, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    right = browser.post("/api/stores", json=create, headers={"X-CSRF-Token": body["csrf_token"]})
    assert right.status_code == 202, right.text
    refused = _audit(platform, "auth.csrf_refused")
    assert [e["target"] for e in refused] == ["POST /api/stores"] * 2

    # A bearer token smuggled into the cookie has no CSRF claim to match.
    bearer = platform.admin().http.headers["Authorization"].split()[1]
    smuggled = httpx.post(platform.url + "/api/stores", json=create, cookies={"sf_session": bearer},
                          headers={"X-CSRF-Token": ""})  # fmt: skip
    assert smuggled.status_code == 403

    signed_out = browser.delete("/api/auth/session")
    assert signed_out.status_code == 204
    gone = _set_cookies(signed_out)
    assert 'sf_session=""' in gone["sf_session"] and "max-age=0" in gone["sf_session"].lower()
    assert browser.get("/api/auth/me").status_code == 401


def test_over_https_the_session_cookies_are_secure_and_host_only(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory(trusted_proxies=["127.0.0.1"])
    https = {"X-Forwarded-Proto": "https"}
    resp = httpx.post(
        platform.url + "/api/auth/session",
        json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        headers=https,
    )
    cookies = _set_cookies(resp)
    assert set(cookies) == {"__Host-sf_session", "__Host-sf_csrf"}
    assert all("secure" in c.lower() and "domain" not in c.lower() for c in cookies.values())
    token = re.search(r"__Host-sf_session=([^;]+)", cookies["__Host-sf_session"])
    assert token
    me = httpx.get(
        platform.url + "/api/auth/me", headers=https, cookies={"__Host-sf_session": token[1]}
    )
    assert me.status_code == 200
    # The plain-http name means nothing over https (and the other way round).
    plain = httpx.get(
        platform.url + "/api/auth/me", headers=https, cookies={"sf_session": token[1]}
    )
    assert plain.status_code == 401


# -- rate limits and Retry-After ------------------------------------------------


def test_the_api_rate_limits_each_user_and_each_address(
    platform_factory: Callable[..., Platform],
) -> None:
    platform = platform_factory(
        api_requests_per_minute_per_token=5, api_requests_per_minute_per_address=1000
    )
    alice, bob = platform.member(), platform.member()
    codes = [alice.http.get("/api/stores").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    limited = alice.http.get("/api/stores")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["x-content-type-options"] == "nosniff"
    assert bob.http.get("/api/stores").status_code == 200  # each user has their own
    assert httpx.get(platform.url + "/healthz").status_code == 200  # probes are not limited

    per_address = platform_factory(api_requests_per_minute_per_address=5)
    codes = [httpx.get(per_address.url + "/api/stores").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_every_429_says_when_to_try_again(platform_factory: Callable[..., Platform]) -> None:
    platform = platform_factory(api_requests_per_minute_per_token=30)
    add_member(platform.runtime, "quota@example.com", "member-password", max_live_stores=1)
    live = Api.login(platform.url, "quota@example.com", "member-password")
    assert live.create_store("first-shop").status_code == 202
    over_live = live.create_store("second-shop")
    hourly = platform.member(max_creations_per_hour=1)
    assert hourly.create_store("hourly-one").status_code == 202
    over_hour = hourly.create_store("hourly-two")
    throttled = [
        httpx.post(
            platform.url + "/api/auth/login", json={"email": "x@example.com", "password": "no"}
        )
        for _ in range(6)
    ][-1]
    rate = None
    for _ in range(40):
        rate = live.http.get("/api/auth/me")
        if rate.status_code == 429:
            break
    waits = {}
    for what, resp in [("live quota", over_live), ("hourly quota", over_hour),
                       ("sign-in throttle", throttled), ("rate limit", rate)]:  # fmt: skip
        assert resp is not None and resp.status_code == 429, what
        waits[what] = int(resp.headers["Retry-After"])
    assert waits["live quota"] == 60
    assert 3590 <= waits["hourly quota"] <= 3600  # when the oldest creation leaves the hour
    assert 290 <= waits["sign-in throttle"] <= 300
    assert 1 <= waits["rate limit"] <= 60
