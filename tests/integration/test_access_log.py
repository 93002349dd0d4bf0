"""No token in any URL: the event stream takes the Authorization header or
the session cookie only, and the access log of a real `storefleet api`
process holds no token however a client sends it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from storefleet.config import Settings
from tests.conftest import free_port
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, PlatformProcesses, prepare, process_env


def _first_event(client: httpx.Client, **kwargs: object) -> tuple[int, str]:
    with client.stream("GET", "/api/stores/stream", timeout=20, **kwargs) as resp:  # type: ignore[arg-type]
        if resp.status_code != 200:
            resp.read()
            return resp.status_code, resp.text
        for line in resp.iter_lines():
            if line.startswith("event:"):
                return resp.status_code, line
    return resp.status_code, ""


def test_no_token_reaches_the_access_log(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    prepare(settings).close()
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = PlatformProcesses(process_env(settings), logs, free_port())
    procs.start("api")
    try:
        client = httpx.Client(base_url=procs.url)
        token = client.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert _first_event(client, headers=bearer) == (200, "event: ready")
        # A token in the URL is refused, wherever it is put.
        status, text = _first_event(client, params={"access_token": token})
        assert status == 401 and "Not signed in" in text
        assert client.get("/api/stores", params={"access_token": token}).status_code == 401
        # The dashboard's session cookie opens the stream too.
        browser = httpx.Client(base_url=procs.url)
        session = browser.post(
            "/api/auth/session", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert session.status_code == 200
        assert _first_event(browser) == (200, "event: ready")
        cookie = browser.cookies["sf_session"]
    finally:
        procs.stop()
    log = procs.logs()
    assert '"GET /api/stores/stream HTTP/1.1" 200' in log  # the access log is there
    assert "access_token=REDACTED" in log  # and the refused URL was blanked
    for secret in (token, cookie, token.split(".")[2]):
        assert secret not in log
    assert settings.signing_key() not in log
