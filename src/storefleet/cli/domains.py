"""``storefleet stores domains``: a store's custom domains, through the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from storefleet.cli.apps import domains_app
from storefleet.cli.client import request
from storefleet.cli.stores import find_store


def _print(d: dict[str, Any]) -> None:
    primary = " (primary)" if d.get("primary") else ""
    typer.echo(f"{d['domain']:<50} {d['status']}{primary}  {d.get('url') or ''}")
    if d["status"] == "pending":
        v = d["verification"]
        typer.echo(f"    prove it yours: a TXT record {v['name']} with the value {v['value']}")
    if d.get("expires_at"):
        typer.echo(f"    certificate valid until {d['expires_at']}")
    if d.get("failure_reason"):
        typer.echo(f"    {d['failure_reason']}")


@domains_app.command("add")
def domains_add(
    store: str,
    domain: str,
    primary: Annotated[
        bool | None,
        typer.Option(
            "--primary/--not-primary",
            help="The store's address moves to it (default: when it has no primary domain)",
        ),
    ] = None,
) -> None:
    """Add a custom domain to a store; prints the TXT record that proves it yours."""
    s = find_store(store)
    body: dict[str, Any] = {"domain": domain}
    if primary is not None:
        body["primary"] = primary
    _print(request("POST", f"/api/stores/{s['id']}/domains", json=body))


@domains_app.command("list")
def domains_list(store: str) -> None:
    """A store's custom domains and where each stands."""
    s = find_store(store)
    rows = request("GET", f"/api/stores/{s['id']}/domains")
    for d in rows:
        _print(d)
    typer.echo(f"{len(rows)} domain(s); the store answers at {s.get('url')}")


@domains_app.command("remove")
def domains_remove(store: str, domain: str) -> None:
    """Remove a custom domain: the store stops answering at it."""
    s = find_store(store)
    _print(request("DELETE", f"/api/stores/{s['id']}/domains/{domain}"))
