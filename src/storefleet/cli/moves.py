"""``storefleet stores export`` and ``import``: a store moved from one
platform to another through their APIs (stores/moves.py), as a portable
archive under a passphrase the operator keeps."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from storefleet.backups import portable
from storefleet.cli.apps import stores_app
from storefleet.cli.client import api_url, refused, request, token
from storefleet.cli.stores import _print_store, _wait, find_store, wait_backup

PassphraseFile = Annotated[
    Path,
    typer.Option(
        "--passphrase-file",
        help="A file whose first line is the archive's passphrase (12-1024 characters; "
        "- : standard input). Never on the command line",
    ),
]


def _passphrase(path: Path) -> str:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        typer.echo(f"error: cannot read the passphrase file {path}: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc
    lines = text.splitlines()
    passphrase = lines[0] if lines else ""
    if not 12 <= len(passphrase) <= 1024:
        typer.echo(
            f"error: the passphrase in {path} must be 12-1024 characters on its first line "
            f"(it has {len(passphrase)})",
            err=True,
        )
        raise typer.Exit(1)
    return passphrase


@stores_app.command("export")
def stores_export(
    store: str,
    passphrase_file: PassphraseFile,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The archive to write (default: NAME-backup-ID.sfx)"),
    ] = None,
    backup_id: Annotated[
        int | None,
        typer.Option("--backup", help="Export this completed backup instead of a new one"),
    ] = None,
) -> None:
    """Write a portable archive of a store: a backup taken now, re-encrypted
    by the platform under your passphrase (its own key never leaves it), for
    `storefleet stores import` on any platform. The archive is checked here
    (it opens with the passphrase and holds what its manifest says)."""
    passphrase = _passphrase(passphrase_file)
    s = find_store(store)
    if backup_id is None:
        backup = request("POST", f"/api/stores/{s['id']}/exports")
        typer.echo(f"backup {backup['id']} of {s['name']} to export: {backup['status']}")
        backup_id = int(wait_backup(s["id"], backup)["id"])
    target = output or Path(f"{s['name']}-backup-{backup_id}{portable.SUFFIX}")
    if target.exists():
        typer.echo(f"error: {target} exists; choose another --output", err=True)
        raise typer.Exit(1)
    path = f"/api/stores/{s['id']}/backups/{backup_id}/archive"
    _download(path, passphrase, target)
    try:
        with target.open("rb") as f:
            manifest = portable.open_archive(f, passphrase).manifest
    except portable.ArchiveError as exc:
        target.unlink()
        typer.echo(f"error: the archive written is not whole ({exc}); try again", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"wrote {target} ({target.stat().st_size / (1 << 20):.1f} MiB): {s['name']} at WordPress "
        f"{manifest.get('wordpress_version')}, WooCommerce {manifest.get('woocommerce_version')}; "
        "checked: it opens with the passphrase"
    )


def _download(path: str, passphrase: str, target: Path) -> None:
    part = target.with_name(target.name + ".part")
    headers = {"Authorization": f"Bearer {token()}"}
    try:
        with httpx.stream(
            "POST", api_url() + path, json={"passphrase": passphrase}, headers=headers,
            timeout=httpx.Timeout(30, read=600),
        ) as resp:  # fmt: skip
            if resp.status_code >= 400:
                resp.read()
                refused(resp)
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                for chunk in resp.iter_bytes():
                    out.write(chunk)
    except httpx.HTTPError as exc:
        part.unlink(missing_ok=True)
        typer.echo(f"error: the download from {api_url()} broke off: {exc}", err=True)
        raise typer.Exit(1) from exc
    part.replace(target)


@stores_app.command("import")
def stores_import(
    archive: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The archive")],
    owner: Annotated[str, typer.Option("--owner", help="The email of its owner here")],
    passphrase_file: PassphraseFile,
    name: Annotated[
        str | None, typer.Option("--name", help="Its name here (default: the archive's)")
    ] = None,
    admin_email: Annotated[
        str | None, typer.Option(help="The store admin's email (default: the archive's)")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="Its plan (default: the archive's)")] = None,
    wait: Annotated[bool, typer.Option(help="Wait until ready")] = False,
) -> None:
    """Create a store from an archive of `storefleet stores export`: a new
    uid, database, salts and admin password (printed once), on this
    platform's driver and releases, with the archive's orders, customers,
    products and files."""
    passphrase = _passphrase(passphrase_file)
    form: dict[str, Any] = {"passphrase": passphrase, "owner_email": owner}
    for key, value in (("name", name), ("admin_email", admin_email), ("plan", plan)):
        if value is not None:
            form[key] = value
    with archive.open("rb") as f:
        s = request(
            "POST", "/api/stores/import", data=form,
            files={"archive": (archive.name, f, "application/octet-stream")},
            timeout=httpx.Timeout(30, read=600, write=600),
        )  # fmt: skip
    _print_store(s)
    if s.get("admin_password"):
        typer.echo(f"admin password (shown only now): {s['admin_password']}")
    if wait:
        _wait(s, "ready", 1800, shown=s)
