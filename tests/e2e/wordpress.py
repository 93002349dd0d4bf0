"""Talking to a running store the way a shopper and its admin would."""

from __future__ import annotations

from typing import Any

import httpx


def login(url: str, user: str, password: str) -> httpx.Response:
    """POST the wp-admin sign-in form (WordPress slashes what it receives)."""
    return httpx.post(
        url.rstrip("/") + "/wp-login.php",
        data={"log": user, "pwd": password, "testcookie": "1", "wp-submit": "Log In"},
        cookies={"wordpress_test_cookie": "WP Cookie check"},
        follow_redirects=False,
        timeout=30,
    )


def signed_in(resp: httpx.Response) -> bool:
    return any(c.startswith("wordpress_logged_in_") for c in resp.cookies)


def admin_client(url: str, user: str, password: str) -> httpx.Client:
    """A client signed in to wp-admin, with a REST nonce for the admin's API."""
    client = httpx.Client(base_url=url.rstrip("/"), timeout=60, follow_redirects=False)
    client.cookies.set("wordpress_test_cookie", "WP Cookie check")
    resp = client.post("/wp-login.php", data={"log": user, "pwd": password, "testcookie": "1"})
    assert signed_in(resp), f"the store admin could not sign in: {resp.status_code}"
    nonce = client.get("/wp-admin/admin-ajax.php", params={"action": "rest-nonce"}).text.strip()
    client.headers["X-WP-Nonce"] = nonce
    return client


def rest(client: httpx.Client, route: str, **params: Any) -> Any:
    resp = client.get("/", params={"rest_route": route, **params})
    assert resp.status_code == 200, f"{route}: {resp.status_code} {resp.text[:300]}"
    return resp.json()


def store_products(url: str) -> list[dict[str, Any]]:
    """The products a shopper sees, through WooCommerce's Store API."""
    resp = httpx.get(
        url.rstrip("/") + "/",
        params={"rest_route": "/wc/store/v1/products", "per_page": 100},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text[:300]
    data: list[dict[str, Any]] = resp.json()
    return data
