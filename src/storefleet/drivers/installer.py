"""The one client of the store installer (``installer/storefleet-install.php``).

Both drivers run the same PHP program with a JSON request on its standard
input; it ends its output with one line ``STOREFLEET_RESULT <json>``. This
module builds the requests, reads that line and turns what went wrong into
a step error: transient when WordPress could not reach its database or the
run did not finish in time, permanent otherwise, with the installer's own
message. Nothing else parses the installer's output.

How the program is started is the driver's: a :class:`Transport` runs it
with the request on stdin and hands back its output — a subprocess as the
store's own uid (local driver), or exec in the store's pod (Kubernetes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from storefleet.drivers.base import PermanentError, StepContext, TransientError
from storefleet.drivers.wordpress import ADMIN_USER

RESULT_MARKER = "STOREFLEET_RESULT "


@dataclass(frozen=True)
class InstallerRun:
    """What one run of the installer printed, and how it ended."""

    stdout: str
    stderr: str
    returncode: int | None


class Transport(Protocol):
    """Runs the installer for ``ctx.store`` with ``request`` on its stdin, within
    ``ctx.remaining()`` seconds; raises TransientError when it does not finish
    in time, and a step error when it cannot be started at all."""

    def run_installer(self, ctx: StepContext, request: str) -> InstallerRun: ...


@dataclass(frozen=True)
class StoreProfile:
    """What a fresh install sets up besides WordPress: the shop's country and
    currency (the platform's settings)."""

    country: str
    currency: str


class Installer:
    """The installer's actions for one driver (its transport)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def call(self, ctx: StepContext, request: dict[str, object]) -> dict[str, Any]:
        """Run one action; its result (``ok`` true), or a step error."""
        run = self._transport.run_installer(ctx, json.dumps(request))
        return parse_result(run, str(request.get("action")))

    def install(self, ctx: StepContext, profile: StoreProfile) -> dict[str, Any]:
        store = ctx.store
        return self.call(
            ctx,
            {
                "action": "install",
                "url": _url(ctx),
                "title": store.name,
                "admin_user": ADMIN_USER,
                "admin_email": store.admin_email,
                "admin_password": ctx.admin_password(),
                "woocommerce": True,
                "sample_products": store.sample_products,
                "store": {"country": profile.country, "currency": profile.currency},
            },
        )

    def adopt(
        self, ctx: StepContext, *, as_new_store: bool = False, from_url: str | None = None
    ) -> dict[str, Any]:
        """Make the database (and wp-content) put in from a backup answer to
        this store's address; ``as_new_store`` (a clone): also its title, and
        its admin signs in with this store's password (every session of the
        source's admin ends); ``from_url``: the address the content came
        from, when the database's own is already this store's (a push)."""
        request: dict[str, object] = {"action": "adopt", "url": _url(ctx)}
        if from_url:
            request["from_url"] = from_url
        if as_new_store:
            request.update(
                title=ctx.store.name,
                admin_user=ADMIN_USER,
                admin_email=ctx.store.admin_email,
                admin_password=ctx.admin_password(),
            )
        return self.call(ctx, request)

    def upgrade(self, ctx: StepContext) -> dict[str, Any]:
        """The database upgrades of the releases the store's files are at
        (nothing to do when they match); the result names those releases."""
        return self.call(ctx, {"action": "upgrade", "url": _url(ctx)})

    def stage(self, ctx: StepContext) -> dict[str, Any]:
        """Mark the store a staging copy (noindex; mail kept, never sent;
        offline payment methods only: the must-use plugin's part), titled
        with its own name (a refresh brings live's title back)."""
        return self.call(ctx, {"action": "stage", "url": _url(ctx), "title": ctx.store.name})

    def checkout_product(self, ctx: StepContext) -> int:
        result = self.call(ctx, {"action": "checkout-product", "url": _url(ctx)})
        return int(str(result["product_id"]))

    def confirm_order(self, ctx: StepContext, order_id: int) -> dict[str, Any]:
        result = self.call(ctx, {"action": "confirm-order", "url": _url(ctx), "order_id": order_id})
        return {k: result.get(k) for k in ("status", "payment_method", "total", "deleted")}


def parse_result(run: InstallerRun, action: str) -> dict[str, Any]:
    """The installer's result line, or the step error its output explains."""
    marker = [ln for ln in run.stdout.splitlines() if ln.startswith(RESULT_MARKER)]
    if not marker:
        tail = (run.stdout + run.stderr).strip()[-500:]
        text = re.sub(r"<[^>]+>", " ", tail).strip()
        lowered = text.lower()
        if "database connection" in lowered:
            raise TransientError(f"WordPress could not reach its database: {text}")
        if "database tables are unavailable" in lowered:
            # Another run of the installer (one whose caller died) is still
            # making the tables: once it has, this one finds them.
            raise TransientError(f"the store's tables are being made by another run: {text[-200:]}")
        raise PermanentError(f"the installer failed ({action}, exit {run.returncode}): {text}")
    try:
        result: dict[str, Any] = json.loads(marker[-1].removeprefix(RESULT_MARKER))
    except ValueError as exc:
        raise PermanentError(f"the installer's result is not JSON ({action})") from exc
    if not result.get("ok"):
        raise PermanentError(f"the installer failed: {result.get('error')}")
    return result


def _url(ctx: StepContext) -> str:
    if not ctx.store.url:
        raise PermanentError("the store has no URL yet (the endpoint step did not run)")
    return ctx.store.url


def describe_install(result: dict[str, Any], admin_email: str) -> str:
    """One sentence on what an install did (the store's timeline)."""
    verb = "installed" if result.get("created") else "converged the existing"
    parts = [f"{verb} WordPress {result.get('wordpress')}; admin '{ADMIN_USER}' <{admin_email}>"]
    if result.get("woocommerce"):
        parts.append(
            f"WooCommerce {result.get('woocommerce')} "
            + ("active" if result.get("active") else "NOT active")
        )
        parts.append("Cash on Delivery on" if result.get("cod") else "Cash on Delivery off")
        parts.append(f"{result.get('products', 0)} product(s)")
        parts.append(
            "shop open" if result.get("coming_soon") == "no" else "shop in coming-soon mode"
        )
    return "; ".join(parts)


def describe_adopt(result: dict[str, Any]) -> str:
    replaced = result.get("replaced") or 0
    if replaced:
        return f"address {result.get('old_url')} → {result.get('url')} in {replaced} value(s)"
    return f"address {result.get('url')} kept"


def describe_upgrade(result: dict[str, Any]) -> str:
    return (
        f"WordPress {result.get('wordpress')} (database {result.get('wordpress_db_before')}"
        f" → {result.get('wordpress_db')}), WooCommerce {result.get('woocommerce')} "
        f"(database {result.get('woocommerce_db_before')} → {result.get('woocommerce_db')})"
    )


def releases_of(result: dict[str, Any]) -> dict[str, str]:
    """The releases the installer found the store's files at, as the store
    row's fields (what a store reports is what it runs)."""
    return {
        f"{product}_version": str(result[product])
        for product in ("wordpress", "woocommerce")
        if result.get(product)
    }
