"""A new local store sells out of the box: the pinned WordPress and
WooCommerce, the shop (not a coming-soon page) as its home page, sample
products unless asked otherwise, Cash on Delivery, any accepted admin
password working in the wp-admin form, and its mail kept for the merchant."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.e2e import wordpress
from tests.e2e.conftest import LocalPlatform

#: Each a password the API accepts and a merchant might choose.
PASSWORDS = [
    'with "double" quotes',
    "it's 'single' quoted",
    "back\\slash\\\\es\\",
    "$(touch /tmp/pwned) run",
    "`backticks` in it",
    "spaces in the middle",
    "percent %s %d %n",
    "Grüße ñandú 日本語 ok",
]


def test_a_store_created_with_no_options_is_open_for_business(
    local_platform: LocalPlatform,
) -> None:
    api = local_platform.admin()
    resp = api.http.post("/api/stores", json={"name": "fresh-shop", "admin_email": "m@example.com"})
    assert resp.status_code == 202, resp.text
    created = resp.json()
    password = created["admin_password"]
    assert created["sample_products"] is True
    store = api.wait_for(created["id"], "ready", timeout=120)
    assert (store["wordpress_version"], store["woocommerce_version"]) == ("7.0.4", "11.0.1")

    home = httpx.get(store["url"], timeout=30)
    assert home.status_code == 200
    text = home.text
    assert (
        "coming soon" not in text.lower() and "great things are on the horizon" not in text.lower()
    )
    assert "Add to cart" in text  # the shop is the home page
    products = wordpress.store_products(store["url"])
    assert len(products) >= 10
    assert {"Beanie", "Hoodie with Logo", "Sunglasses"} <= {p["name"] for p in products}

    admin = wordpress.admin_client(store["url"], "admin", password)
    settings = {s["id"]: s["value"] for s in wordpress.rest(admin, "/wc/v3/settings/general")}
    assert settings["woocommerce_default_country"] == "US:CA"
    assert settings["woocommerce_currency"] == "USD"
    gateways = {g["id"]: g for g in wordpress.rest(admin, "/wc/v3/payment_gateways")}
    assert gateways["cod"]["enabled"] is True
    plugins = {p["plugin"]: p for p in wordpress.rest(admin, "/wp/v2/plugins")}
    assert plugins["woocommerce/woocommerce"]["status"] == "active"
    assert plugins["woocommerce/woocommerce"]["version"] == "11.0.1"

    # The merchant's smoke test: a Cash-on-Delivery order, confirmed as the admin.
    token = api.http.headers["Authorization"].split()[1]
    result = subprocess.run(
        [sys.executable, "-m", "storefleet", "stores", "smoke-test", "fresh-shop"],
        env={**os.environ, "STOREFLEET_API_URL": local_platform.url, "STOREFLEET_TOKEN": token,
             "STOREFLEET_STORE_ADMIN_PASSWORD": password},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "placed and confirmed: processing, cod" in result.stdout

    # Its "new order" email waits in the store's mailbox, shown through the API.
    mail = api.http.get(f"/api/stores/{created['id']}/mail").json()
    assert mail["delivery"] == "mailbox"
    subjects = [m["subject"] for m in mail["items"]]
    assert any("new order" in s.lower() for s in subjects), subjects
    assert all(password not in m["text"] for m in mail["items"])


def test_sample_products_can_be_left_out(local_platform: LocalPlatform) -> None:
    # Through the CLI, as the README shows it: each state it passes is printed once.
    api = local_platform.admin()
    token = api.http.headers["Authorization"].split()[1]
    created = subprocess.run(
        [sys.executable, "-m", "storefleet", "stores", "create", "empty-shop",
         "--admin-email", "me@example.com", "--no-sample-products", "--wait"],
        env={**os.environ, "STOREFLEET_API_URL": local_platform.url, "STOREFLEET_TOKEN": token},
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    lines = [line for line in created.stdout.splitlines() if "empty-shop" in line]
    assert len(lines) == len(set(lines)) >= 2, created.stdout
    assert "pending" in lines[0] and "ready" in lines[-1], created.stdout
    assert "admin password (shown only now): " in created.stdout
    store = api.store(int(lines[0].split()[0]))
    assert store["status"] == "ready" and store["sample_products"] is False
    assert wordpress.store_products(store["url"]) == []
    assert "0 product(s)" in next(s for s in store["steps"] if s["name"] == "install")["message"]


def test_every_accepted_password_signs_in_to_wp_admin(local_platform: LocalPlatform) -> None:
    api = local_platform.admin()
    ids = {}
    for n, password in enumerate(PASSWORDS):
        resp = api.create_store(f"pw-{n}", admin_password=password, sample_products=False)
        assert resp.status_code == 202, (password, resp.text)
        ids[password] = resp.json()["id"]
    for password, store_id in ids.items():
        store = api.wait_for(store_id, "ready", timeout=180)
        by_name = wordpress.login(store["url"], "admin", password)
        assert wordpress.signed_in(by_name), f"'admin' could not sign in with {password!r}"
        by_email = wordpress.login(store["url"], "merchant@example.com", password)
        assert wordpress.signed_in(by_email), f"the email could not sign in with {password!r}"
        wrong = wordpress.login(store["url"], "admin", password + "x")
        assert not wordpress.signed_in(wrong)
    assert not os.path.exists("/tmp/pwned")
