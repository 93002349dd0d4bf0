"""``storefleet stores``: stores and their day-2 operations, through the API."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import typer

from storefleet.cli.apps import stores_app
from storefleet.cli.client import request
from storefleet.cli.host import read_password


def _print_store(s: dict[str, Any]) -> None:
    step = f" ({s['current_step']})" if s.get("current_step") else ""
    plan = f"  [{s['plan']}]" if s.get("plan") else ""
    typer.echo(f"{s['id']:>5}  {s['name']:<40} {s['status']}{step}  {s.get('url') or ''}{plan}")


def find_store(name_or_id: str) -> dict[str, Any]:
    if name_or_id.isdigit():
        return dict(request("GET", f"/api/stores/{name_or_id}"))
    # A live store first; else the newest deleted one of that name (its
    # final backup is still listed).
    for include_deleted in (False, True):
        params = {"limit": 500, "include_deleted": include_deleted, "name_prefix": name_or_id}
        for s in _every_store(params):
            if s["name"] == name_or_id:
                return dict(request("GET", f"/api/stores/{s['id']}"))
    typer.echo(f"error: no store named {name_or_id}", err=True)
    raise typer.Exit(1)


def _every_store(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The stores of every page of the list, following its cursors."""
    params = dict(params)
    while True:
        page = request("GET", "/api/stores", params=params)
        yield from page["items"]
        if not page.get("next_cursor"):
            return
        params["cursor"] = page["next_cursor"]


@stores_app.command("list")
def stores_list(
    all_: Annotated[bool, typer.Option("--all", help="Include deleted")] = False,
    status: Annotated[str | None, typer.Option(help="Only stores in this status")] = None,
    name: Annotated[str | None, typer.Option(help="Only names starting with this")] = None,
    sort: Annotated[
        str, typer.Option(help="-created_at (newest first), created_at, name or -name")
    ] = "-created_at",
) -> None:
    """List your stores (admins: all stores), newest first unless --sort says otherwise."""
    params: dict[str, Any] = {"limit": 500, "include_deleted": all_, "sort": sort}
    if status:
        params["status"] = status
    if name:
        params["name_prefix"] = name
    count = 0
    for s in _every_store(params):
        _print_store(s)
        count += 1
    typer.echo(f"{count} store(s)")


