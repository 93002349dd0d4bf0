"""The ownership proof of a custom domain: a DNS TXT record
``_storefleet-challenge.<domain>`` whose value is the domain's token, looked
up through the platform's resolver (``STOREFLEET_DNS_RESOLVER``; unset: the
system's). Nothing is served for a domain before its proof is seen."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import dns.exception
import dns.nameserver
import dns.resolver

#: The label the TXT record is put under.
PREFIX = "_storefleet-challenge"


def record_name(domain: str) -> str:
    return f"{PREFIX}.{domain}"


def new_token() -> str:
    return "sf-" + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Proof:
    found: bool
    #: What was seen, in words (shown on the domain while it waits).
    detail: str


def resolver(setting: str | None, timeout: float = 5.0) -> dns.resolver.Resolver:
    """A resolver for ``setting`` ("host[:port]", comma-separated), or the system's."""
    if not setting:
        res = dns.resolver.Resolver()
    else:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [_nameserver(part.strip()) for part in setting.split(",") if part.strip()]
    res.lifetime = timeout
    res.timeout = timeout
    return res


def _nameserver(spec: str) -> dns.nameserver.Nameserver:
    host, port = spec, 53
    if spec.startswith("["):  # [v6]:port
        host, _, rest = spec[1:].partition("]")
        port = int(rest.removeprefix(":") or 53)
    elif spec.count(":") == 1:
        host, _, p = spec.partition(":")
        port = int(p)
    return dns.nameserver.Do53Nameserver(host, port)


def check(domain: str, token: str, res: dns.resolver.Resolver) -> Proof:
    name = record_name(domain)
    try:
        answer = res.resolve(name, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return Proof(False, f"no TXT record {name} yet (the name does not exist)")
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        return Proof(False, f"the TXT record {name} could not be looked up: {exc}")
    values = [b"".join(r.strings).decode(errors="replace") for r in answer.rrset or ()]
    if token in values:
        return Proof(True, f"TXT {name} holds the domain's token")
    if not values:
        return Proof(False, f"no TXT record {name} yet")
    shown = ", ".join(repr(v[:80]) for v in values[:3])
    return Proof(False, f"TXT {name} holds {shown}, not the domain's token")
