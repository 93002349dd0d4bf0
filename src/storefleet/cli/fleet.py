"""``storefleet fleet``: fleet upgrades and the releases new stores get,
through the API (admins)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from storefleet.cli.apps import fleet_app
from storefleet.cli.client import request


def _print_fleet(u: dict[str, Any]) -> None:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(u["counts"].items()))
    progress = f"waves {u['waves']}, wave {u['current_wave'] + 1}; {counts}"
    typer.echo(
        f"fleet upgrade {u['id']}: {u['status']} — WordPress {u['previous_wordpress']} → "
        f"{u['wordpress']}, WooCommerce {u['previous_woocommerce']} → {u['woocommerce']}; "
        + (progress if counts else "no store to upgrade")
    )
    if u.get("halted_reason"):
        typer.echo(f"halted: {u['halted_reason']}")


@fleet_app.command("upgrade")
def fleet_upgrade(
    wordpress: Annotated[str | None, typer.Option(help="A pinned WordPress version")] = None,
    woocommerce: Annotated[str | None, typer.Option(help="A pinned WooCommerce version")] = None,
    waves: Annotated[
        str | None, typer.Option(help='Comma-separated wave sizes, e.g. "1,25%,rest" (default)')
    ] = None,
    wait: Annotated[bool, typer.Option(help="Follow its progress until it ends")] = True,
) -> None:
    """Upgrade every store to pinned releases, in waves; each store is backed
    up, upgraded and must take a real order, or it is restored and the
    upgrade halts. Exit 1 if it halts."""
    body: dict[str, Any] = {"wordpress": wordpress, "woocommerce": woocommerce}
    if waves:
        body["waves"] = [w.strip() for w in waves.split(",") if w.strip()]
    u = request("POST", "/api/fleet/upgrades", json=body)
    if wait:  # each store's progress, then the summary
        fleet_status(str(u["id"]), follow=True)
    else:
        _print_fleet(u)


@fleet_app.command("status")
def fleet_status(
    upgrade_id: Annotated[str, typer.Argument(help="A fleet upgrade id, or 'latest'")] = "latest",
    follow: Annotated[bool, typer.Option(help="Follow until it ends")] = False,
) -> None:
    """Show a fleet upgrade and each store's progress."""
    if upgrade_id == "latest":
        items = request("GET", "/api/fleet/upgrades", params={"limit": 1})["items"]
        if not items:
            typer.echo("no fleet upgrade yet")
            return
        upgrade_id = str(items[0]["id"])
    shown: dict[int, tuple[str, str | None]] = {}
    while True:
        u = request("GET", f"/api/fleet/upgrades/{upgrade_id}")
        for st in u["stores"]:
            state = (st["status"], st.get("current_step"))
            if shown.get(st["store_id"]) != state:
                shown[st["store_id"]] = state
                step = f" ({st['current_step']})" if st.get("current_step") else ""
                took = f" in {st['duration_seconds']:.0f}s" if st.get("duration_seconds") else ""
                typer.echo(
                    f"  wave {st['wave'] + 1}  {st['name']:<30} {st['status']}{step}{took}"
                    + (f": {st['failure_reason']}" if st.get("failure_reason") else "")
                )
        if not follow or u["status"] != "running":
            break
        time.sleep(2)
    _print_fleet(u)
    if u["status"] == "halted":
        raise typer.Exit(1)


@fleet_app.command("releases")
def fleet_releases() -> None:
    """The releases new stores get, and every pinned release."""
    r = request("GET", "/api/fleet/releases")
    typer.echo(f"new stores get WordPress {r['wordpress']} and WooCommerce {r['woocommerce']}")
    for product, versions in r["known"].items():
        typer.echo(f"  pinned {product}: {', '.join(versions)}")


@fleet_app.command("plans")
def fleet_plans() -> None:
    """The plans a store may have, and which ones you may pick."""
    for plan in request("GET", "/api/fleet/plans"):
        mark = "default" if plan["default"] else "       "
        yours = "" if plan["yours_to_pick"] else "  (admins give it)"
        typer.echo(
            f"{mark}  {plan['name']:<10} {plan['memory_mib']:>6} MiB  {plan['cpus']:g} CPU  "
            f"{plan['pids']} processes  {plan['php_workers']} PHP workers, "
            f"{plan['php_memory_mib']} MiB a request{yours}"
        )
