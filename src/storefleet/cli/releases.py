"""``storefleet releases``: the pinned WordPress and WooCommerce releases and
this machine's verified cache of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from storefleet.cli.apps import releases_app
from storefleet.config import Settings, get_settings


def _release_cache(settings: Settings) -> Any:
    from storefleet.releases import ReleaseCache

    return ReleaseCache(
        settings.releases_path, settings.artifacts, max_bytes=settings.download_max_bytes
    )


@releases_app.command("show")
def releases_show() -> None:
    """Print the pinned releases, which one new stores get, and what is cached."""
    from storefleet import releases

    cache = _release_cache(get_settings())
    cur = releases.current()
    for product in releases.PRODUCTS:
        for rel in releases.known(product):
            mark = "current" if cur[product] == rel.version else "       "
            cached = "cached" if cache.is_cached(rel) else "-"
            typer.echo(f"{mark}  {rel.title:<20} {rel.file:<26} {cached:<6}  {rel.tree_sha256}")


@releases_app.command("fetch")
def releases_fetch(
    products: Annotated[
        list[str] | None, typer.Argument(help="wordpress, woocommerce (default: both)")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="A pinned version (default: the current one)")
    ] = None,
) -> None:
    """Fetch and verify releases into the cache; print each verified tree's path."""
    from storefleet import releases

    cache = _release_cache(get_settings())
    for product in products or list(releases.PRODUCTS):
        try:
            rel = releases.pinned(product, version)  # type: ignore[arg-type]
            typer.echo(cache.fetch(rel))
        except releases.ReleaseError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc


@releases_app.command("digest")
def releases_digest(
    archive: Path,
    top: Annotated[str, typer.Option(help="The directory the archive unpacks to")],
    ignore: Annotated[
        list[str] | None,
        typer.Option(help="A file a mirror adds, relative to --top, as in pins.json's 'ignore'"),
    ] = None,
) -> None:
    """Print the tree digest of an archive, to pin a new release in pins.json."""
    import tempfile

    from storefleet.checksums import file_sha256
    from storefleet.releases.archives import ArchiveError, tree_digest, unpack

    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            unpack(archive, Path(tmp), max_bytes=settings.download_max_bytes)
            digest, count = tree_digest(Path(tmp) / top, ignore=frozenset(ignore or ()))
        except ArchiveError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(
        json.dumps(
            {"tree_sha256": digest, "files": count, "archive_sha256": [file_sha256(archive)]},
            indent=1,
        )
    )
