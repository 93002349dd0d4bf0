"""The check both drivers make before calling a store ready: its storefront
answers 200 with the store's name in the title, and its admin login page
answers 200."""

from __future__ import annotations

import html
import re

import httpx

from storefleet.drivers.base import PermanentError, TransientError

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class Unreachable(TransientError):
    """Nothing answered at the address (as opposed to a wrong answer)."""


def check_storefront(base_url: str, store_name: str, *, timeout: float) -> str:
    """Return a sentence saying what answered; raise TransientError while the
    store is not answering yet, PermanentError when it answers as another site."""
    try:
        with httpx.Client(timeout=min(30.0, max(1.0, timeout)), follow_redirects=False) as http:
            home = http.get(base_url)
            if home.status_code != 200:
                raise TransientError(f"{base_url} answered {home.status_code}")
            match = _TITLE.search(home.text)
            title = html.unescape(match.group(1)).strip() if match else ""
            if store_name not in title:
                raise PermanentError(f"{base_url} answered, but its title is {title!r}")
            login = http.get(base_url + "wp-login.php")
            if login.status_code != 200:
                raise TransientError(f"{base_url}wp-login.php answered {login.status_code}")
    except httpx.HTTPError as exc:
        raise Unreachable(f"{base_url} did not answer: {exc}") from exc
    return f"{base_url} answers with the title {title!r}; wp-login.php answers 200"
