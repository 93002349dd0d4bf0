"""The ``storefleet`` command line, one module per command group:
``server`` (up, api, worker, migrate, bootstrap), ``users`` (host-side
accounts), ``client`` (login, logout and the API client), ``stores``,
``domains`` (a store's custom domains), ``staging``, ``moves`` (export,
import), ``fleet``, ``tokens`` and ``releases``; ``apps`` holds the command
groups, ``host`` what the host commands share."""

from __future__ import annotations

import os

from storefleet.cli import (
    client,
    domains,
    fleet,
    moves,
    releases,
    server,
    staging,
    stores,
    tokens,
    users,
)  # fmt: skip
from storefleet.cli.apps import app

__all__ = [
    "app", "client", "domains", "fleet", "main", "moves", "releases", "server", "staging",
    "stores", "tokens", "users",
]  # fmt: skip


def main() -> None:
    # What the platform writes (its SQLite files, logs, caches) is its own;
    # what stores must read is given its mode explicitly.
    os.umask(0o077)
    app()
