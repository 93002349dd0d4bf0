"""``storefleet stores staging``: staging copies of a store, pushing one to
live and refreshing it, through the API (docs/staging.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from storefleet.cli.apps import staging_app
from storefleet.cli.client import request
from storefleet.cli.stores import _follow, _print_store, _wait, find_store


def _print_copy(s: dict[str, Any]) -> None:
    _print_store(s)
    typer.echo(f"       staging copy of store {s['staging_of_id']}, expires {s['expires_at']}")


@staging_app.command("create")
def staging_create(
    store: Annotated[str, typer.Argument(help="The live store (name or id)")],
    name: Annotated[str | None, typer.Option(help="Default: <store>-staging")] = None,
    days: Annotated[int | None, typer.Option(help="Deleted after this many days (14)")] = None,
    wait: Annotated[bool, typer.Option(help="Wait until ready")] = False,
) -> None:
    """Make a staging copy of a store from a fresh backup; its generated admin
    password is printed once."""
    body: dict[str, Any] = {"name": name, "days": days}
    copy = request(
        "POST",
        f"/api/stores/{find_store(store)['id']}/staging",
        json={k: v for k, v in body.items() if v is not None},
    )
    _print_copy(copy)
    if copy.get("admin_password"):
        typer.echo(f"admin password (shown once): {copy['admin_password']}")
    if wait:
        _wait(copy, "ready", 1800, shown=copy)


@staging_app.command("list")
def staging_list(store: Annotated[str, typer.Argument(help="The live store")]) -> None:
    """The store's staging copies, newest first."""
    rows = request("GET", f"/api/stores/{find_store(store)['id']}/staging")
    for s in rows:
        _print_copy(s)
    typer.echo(f"{len(rows)} staging cop{'y' if len(rows) == 1 else 'ies'}")


@staging_app.command("push")
def staging_push(
    copy: Annotated[str, typer.Argument(help="The staging copy (name or id)")],
    what: Annotated[str, typer.Option(help="files, database or both")] = "both",
    wait: Annotated[bool, typer.Option()] = False,
) -> None:
    """Push a staging copy into its live store (live is backed up first and
    keeps its orders, customers, stock and sessions)."""
    s = find_store(copy)
    op = request("POST", f"/api/stores/{s['id']}/push", json={"what": what})
    typer.echo(f"push {op['id']} into store {s['staging_of_id']}: {op['status']}")
    if wait:
        _follow(int(s["staging_of_id"]), op)


@staging_app.command("refresh")
def staging_refresh(
    copy: Annotated[str, typer.Argument(help="The staging copy (name or id)")],
    wait: Annotated[bool, typer.Option()] = False,
) -> None:
    """Make a staging copy again from a fresh backup of its live store."""
    s = find_store(copy)
    op = request("POST", f"/api/stores/{s['id']}/refresh")
    typer.echo(f"refresh {op['id']}: {op['status']}")
    if wait:
        _follow(int(s["id"]), op)


@staging_app.command("extend")
def staging_extend(
    copy: Annotated[str, typer.Argument(help="The staging copy (name or id)")],
    days: Annotated[int, typer.Argument(help="More days (at most 90 from now)")],
) -> None:
    """Keep a staging copy longer."""
    s = request("POST", f"/api/stores/{find_store(copy)['id']}/extend", json={"days": days})
    typer.echo(f"{s['name']} now expires {s['expires_at']}")
