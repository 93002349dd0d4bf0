"""Where webhooks may be sent: public addresses only, unless the operator
allows private networks (``STOREFLEET_WEBHOOKS_ALLOW_PRIVATE_NETWORKS``).

A URL is checked when it is registered (every address its host resolves to)
and again at each delivery, where the check cannot be fooled by a name that
resolves differently the second time (DNS rebinding): the sender resolves
the host itself, refuses any address that is not public, connects to the
address it checked and checks the socket's peer once more. TLS still
verifies the certificate against the URL's host name (httpcore passes it as
the server name).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore

from storefleet.exceptions import InvalidInput


class BlockedAddress(httpcore.ConnectError):
    """The URL's host is, or resolved to, an address webhooks may not reach."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(
        [{"loc": ["body", "url"], "field": "url", "msg": f"url: {message}",
          "type": "value_error"}]
    )  # fmt: skip


def check_url(url: str, *, allow_private: bool) -> None:
    """422 naming ``url`` unless it is an http(s) URL whose host resolves,
    and only to public addresses (or private networks are allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise _invalid("must not hold a user name or password (the signature authenticates us)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve(parts.hostname, port)
    except (OSError, ValueError) as exc:
        raise _invalid(f"the host {parts.hostname} does not resolve ({exc})") from exc
    if allow_private:
        return
    blocked = [a for a in addresses if not is_public(a)]
    if blocked:
        raise _invalid(
            f"{parts.hostname} resolves to {', '.join(blocked)}: loopback, link-local and "
            "private addresses are refused (the operator may allow them with "
            "STOREFLEET_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true)"
        )


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to checked addresses."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def _check(self, host: str, address: str) -> None:
        if not self.allow_private and not is_public(address):
            raise BlockedAddress(
                f"{host} resolved to {address}, which is not a public address "
                "(STOREFLEET_WEBHOOKS_ALLOW_PRIVATE_NETWORKS is off)"
            )

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        for address in addresses:
            self._check(host, address)
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
                continue
            sock = stream.get_extra_info("socket")
            peer = str(sock.getpeername()[0]) if sock is not None else address
            try:
                self._check(host, peer)
            except BlockedAddress:
                stream.close()
                raise
            return stream
        raise error or httpcore.ConnectError(f"{host} has no address")
