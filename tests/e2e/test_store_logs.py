"""Store logs with real local stores (nginx, php-fpm as each store's uid,
WordPress): ``GET /api/stores/{id}/logs`` shows a store its own PHP errors
and access log only, within seconds, without cookies or tokens; the logs
stay bounded by the reconciler's rotation; no store's PHP can read another's
logs; a member cannot read another member's store's logs."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from storefleet.drivers.local.logs import access_log_path, store_logs_dir
from tests.conftest import not_here
from tests.e2e.conftest import LocalPlatform
from tests.support import Api

MIB = 1 << 20


@pytest.fixture(autouse=True)
def _as_root() -> None:
    if os.geteuid() != 0:
        not_here("stores' own uids (whose logs must stay apart) need the platform to run as root")


def _place(platform: LocalPlatform, store: dict[str, Any], name: str, code: str) -> str:
    """A PHP file in the store's wp-content, the store's own (as a plugin's
    would be); its address."""
    content = platform.store_dir(store["uid"]) / "site" / "wp-content"
    path = content / name
    path.write_text(code)
    st = content.stat()
    os.chown(path, st.st_uid, st.st_gid)
    path.chmod(0o640)
    return f"{store['url']}wp-content/{name}"


def _logs(api: Api, store: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    resp = api.http.get(f"/api/stores/{store['id']}/logs", params=params)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def _wait_logged(api: Api, store: dict[str, Any], timeout: float, **params: Any) -> float:
    """Seconds until the store's logs show a line matching ``params``."""
    started = time.monotonic()
    while not _logs(api, store, **params):
        assert time.monotonic() - started < timeout, f"not in the logs within {timeout} s: {params}"
        time.sleep(0.2)
    return time.monotonic() - started


def _member(platform: LocalPlatform, name: str) -> Api:
    email = f"{name}-{secrets.token_hex(3)}@example.com"
    platform.add_member(email)
    return Api.login(platform.url, email, "member-password")


def test_a_stores_logs_are_its_own_redacted_and_bounded(
    local_platform_factory: Callable[..., LocalPlatform],
) -> None:
    platform = local_platform_factory(store_log_max_mib=1)
    alice, bob = _member(platform, "alice"), _member(platform, "bob")
    ids = [
        api.create_store(name, sample_products=False).json()["id"]
        for api, name in ((alice, "logs-a"), (bob, "logs-b"))
    ]
    a, b = alice.wait_for(ids[0], "ready", timeout=180), bob.wait_for(ids[1], "ready", timeout=180)
    mark = secrets.token_hex(6)

    # A PHP warning in A is in A's logs within 10 s, with what explains it.
    secret = f"pw-{secrets.token_hex(6)}"
    warn = _place(platform, a, f"warn-{mark}.php", (
        f'<?php trigger_error("sf-warning-{mark}", E_USER_WARNING);\n'
        f'error_log("sign-in failed for bob, password={secret}"); echo "done";\n'
    ))  # fmt: skip
    assert httpx.get(warn, timeout=60).text == "done"
    took = _wait_logged(alice, a, 10, source="php", q=f"sf-warning-{mark}")
    print(f"the warning was in A's logs {took:.1f} s after the request")
    (line,) = _logs(alice, a, source="php", q=f"sf-warning-{mark}")
    assert f"PHP Warning:  sf-warning-{mark} in " in line["text"] and "line 1" in line["text"]
    assert line["at"] is not None
    (signin,) = _logs(alice, a, source="php", q="sign-in failed for bob")
    assert "password=[redacted]" in signin["text"] and secret not in signin["text"]

    # An access-log line: no cookie, no token — in the API nor on the disk.
    token, cookie = f"tok-{secrets.token_hex(6)}", f"ck-{secrets.token_hex(6)}"
    httpx.get(
        f"{a['url']}sf-probe-{mark}/", params={"token": token, "add-to-cart": "7"},
        cookies={"wordpress_logged_in_abc": cookie}, headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )  # fmt: skip
    _wait_logged(alice, a, 10, source="access", q=f"sf-probe-{mark}")
    (hit,) = _logs(alice, a, source="access", q=f"sf-probe-{mark}")
    assert f'"GET /sf-probe-{mark}/"' in hit["text"], hit
    for where in (hit["text"], access_log_path(platform.settings, a["uid"]).read_text()):
        assert token not in where and cookie not in where

    # B's logs have none of A's lines, by the API or on the disk.
    for source in ("php", "access"):
        assert _logs(bob, b, source=source, q=mark) == []
    b_files = [
        access_log_path(platform.settings, b["uid"]),
        store_logs_dir(platform.settings, b["uid"]),
    ]
    assert not any(
        mark in p.read_text(errors="replace")
        for p in [b_files[0], *b_files[1].iterdir()] if p.is_file()
    )  # fmt: skip
    # A member reads only their own stores' logs.
    assert bob.http.get(f"/api/stores/{a['id']}/logs").status_code == 404
    # No store's PHP reads another's logs (nor its own access log).
    peek = _place(platform, b, f"peek-{mark}.php", (
        "<?php foreach ($_GET['f'] as $f) {"
        " echo @file_get_contents($f) === false ? 'denied' : 'read', ' '; }"
    ))  # fmt: skip
    targets = [
        access_log_path(platform.settings, a["uid"]),
        access_log_path(platform.settings, b["uid"]),
        store_logs_dir(platform.settings, a["uid"]) / "php-error.log",
        access_log_path(platform.settings, a["uid"]).parent / "nginx-error.log",
    ]
    seen = httpx.get(peek, params={"f[]": [str(t) for t in targets]}, timeout=60).text.split()
    assert seen == ["denied"] * len(targets), seen

    _rotation_keeps_logs_bounded(platform, alice, a, mark)


