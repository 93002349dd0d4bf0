"""What the host commands share: this machine's platform (its settings,
runtime and logging) and reading a password from the terminal or stdin."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import typer

from storefleet.config import Settings, get_settings


def configure_logging(settings: Settings) -> None:
    from storefleet.logs import configure

    configure(settings)


def platform_runtime() -> Any:
    from storefleet.runtime import Runtime

    return Runtime(get_settings())


def existing_platform() -> Any:
    """The runtime of a platform that has run before (the host commands that
    read its users). A relative data dir ("var") read from another directory
    would create an empty SQLite file there and fail on its tables: say so."""
    settings = get_settings()
    db = settings.data_path / "storefleet.db"
    if settings.database_url is None and not db.exists():
        typer.echo(
            f"error: no platform database at {db}; run this from the checkout "
            "(where `make up` runs) or set STOREFLEET_DATA_DIR / STOREFLEET_DATABASE_URL",
            err=True,
        )
        raise typer.Exit(1)
    return platform_runtime()


def read_password(prompt: str = "Password: ") -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")
