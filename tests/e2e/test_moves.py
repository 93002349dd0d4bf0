"""A store moved from one local platform to another (issue 18, item 5), end
to end with the CLI as an operator runs it: two platforms with their own
data directories, sites, backup keys and releases — the source still on
WordPress 6.9.7 + WooCommerce 10.9.4, the importing one on 7.0.4 + 11.0.1 —
a store with a real order and a registered customer exported under a
passphrase, imported as a new store of the other platform's (its releases
and database upgrades), ready, with its orders, customers and products, and
taking a new order; a wrong passphrase refused with nothing created."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from storefleet import smoke
from storefleet.drivers.wordpress import SALTS
from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform, store_password
from tests.e2e.test_fleet_upgrade import _upgrade
from tests.support import Api


def cli(api: Api, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``storefleet <args>`` against ``api``'s platform, signed in as its user."""
    token = api.http.headers["Authorization"].split()[1]
    return subprocess.run(
        [sys.executable, "-m", "storefleet", *args],
        env={**os.environ, "STOREFLEET_API_URL": api.base_url, "STOREFLEET_TOKEN": token},
        input=stdin, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


@pytest.fixture
def other_sites_dir() -> Iterator[Path]:
    """The sites of a second platform on this machine (its nginx, its stores)."""
    path = Path("/var/tmp/storefleet-tests") / f"sites-{secrets.token_hex(4)}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _shop_state(url: str, password: str) -> dict[str, Any]:
    admin = wordpress.admin_client(url, "admin", password)
    orders = wordpress.rest(admin, "/wc/v3/orders", per_page=100)
    customers = wordpress.rest(admin, "/wc/v3/customers", per_page=100, role="all")
    products = wordpress.rest(admin, "/wc/v3/products", per_page=100)
    return {
        "orders": {o["id"]: (o["status"], o["total"], o["billing"]["email"]) for o in orders},
        "customers": {c["email"] for c in customers},
        "products": {p["name"] for p in products},
    }


def make_shop(api: Api, name: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A ready store with a guest's order and a registered customer."""
    password = store_password()
    created = api.create_store(name, admin_password=password)
    assert created.status_code == 202, created.text
    store = api.wait_for(created.json()["id"], "ready", timeout=240)
    smoke.place_order(store["url"])
    admin = wordpress.admin_client(store["url"], "admin", password)
    resp = admin.post(
        "/", params={"rest_route": "/wc/v3/customers"},
        json={"email": "regular@example.com", "first_name": "Ada", "username": "regular"},
    )  # fmt: skip
    assert resp.status_code == 201, resp.text[:300]
    state = _shop_state(store["url"], password)
    assert len(state["orders"]) == 1 and "regular@example.com" in state["customers"]
    assert len(state["products"]) == 12
    return store, password, state


def test_a_store_moves_between_two_local_platforms(
    local_platform_factory: Callable[..., LocalPlatform], tmp_path: Path, other_sites_dir: Path
) -> None:
    source = local_platform_factory()
    api = source.admin()
    # The source still runs the previous releases (an empty fleet's upgrade).
    assert _upgrade(api, wordpress="6.9.7", woocommerce="10.9.4")["status"] == "succeeded"
    store, _password, before = make_shop(api, "moving-shop")
    assert (store["wordpress_version"], store["woocommerce_version"]) == ("6.9.7", "10.9.4")

    passphrase = tmp_path / "passphrase"
    passphrase.write_text("the operator's own passphrase\n")
    archive = tmp_path / "moving-shop.sfx"
    done = cli(api, "stores", "export", "moving-shop", "--passphrase-file", str(passphrase),
               "--output", str(archive))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "checked: it opens with the passphrase" in done.stdout, done.stdout
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    assert [b["kind"] for b in api.backups(store["id"])] == ["export"]
    assert "the operator's own passphrase" not in " ".join(
        p.read_text(errors="replace") for p in source.procs.log_paths.values()
    )

    target = local_platform_factory(
        data_dir=tmp_path / "var-two", log_dir=tmp_path / "logs-two", sites_dir=other_sites_dir
    )
    target.add_member("new-owner@example.com")
    importer = target.admin()
    wrong = tmp_path / "wrong"
    wrong.write_text("not the operator's passphrase")
    refused = cli(importer, "stores", "import", str(archive), "--owner", "new-owner@example.com",
                  "--passphrase-file", str(wrong))  # fmt: skip
    assert refused.returncode == 1
    assert "error (422): archive: the passphrase does not open this archive" in refused.stderr
    assert importer.http.get("/api/stores").json()["total"] == 0

    done = cli(importer, "stores", "import", str(archive), "--owner", "new-owner@example.com",
               "--passphrase-file", "-", "--wait", stdin=passphrase.read_text())  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    new_password = done.stdout.split("admin password (shown only now): ")[1].split()[0]
    [moved] = importer.http.get("/api/stores").json()["items"]
    moved = importer.wait_for(moved["id"], "ready")
    assert moved["owner_email"] == "new-owner@example.com" and moved["name"] == "moving-shop"
    assert moved["uid"] != store["uid"] and moved["url"] != store["url"]
    # Its own database and salts: nothing of the source's site secrets came along.
    had, has = (
        json.loads((p.store_dir(s["uid"]) / "secrets.json").read_text())
        for p, s in ((source, store), (target, moved))
    )
    assert all(has[k] != had[k] for k in ("db_password", *SALTS))
    with target.stores_db.connect() as conn:
        databases = conn.execute(text("SHOW DATABASES")).scalars().all()
    assert [d for d in databases if d.endswith(moved["uid"])], databases
    # This platform's releases, whose database upgrades ran on the archive's data.
    assert (moved["wordpress_version"], moved["woocommerce_version"]) == ("7.0.4", "11.0.1")
    steps = {s["name"]: s for s in moved["steps"] if s["operation"] == "provision"}
    assert list(steps) == [
        "fetch", "secrets", "endpoint", "database", "files", "content", "data", "install",
        "upgrade", "server", "verify",
    ]  # fmt: skip
    assert "WooCommerce 11.0.1 (database 10.9.4 → 11.0.1)" in steps["upgrade"]["message"]

    after = _shop_state(moved["url"], new_password)
    assert after == before  # its orders, customers and products
    assert not wordpress.signed_in(wordpress.login(moved["url"], "admin", _password))
    new_order = smoke.place_order(moved["url"])
    assert new_order not in before["orders"]
    assert set(_shop_state(moved["url"], new_password)["orders"]) == {*before["orders"], new_order}
    # The source is untouched and still sells.
    assert smoke.place_order(store["url"]) > 0
