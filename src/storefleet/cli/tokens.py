"""``storefleet tokens``: personal API tokens, through the API. Managing
tokens needs a sign-in (``storefleet login``): an API token cannot make or
revoke tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from storefleet.cli.apps import tokens_app
from storefleet.cli.client import request

_SCOPES = "read, stores, webhooks, admin (admins), metrics (admins)"


@tokens_app.command("create")
def tokens_create(
    name: str,
    scope: Annotated[
        list[str], typer.Option("--scope", "-s", help=f"Repeat for several: {_SCOPES}")
    ],
    expires_days: Annotated[
        int | None, typer.Option(help="Expire after this many days (default: never)")
    ] = None,
) -> None:
    """Make a token; it is printed once (export it as STOREFLEET_TOKEN)."""
    body: dict[str, object] = {"name": name, "scopes": scope}
    if expires_days is not None:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days)
        body["expires_at"] = expires.isoformat()
    made = request("POST", "/api/tokens", json=body)
    typer.echo(f"token {made['id']} ({', '.join(made['scopes'])}), shown only now:")
    typer.echo(made["token"])


@tokens_app.command("list")
def tokens_list() -> None:
    """Your tokens: id, name, scopes, last use, expiry or revocation."""
    for t in request("GET", "/api/tokens")["items"]:
        state = (
            f"revoked {t['revoked_at'][:16]}"
            if t["revoked_at"]
            else f"expires {t['expires_at'][:16]}"
            if t["expires_at"]
            else "no expiry"
        )
        used = t["last_used_at"][:16] if t["last_used_at"] else "never"
        typer.echo(
            f"{t['id']:>5}  {t['name']:<24} {t['prefix']}…  {','.join(t['scopes']):<20} "
            f"last used {used:<16}  {state}"
        )


@tokens_app.command("revoke")
def tokens_revoke(token_id: int) -> None:
    """Revoke a token: it is refused from now on."""
    t = request("DELETE", f"/api/tokens/{token_id}")
    typer.echo(f"revoked token {t['id']} ({t['name']})")
