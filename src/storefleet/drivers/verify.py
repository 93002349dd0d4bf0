"""The check both drivers make before calling a store ready: its storefront
answers 200 with the store's name in the title, and its admin login page
answers 200.

The request carries the store's own Host (and ``X-Forwarded-Proto`` when TLS
ends in front of it), so that WordPress answers as it does to visitors: sent
to a Service or an ingress address without them, WordPress answers with a
redirect to its canonical address instead."""

from __future__ import annotations

import functools
import html
import re
import ssl
import time
from urllib.parse import urlsplit, urlunsplit

import httpx

from storefleet.drivers.base import PermanentError, TransientError

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@functools.cache
def tls_context(extra_cas: str | None = None) -> ssl.SSLContext:
    """One TLS context for every check (building one loads the CA bundle,
    which costs more CPU than a check of a local store's two pages), trusting
    ``extra_cas`` too (STOREFLEET_ACME_CA_BUNDLE: a test ACME server's root)."""
    context = httpx.create_ssl_context()
    if extra_cas:
        context.load_verify_locations(cafile=extra_cas)
    return context


class Unreachable(TransientError):
    """Nothing answered at the address (as opposed to a wrong answer)."""


def storefront_request(url: str) -> tuple[str, dict[str, str]]:
    """(where to connect, headers) for a store's public URL from this machine.

    ``localhost`` and ``*.localhost`` are loopback (RFC 6761; browsers and
    curl resolve them so, the C library often does not): the request goes to
    127.0.0.1 with the store's Host. Other names are used as they are."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    headers = {"Host": parts.netloc}
    if parts.scheme == "https":
        headers["X-Forwarded-Proto"] = "https"
    if host == "localhost" or host.endswith(".localhost"):
        netloc = "127.0.0.1" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path or "/", "", "")), headers
    return url, {}


def check_storefront(
    base_url: str,
    store_name: str,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    sni: str | None = None,
    extra_cas: str | None = None,
) -> str:
    """Return a sentence saying what answered; raise TransientError while the
    store is not answering yet, PermanentError when it answers as another site.
    ``sni``: the TLS server name (and the name its certificate must have) when
    ``base_url`` is an address, not that name."""
    sent = dict(headers or {})
    where = base_url + (f" (Host {sent['Host']})" if "Host" in sent else "")
    ext = {"sni_hostname": sni} if sni else None
    try:
        with httpx.Client(
            timeout=min(30.0, max(1.0, timeout)),
            follow_redirects=False,
            headers=sent,
            verify=tls_context(extra_cas),
        ) as http:
            home = http.get(base_url, extensions=ext)
            if home.status_code != 200:
                location = home.headers.get("location")
                to = f" to {location}" if location else ""
                raise TransientError(f"{where} answered {home.status_code}{to}")
            match = _TITLE.search(home.text)
            title = html.unescape(match.group(1)).strip() if match else ""
            if store_name not in title:
                raise PermanentError(f"{where} answered, but its title is {title!r}")
            login = http.get(base_url + "wp-login.php", extensions=ext)
            if login.status_code != 200:
                raise TransientError(f"{where}wp-login.php answered {login.status_code}")
    except httpx.HTTPError as exc:
        raise Unreachable(f"{where} did not answer: {exc}") from exc
    return f"{where} answers with the title {title!r}; wp-login.php answers 200"


def wait_for_answer(
    url: str,
    headers: dict[str, str],
    answer: str,
    *,
    seconds: float,
    every: float,
    timeout: float,
    who: str = "",
) -> str:
    """GET ``url`` until it answers 200 with ``answer`` (an ACME challenge's
    key authorization), for up to ``seconds``: "" once it does, else what
    the last try saw (``who`` names the server in it)."""  # fmt: skip
    deadline = time.monotonic() + seconds
    seen = ""
    while time.monotonic() < deadline:
        try:
            got = httpx.get(url, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            seen = f"{who} did not answer: {exc}" if who else f"no answer: {exc}"
        else:
            if got.status_code == 200 and got.text.strip() == answer:
                return ""
            seen = f"{who} answered {got.status_code}".strip()
        time.sleep(every)
    return seen
