"""Acceptance (b) of custom domains with the local driver: a store gets
``shop.example.test`` → its TXT proof (on pebble's mock DNS server) → a
certificate from Let's Encrypt's test ACME server, pebble, through the
stores' nginx → a shopper's order in Chromium at
``https://shop.example.test:<port>/``; its old address redirects there. A
domain whose challenge cannot pass leaves the store at its own address,
with the reason on the domain, the store's timeline and a webhook."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.domains import order_at, trusting_home
from tests.e2e.conftest import LocalPlatform, store_password
from tests.e2e.test_integrations import _verify, receiver
from tests.pebble import Pebble
from tests.support import Api

DOMAIN = "shop.example.test"
BROKEN = "broken.example.test"


@pytest.fixture
def pebble(tmp_path: Path) -> Iterator[Pebble]:
    acme = Pebble(tmp_path / "pebble", http_port=free_port(), tls_port=free_port())
    yield acme
    acme.stop()


def _domain(api: Api, store_id: int, name: str) -> dict[str, Any]:
    rows = api.http.get(f"/api/stores/{store_id}/domains").json()
    return next(d for d in rows if d["domain"] == name)


def _wait_domain(
    api: Api, store_id: int, name: str, status: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = _domain(api, store_id, name)
        if d["status"] == status:
            return d
        assert time.monotonic() < deadline, f"{name} is {d['status']}, not {status}: {d}"
        time.sleep(0.3)


def _wait_idle(api: Api, store_id: int, timeout: float = 120) -> dict[str, Any]:
    """The store once no operation is in flight (the domain's has finished)."""
    deadline = time.monotonic() + timeout
    while True:
        store = api.store(store_id)
        busy = [o for o in api.operations(store_id) if o["status"] in ("pending", "running")]
        if not busy:
            return store
        assert time.monotonic() < deadline, f"still busy: {busy[0]}"
        time.sleep(0.3)


def _curl(pebble: Pebble, url: str, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """curl trusting pebble's root, with the domain resolved to this machine."""
    host = url.split("/")[2].split(":")[0]
    return subprocess.run(
        ["curl", "-sS", "--cacert", str(pebble.root), "--resolve", f"{host}:{port}:127.0.0.1",
         "-o", "/dev/null", "-w", "%{http_code} %{redirect_url} %{ssl_verify_result}", *extra, url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_store_moves_to_its_custom_domain_with_a_certificate_from_pebble(
    local_platform_factory: Callable[..., LocalPlatform], pebble: Pebble, tmp_path: Path
) -> None:
    cfg = __import__("json").loads((pebble.workdir / "pebble.json").read_text())["pebble"]
    http_port, https_port = cfg["httpPort"], cfg["tlsPort"]
    platform = local_platform_factory(
        stores_http_port=http_port, stores_https_port=https_port,
        dns_resolver=pebble.resolver, acme_directory=pebble.directory,
        acme_ca_bundle=pebble.ca_bundle, domain_check_seconds=0.5,
        webhooks_allow_private_networks=True,
    )  # fmt: skip
    platform.add_member("merchant@example.com")
    merchant = Api.login(platform.url, "merchant@example.com", "member-password")
    password = store_password()
    with receiver() as rx:
        hook = merchant.http.post(
            "/api/webhooks",
            json={"url": rx.url + "/d", "events": ["domain.issued", "domain.failed"]},
        ).json()
        store_id = merchant.create_store("dom-shop", admin_password=password).json()["id"]
        store = merchant.wait_for(store_id, "ready", timeout=180)
        platform_url = store["url"]
        assert platform_url == f"http://dom-shop.localhost:{http_port}/"

        # -- a domain whose challenge cannot pass: it points nowhere the stores answer
        added = merchant.http.post(f"/api/stores/{store_id}/domains", json={"domain": BROKEN})
        assert added.status_code == 201, added.text
        broken = added.json()
        assert broken["status"] == "pending" and broken["primary"] is True
        assert broken["verification"]["name"] == f"_storefleet-challenge.{BROKEN}"
        # Nothing is served for it before its proof.
        time.sleep(2)
        waiting = _domain(merchant, store_id, BROKEN)
        assert waiting["status"] == "pending" and "no TXT record" in waiting["failure_reason"]
        unproven = httpx.get(f"http://127.0.0.1:{http_port}/", headers={"Host": BROKEN})
        assert unproven.status_code == 404 and "No store answers" in unproven.text
        pebble.dns("add-a", host=BROKEN + ".", addresses=["127.0.0.2"])  # nothing listens there
        pebble.set_txt(broken["verification"]["name"], broken["verification"]["value"])
        failed = _wait_domain(merchant, store_id, BROKEN, "failed")
        assert "could not validate" in failed["failure_reason"], failed
        store = _wait_idle(merchant, store_id)
        assert store["url"] == platform_url and store["status"] == "ready"
        answer = httpx.get(platform_url, timeout=30)
        assert answer.status_code == 200 and "dom-shop" in answer.text
        events = merchant.http.get(f"/api/stores/{store_id}/events").json()
        assert any(BROKEN in e["message"] and e["level"] == "error" for e in events)
        got = _verify(hook["secret"], rx.wait("/d", 1, timeout=15)[0])
        assert got["type"] == "domain.failed" and got["data"]["domain"]["name"] == BROKEN

        # -- shop.example.test: proof, certificate, the store's address moves there
        added = merchant.http.post(
            f"/api/stores/{store_id}/domains",
            json={"domain": DOMAIN.upper() + ".", "primary": True},
        )
        assert added.status_code == 201, added.text
        domain = added.json()
        assert domain["domain"] == DOMAIN
        pebble.set_txt(domain["verification"]["name"], domain["verification"]["value"])
        active = _wait_domain(merchant, store_id, DOMAIN, "active")
        url = f"https://{DOMAIN}:{https_port}/"
        assert active["url"] == url and active["expires_at"]
        store = _wait_idle(merchant, store_id)
        assert store["url"] == url, store
        issued = [_verify(hook["secret"], r) for r in rx.wait("/d", 2, timeout=15)]
        assert issued[-1]["type"] == "domain.issued"
        assert issued[-1]["data"]["domain"]["name"] == DOMAIN

        # curl trusts pebble's root and nothing else: the chain verifies for the name.
        home = _curl(pebble, url, https_port)
        assert home.stdout.split()[0] == "200" and home.stdout.split()[-1] == "0", home
        # The old address, and plain http at the domain, lead there, path and query kept.
        old = httpx.get(platform_url + "product/beanie/?ref=old", timeout=30)
        assert old.status_code == 301
        assert old.headers["location"] == f"https://{DOMAIN}:{https_port}/product/beanie/?ref=old"
        plain = httpx.get(f"http://127.0.0.1:{http_port}/cart/", headers={"Host": DOMAIN})
        assert plain.status_code == 301 and plain.headers["location"] == url + "cart/"

        # A shopper places an order at the domain in Chromium trusting pebble's root.
        browser_home = trusting_home(pebble.root, tmp_path / "browser-home")
        order = order_at(
            url.rstrip("/"), "dom-shop", password,
            host_rules=f"MAP {DOMAIN} 127.0.0.1", home=browser_home,
        )  # fmt: skip
        assert (order["status"], order["payment_method"]) == ("processing", "cod")

        # The failed domain goes; the store stays where it is.
        gone = merchant.http.delete(f"/api/stores/{store_id}/domains/{BROKEN}")
        assert gone.status_code == 202, gone.text
        _wait_idle(merchant, store_id)
        rows = merchant.http.get(f"/api/stores/{store_id}/domains").json()
        assert [d["domain"] for d in rows] == [DOMAIN]
        assert merchant.store(store_id)["url"] == url