@stores_app.command("create")
def stores_create(
    name: str,
    admin_email: Annotated[str, typer.Option(help="The store admin's email")],
    sample_products: Annotated[
        bool, typer.Option(help="Start the shop with WooCommerce's sample products")
    ] = True,
    plan: Annotated[
        str | None,
        typer.Option(help="What it may use (storefleet fleet plans); default: the default"),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until ready")] = False,
) -> None:
    """Create a store. The admin password is generated and printed once."""
    body: dict[str, Any] = {
        "name": name, "admin_email": admin_email, "sample_products": sample_products,
    }  # fmt: skip
    if plan:
        body["plan"] = plan
    s = request("POST", "/api/stores", json=body)
    _print_store(s)
    if s.get("admin_password"):
        typer.echo(f"admin password (shown only now): {s['admin_password']}")
    if wait:
        _wait(s, "ready", 600, shown=s)


@stores_app.command("show")
def stores_show(store: str) -> None:
    """Show a store with its steps."""
    s = find_store(store)
    _print_store(s)
    if s.get("failure_reason"):
        typer.echo(f"failure: {s['failure_reason']}")
    for st in s["steps"]:
        typer.echo(
            f"   {st['operation']:<9} {st['name']:<12} {st['status']:<10} "
            f"try {st['attempt']}  {st.get('message') or ''}"
        )


@stores_app.command("delete")
def stores_delete(store: str, wait: Annotated[bool, typer.Option()] = False) -> None:
    """Delete a store (in any phase)."""
    s = find_store(store)
    deleting = request("DELETE", f"/api/stores/{s['id']}")
    _print_store(deleting)
    if wait:
        _wait(s, "deleted", 600, shown=deleting)


@stores_app.command("wait")
def stores_wait(
    store: str,
    until: Annotated[str, typer.Option(help="ready or deleted")] = "ready",
    timeout: Annotated[float, typer.Option(help="Seconds")] = 600,
) -> None:
    """Wait until a store is ready (or deleted); exit 1 if it fails."""
    _wait(find_store(store), until, timeout)


def _state(s: dict[str, Any]) -> tuple[str, str | None]:
    return (s["status"], s.get("current_step"))


def _wait(
    s: dict[str, Any], until: str, timeout: float, shown: dict[str, Any] | None = None
) -> None:
    """Print each new state of store ``s`` (``shown`` is printed already)."""
    deadline = time.monotonic() + timeout
    last = _state(shown) if shown else None
    while time.monotonic() < deadline:
        s = dict(request("GET", f"/api/stores/{s['id']}"))
        state = _state(s)
        if state != last:
            _print_store(s)
            last = state
        if s["status"] == until:
            return
        if s["status"] == "failed":
            typer.echo(f"failed: {s.get('failure_reason')}", err=True)
            raise typer.Exit(1)
        time.sleep(1)
    typer.echo("timed out", err=True)
    raise typer.Exit(1)


@stores_app.command("smoke-test")
def stores_smoke_test(
    store: str,
    admin_user: Annotated[str, typer.Option(help="The store's WordPress admin")] = "admin",
) -> None:
    """Place a Cash-on-Delivery order through the WooCommerce Store API and
    confirm it through the REST API as the store admin (password from the
    terminal, stdin, or STOREFLEET_STORE_ADMIN_PASSWORD). Exit 3: no WooCommerce."""
    from storefleet import smoke

    s = find_store(store)
    if s["status"] != "ready" or not s.get("url"):
        typer.echo(f"error: store {s['name']} is {s['status']}, not ready", err=True)
        raise typer.Exit(1)
    password = os.environ.get("STOREFLEET_STORE_ADMIN_PASSWORD") or read_password(
        "The store admin's password: "
    )
    try:
        order = smoke.run(s["url"], admin_user, password)
    except smoke.WooCommerceMissing as exc:
        typer.echo(f"skipped: {exc}", err=True)
        raise typer.Exit(3) from exc
    except (smoke.SmokeTestError, httpx.HTTPError) as exc:
        typer.echo(f"failed: {s['url']}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"order {order.order_id} placed and confirmed: {order.status}, "
        f"{order.payment_method}, total {order.total}"
    )


@stores_app.command("backup")
def stores_backup(
    store: str, wait: Annotated[bool, typer.Option(help="Wait until it is taken")] = False
) -> None:
    """Take a backup of a store now."""
    s = find_store(store)
    backup = request("POST", f"/api/stores/{s['id']}/backups")
    typer.echo(f"backup {backup['id']} of {s['name']}: {backup['status']}")
    if wait:
        wait_backup(s["id"], backup)


def wait_backup(store_id: int, backup: dict[str, Any]) -> dict[str, Any]:
    """Wait until ``backup`` is taken; exit 1 unless it completed."""
    deadline = time.monotonic() + 3600
    while backup["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(1)
        items = request("GET", f"/api/stores/{store_id}/backups")["items"]
        backup = next(b for b in items if b["id"] == backup["id"])
    size = f", {backup['size_bytes'] / (1 << 20):.1f} MiB" if backup.get("size_bytes") else ""
    typer.echo(f"backup {backup['id']}: {backup['status']}{size}")
    if backup["status"] != "completed":
        typer.echo(f"failed: {backup.get('failure_reason')}", err=True)
        raise typer.Exit(1)
    return backup


@stores_app.command("backups")
def stores_backups(store: str) -> None:
    """List a store's backups, newest first."""
    s = find_store(store)
    for b in request("GET", f"/api/stores/{s['id']}/backups")["items"]:
        size = f"{b['size_bytes'] / (1 << 20):8.1f} MiB" if b.get("size_bytes") else " " * 12
        versions = f"WP {b.get('wordpress_version')}, WC {b.get('woocommerce_version')}"
        typer.echo(
            f"{b['id']:>6}  {b['created_at'][:19]}  {b['kind']:<9} {b['status']:<10} {size}  "
            + (versions if b["status"] == "completed" else b.get("failure_reason") or "")
        )


def _operation(store_id: int, path: str, body: dict[str, Any] | None, wait: bool) -> None:
    op = request("POST", f"/api/stores/{store_id}/{path}", json=body)
    typer.echo(f"{op['kind']} {op['id']}: {op['status']}")
    if wait:
        _follow(store_id, op)


def _follow(store_id: int, op: dict[str, Any]) -> None:
    """Wait until operation ``op`` ends; exit 1 unless it succeeded."""
    deadline = time.monotonic() + 3600
    while op["status"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(1)
        ops = request("GET", f"/api/stores/{store_id}/operations", params={"limit": 20})
        op = next(o for o in ops if o["id"] == op["id"])
    typer.echo(f"{op['kind']} {op['id']}: {op['status']}")
    if op["status"] != "succeeded":
        typer.echo(f"failed: {op.get('failure_reason')}", err=True)
        raise typer.Exit(1)


@stores_app.command("restore")
def stores_restore(
    store: str, backup_id: int, wait: Annotated[bool, typer.Option()] = False
) -> None:
    """Restore a store from one of its backups."""
    _operation(find_store(store)["id"], "restore", {"backup_id": backup_id}, wait)


@stores_app.command("resize")
def stores_resize(
    store: str,
    plan: Annotated[str, typer.Argument(help="The new plan (storefleet fleet plans)")],
    wait: Annotated[bool, typer.Option()] = False,
) -> None:
    """Give a store another plan: its limits and PHP workers change, gracefully."""
    s = find_store(store)
    detail = request("PATCH", f"/api/stores/{s['id']}", json={"plan": plan})
    if detail.get("current_operation") != "resize":
        typer.echo(f"{s['name']} has plan {detail.get('plan')} already")
        return
    ops = request("GET", f"/api/stores/{s['id']}/operations", params={"limit": 5})
    op = next(o for o in ops if o["kind"] == "resize")
    typer.echo(f"resize {op['id']} of {s['name']} to {plan}: {op['status']}")
    if wait:
        _follow(s["id"], op)


@stores_app.command("suspend")
def stores_suspend(store: str, wait: Annotated[bool, typer.Option()] = False) -> None:
    """Suspend a store: it keeps its data and answers “store unavailable”."""
    _operation(find_store(store)["id"], "suspend", None, wait)


@stores_app.command("resume")
def stores_resume(store: str, wait: Annotated[bool, typer.Option()] = False) -> None:
    """Resume a suspended store."""
    _operation(find_store(store)["id"], "resume", None, wait)
