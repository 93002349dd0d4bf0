"""The ``storefleet`` command and its command groups (each module of this
package adds its commands to one of them)."""

from __future__ import annotations

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="""The ``storefleet`` command line.

Server commands (``up``, ``api``, ``worker``, ``migrate``, ``users``) act on
this machine's platform; ``login`` and ``stores`` talk to a running API over
HTTP, like any other client.""",
)
users_app = typer.Typer(no_args_is_help=True, help="Manage platform users (on this machine).")
stores_app = typer.Typer(no_args_is_help=True, help="Manage stores through the API.")
releases_app = typer.Typer(
    no_args_is_help=True, help="The pinned WordPress and WooCommerce releases (on this machine)."
)
fleet_app = typer.Typer(no_args_is_help=True, help="Fleet upgrades through the API (admins).")
tokens_app = typer.Typer(
    no_args_is_help=True, help="Your personal API tokens, through the API (needs `login`)."
)
domains_app = typer.Typer(
    no_args_is_help=True, help="A store's custom domains, through the API (docs/domains.md)."
)
stores_app.add_typer(domains_app, name="domains")
staging_app = typer.Typer(
    no_args_is_help=True, help="Staging copies of a store and pushing them to live."
)
stores_app.add_typer(staging_app, name="staging")
app.add_typer(users_app, name="users")
app.add_typer(stores_app, name="stores")
app.add_typer(releases_app, name="releases")
app.add_typer(fleet_app, name="fleet")
app.add_typer(tokens_app, name="tokens")