def _rotation_keeps_logs_bounded(
    platform: LocalPlatform, alice: Api, a: dict[str, Any], mark: str
) -> None:
    """1.3 MiB of PHP errors at a time, three times, with logs rotated at
    1 MiB: never more than the current file and one older one, and the
    newest lines still read."""
    php_log = store_logs_dir(platform.settings, a["uid"]) / "php-error.log"
    flood = _place(platform, a, f"flood-{mark}.php", (
        "<?php for ($i = 0; $i < 1300; $i++) { error_log(str_repeat('x', 1000)); }"
        ' error_log("flood-done-" . $_GET["n"]); echo "done";'
    ))  # fmt: skip
    sizes = []
    for n in range(3):
        assert httpx.get(flood, params={"n": n}, timeout=60).text == "done"
        _wait_rotated(php_log, timeout=15)
        sizes.append(sum(p.stat().st_size for p in php_log.parent.glob("php-error.log*")))
        assert _logs(alice, a, source="php", q=f"flood-done-{n}")
    assert sorted(p.name for p in php_log.parent.glob("php-error.log*")) in (
        ["php-error.log.1"], ["php-error.log", "php-error.log.1"],
    )  # fmt: skip
    assert max(sizes) <= 2 * MIB, sizes  # 3.9 MiB written, no more than two files' worth kept

    # nginx writes to a new access log once its old one is rotated.
    access = access_log_path(platform.settings, a["uid"])
    with access.open("a") as f:  # a busy day's lines
        f.write(
            f'127.0.0.1 [2026-12-07T22:00:00+00:00] "GET /{"y" * 200}" 200 1 0 "" MISS\n' * 5000
        )
    old = access.with_name(access.name + ".1")
    deadline = time.monotonic() + 15
    while not (old.exists() and old.stat().st_size > MIB):
        assert time.monotonic() < deadline, "the access log was not rotated"
        time.sleep(0.2)
    httpx.get(f"{a['url']}after-rotation-{mark}/", timeout=60)
    _wait_logged(alice, a, 10, source="access", q=f"after-rotation-{mark}")
    assert f"after-rotation-{mark}" in access.read_text()
    assert f"after-rotation-{mark}" not in old.read_text()


def _wait_rotated(log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while log.exists() and log.stat().st_size > MIB:
        assert time.monotonic() < deadline, f"{log} was not rotated: {log.stat().st_size} bytes"
        time.sleep(0.2)
