"""The store smoke test: place a Cash-on-Delivery order through the
WooCommerce Store API, as a shopper would, and confirm it through the
WooCommerce REST API as the store's admin.

Only a store with WooCommerce can pass; one without it is reported as such
(:class:`WooCommerceMissing`), not as a failure of the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from storefleet.drivers.verify import storefront_request


class SmokeTestError(Exception):
    """The store did not take or confirm the order."""


class WooCommerceMissing(SmokeTestError):
    """The store has no WooCommerce to test."""


@dataclass
class OrderConfirmed:
    order_id: int
    status: str
    payment_method: str
    total: str


_BILLING = {
    "first_name": "Smoke",
    "last_name": "Test",
    "address_1": "1 Test Street",
    "city": "Testville",
    "postcode": "10001",
    "country": "US",
    "state": "NY",
    "email": "smoke-test@example.com",
    "phone": "5555555555",
}


def _rest(route: str, **params: str | int) -> dict[str, str | int]:
    # ?rest_route= works with and without pretty permalinks.
    return {"rest_route": route, **params}


def _client(store_url: str, timeout: float, *, follow_redirects: bool) -> tuple[httpx.Client, str]:
    """A client for the store, and the root URL to send its requests to: a
    store at ``*.localhost`` (the test cluster's) is reached on 127.0.0.1
    with its Host, as browsers and curl reach it and the C library may not."""
    root, headers = storefront_request(store_url.rstrip("/") + "/")
    client = httpx.Client(timeout=timeout, follow_redirects=follow_redirects, headers=headers)
    return client, root.rstrip("/") + "/"


def place_order(store_url: str, *, product_id: int | None = None, timeout: float = 30) -> int:
    """Order a product (``product_id``, or the first one listed) as a guest
    shopper, paying Cash on Delivery, through the WooCommerce Store API;
    return the order's id."""
    base = store_url.rstrip("/")
    rest = _rest
    shopper, root = _client(store_url, timeout, follow_redirects=True)
    with shopper:
        index = shopper.get(root, params=rest("/"))
        try:
            namespaces = index.json().get("namespaces", [])
        except ValueError as exc:
            raise SmokeTestError(f"{base} does not answer as a WordPress REST API") from exc
        if "wc/store/v1" not in namespaces:
            raise WooCommerceMissing(
                f"{base} has no WooCommerce Store API (is WooCommerce active?)"
            )
        if product_id is None:
            products = shopper.get(root, params=rest("/wc/store/v1/products", per_page=1))
            _ok(products, "listing products")
            items = products.json()
            if not items:
                raise SmokeTestError(
                    "the store has no product to order (create one, or a sample product)"
                )
            product_id = int(items[0]["id"])
        cart = shopper.get(root, params=rest("/wc/store/v1/cart"))
        _ok(cart, "opening a cart")
        nonce = cart.headers.get("Nonce") or cart.headers.get("X-WC-Store-API-Nonce", "")
        headers = {"Nonce": nonce}
        _ok(
            shopper.post(
                root,
                params=rest("/wc/store/v1/cart/add-item"),
                json={"id": product_id, "quantity": 1},
                headers=headers,
            ),
            "adding a product to the cart",
        )
        checkout = shopper.post(
            root,
            params=rest("/wc/store/v1/checkout"),
            json={"billing_address": _BILLING, "shipping_address": _BILLING,
                  "payment_method": "cod"},
            headers=headers,
        )  # fmt: skip
        _ok(checkout, "checking out with Cash on Delivery")
        return int(checkout.json()["order_id"])


def run(
    store_url: str, admin_user: str, admin_password: str, *, timeout: float = 30
) -> OrderConfirmed:
    """Place an order and confirm it through the REST API as the admin."""
    rest = _rest
    order_id = place_order(store_url, timeout=timeout)
    admin, root = _client(store_url, timeout, follow_redirects=False)
    with admin:
        admin.cookies.set("wordpress_test_cookie", "WP Cookie check")
        login = admin.post(
            f"{root}wp-login.php",
            data={"log": admin_user, "pwd": admin_password, "testcookie": "1"},
        )
        if not any(c.startswith("wordpress_logged_in_") for c in admin.cookies):
            raise SmokeTestError(f"the store admin could not sign in (HTTP {login.status_code})")
        rest_nonce = admin.get(f"{root}wp-admin/admin-ajax.php", params={"action": "rest-nonce"})
        if not re.fullmatch(r"[0-9a-f]{6,}", rest_nonce.text.strip()):
            raise SmokeTestError("could not get a REST nonce for the admin session")
        order = admin.get(
            root,
            params=rest(f"/wc/v3/orders/{order_id}"),
            headers={"X-WP-Nonce": rest_nonce.text.strip()},
        )
        _ok(order, f"reading order {order_id} as the admin")
        data = order.json()
    if data.get("payment_method") != "cod":
        raise SmokeTestError(f"order {order_id} was not paid by Cash on Delivery: {data}")
    return OrderConfirmed(order_id, data["status"], data["payment_method"], data["total"])


def _ok(resp: httpx.Response, what: str) -> None:
    if resp.status_code >= 400:
        detail = resp.text[:300]
        raise SmokeTestError(f"{what} failed: HTTP {resp.status_code}: {detail}")
