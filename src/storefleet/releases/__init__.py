"""The WordPress and WooCommerce releases stores are made of.

Pinned in one place (``pins.json``) for both drivers: the local driver links a
store's files from the verified trees, and the store image is built from the
same trees (``storefleet releases fetch``). A release is fetched from its
official download location, or from a mirror (``STOREFLEET_ARTIFACTS``: a
directory or an https base URL holding the same file names) on machines
without the internet; it is verified against the pinned tree digest before
anything uses it, and cached, verified, under the data directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from storefleet.checksums import file_sha256
from storefleet.releases.archives import (
    ArchiveError,
    download,
    remove_tree,
    tree_digest,
    unpack,
)

__all__ = [
    "PRODUCTS",
    "Release",
    "ReleaseCache",
    "ReleaseError",
    "add_pins",
    "check_pair",
    "current",
    "describe_pair",
    "known",
    "pairs",
    "pinned",
    "version_key",
]

Product = Literal["wordpress", "woocommerce"]
PRODUCTS: tuple[Product, ...] = ("wordpress", "woocommerce")
_TITLES = {"wordpress": "WordPress", "woocommerce": "WooCommerce"}
_PINS = Path(__file__).with_name("pins.json")
_VERIFIED = "VERIFIED.json"


class ReleaseError(Exception):
    """A release is unknown, cannot be fetched, or does not verify."""


@dataclass(frozen=True)
class Release:
    product: Product
    version: str
    file: str
    url: str
    top: str
    ignore: frozenset[str]
    tree_sha256: str
    files: int
    archive_sha256: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"{_TITLES[self.product]} {self.version}"

    @property
    def key(self) -> str:
        return f"{self.product}-{self.version}"


_EXTRA_PINS: list[Path] = []


def add_pins(path: Path) -> None:
    """Merge the releases of another pins file (same format) over the packaged
    ones, for this process (STOREFLEET_RELEASE_PINS)."""
    if path not in _EXTRA_PINS:
        _EXTRA_PINS.append(path)
        _pins.cache_clear()


@cache
def _pins() -> dict[str, object]:
    data: dict[str, object] = json.loads(_PINS.read_text(encoding="utf-8"))
    for path in _EXTRA_PINS:
        try:
            extra = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReleaseError(f"the pins file {path} cannot be read: {exc}") from exc
        for product in PRODUCTS:
            table = data.setdefault(product, {})
            if isinstance(table, dict) and isinstance(extra.get(product), dict):
                table.update(extra[product])
        known_pairs = data.setdefault("pairs", [])
        if isinstance(known_pairs, list) and isinstance(extra.get("pairs"), list):
            known_pairs.extend(p for p in extra["pairs"] if p not in known_pairs)
    return data


def version_key(version: str) -> tuple[int, ...]:
    """A release version as numbers, for ordering ("10.9.4" < "11.0.1")."""
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def current() -> dict[Product, str]:
    """The versions new stores get, by product."""
    cur = _pins()["current"]
    if not isinstance(cur, dict):
        raise ReleaseError("pins.json has no 'current' table")
    return {p: str(cur[p]) for p in PRODUCTS}


def pairs() -> list[tuple[str, str]]:
    """The supported (WordPress, WooCommerce) pairs, newest first: the only
    combinations a store runs (a Kubernetes store's image is built per pair)."""
    listed = _pins().get("pairs")
    if not isinstance(listed, list) or not listed:
        raise ReleaseError("pins.json lists no release pairs")
    found = {(str(p["wordpress"]), str(p["woocommerce"])) for p in listed}
    return sorted(found, key=lambda p: (version_key(p[0]), version_key(p[1])), reverse=True)


def describe_pair(wordpress: str | None, woocommerce: str | None) -> str:
    return f"WordPress {wordpress} + WooCommerce {woocommerce}"


def check_pair(wordpress: str, woocommerce: str) -> None:
    """Refuse a combination that is not a supported pair (naming it)."""
    pinned("wordpress", wordpress)
    pinned("woocommerce", woocommerce)
    if (wordpress, woocommerce) not in pairs():
        supported = "; ".join(describe_pair(*p) for p in pairs())
        raise ReleaseError(
            f"{describe_pair(wordpress, woocommerce)} is not a supported release pair "
            f"(supported: {supported}); pairs are listed in src/storefleet/releases/pins.json"
        )


def known(product: Product) -> list[Release]:
    table = _pins().get(product)
    if not isinstance(table, dict):
        raise ReleaseError(f"pins.json has no {product} releases")
    return [pinned(product, v) for v in table]


def pinned(product: Product, version: str | None = None) -> Release:
    """The pinned release of ``product`` (the current one by default)."""
    if product not in PRODUCTS:
        raise ReleaseError(f"unknown product {product!r} (one of {', '.join(PRODUCTS)})")
    version = version or current()[product]
    table = _pins().get(product)
    entry = table.get(version) if isinstance(table, dict) else None
    if not isinstance(entry, dict):
        versions = ", ".join(table) if isinstance(table, dict) else "none"
        raise ReleaseError(
            f"{_TITLES[product]} {version} is not a pinned release (pinned: {versions}); "
            "add it to src/storefleet/releases/pins.json with `storefleet releases digest`"
        )
    return Release(
        product=product,
        version=version,
        file=str(entry["file"]),
        url=str(entry["url"]),
        top=str(entry["top"]),
        ignore=frozenset(entry.get("ignore", [])),
        tree_sha256=str(entry["tree_sha256"]),
        files=int(entry["files"]),
        archive_sha256=tuple(entry.get("archive_sha256", [])),
    )


class ReleaseCache:
    """Verified, unpacked releases under ``root``: ``<root>/<product>-<version>/<top>/``.

    A tree appears in the cache only once it verified, by an atomic rename,
    so concurrent fetches (two workers) and crashes leave no half tree behind.
    """

    def __init__(
        self, root: Path, artifacts: str | None, *, max_bytes: int, timeout: float = 600
    ) -> None:
        self.root = root
        self.artifacts = artifacts
        self.max_bytes = max_bytes
        self.timeout = timeout

    def path(self, release: Release) -> Path:
        return self.root / release.key / release.top

    def is_cached(self, release: Release) -> bool:
        return (self.root / release.key / _VERIFIED).is_file()

    def fetch(self, release: Release) -> Path:
        """The verified tree of ``release``, fetching it when it is not cached."""
        if self.is_cached(release):
            return self.path(release)
        self.root.mkdir(parents=True, exist_ok=True)
        work = self.root / f".fetch-{release.key}-{secrets.token_hex(4)}"
        work.mkdir(mode=0o700)
        try:
            archive, source = self._obtain(release, work)
            tree = work / "tree"
            tree.mkdir()
            try:
                unpack(archive, tree, max_bytes=self.max_bytes)
            except ArchiveError as exc:
                raise ReleaseError(f"{release.title}: {exc} ({source})") from exc
            top = tree / release.top
            if not top.is_dir():
                raise ReleaseError(
                    f"{release.title}: {release.file} from {source} does not hold "
                    f"{release.top}/ — {self._setting_hint(release)}"
                )
            for name in release.ignore:  # files a mirror adds; not part of the release
                (top / name).unlink(missing_ok=True)
            digest, count = tree_digest(top)
            if digest != release.tree_sha256:
                raise ReleaseError(
                    f"{release.title}: {release.file} from {source} does not match the pinned "
                    f"release (tree digest {digest[:16]}… with {count} files, pinned "
                    f"{release.tree_sha256[:16]}… with {release.files}); it is damaged or not "
                    f"the official release — {self._setting_hint(release)}"
                )
            _normalise_modes(top)
            final = self.root / release.key
            staged = work / "staged"
            staged.mkdir()
            top.rename(staged / release.top)
            (staged / _VERIFIED).write_text(
                json.dumps(
                    {
                        "release": release.key,
                        "tree_sha256": digest,
                        "files": count,
                        "source": source,
                        "archive_sha256": file_sha256(archive),
                        "verified_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    },
                    indent=1,
                )
            )
            staged.chmod(0o755)
            try:
                staged.rename(final)
            except OSError:
                if not self.is_cached(release):  # a half-made leftover: replace it
                    remove_tree(final)
                    staged.rename(final)
            return self.path(release)
        finally:
            remove_tree(work)

    def _obtain(self, release: Release, work: Path) -> tuple[Path, str]:
        """The archive file of ``release`` and where it came from."""
        if self.artifacts and not self.artifacts.startswith(("https://", "http://")):
            base = Path(self.artifacts)
            official_name = release.url.rsplit("/", 1)[-1]
            for name in dict.fromkeys((release.file, official_name)):
                if (base / name).is_file():
                    if (base / name).stat().st_size > self.max_bytes:
                        raise ReleaseError(
                            f"{release.title}: {base / name} is larger than the download limit "
                            f"({self.max_bytes} bytes, STOREFLEET_DOWNLOAD_MAX_BYTES)"
                        )
                    return base / name, str(base / name)
            raise ReleaseError(
                f"{release.title}: {release.file} is not in {base} — {self._setting_hint(release)}"
            )
        url = f"{self.artifacts.rstrip('/')}/{release.file}" if self.artifacts else release.url
        target = work / release.file
        try:
            download(url, target, max_bytes=self.max_bytes, timeout=self.timeout)
        except ArchiveError as exc:
            raise ReleaseError(f"{release.title}: {exc} — {self._setting_hint(release)}") from exc
        return target, url

    def _setting_hint(self, release: Release) -> str:
        now = f" (now {self.artifacts})" if self.artifacts else ""
        return (
            f"set STOREFLEET_ARTIFACTS{now} to a directory or https base URL holding "
            f"{release.file} (the official file is {release.url})"
        )


def _normalise_modes(root: Path) -> None:
    """Release files are code everyone may read and nobody but root may
    change: stores link them into their sites."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)  # noqa: S103 (public code, read by every store)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
