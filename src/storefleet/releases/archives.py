"""Fetching and unpacking release archives without trusting them.

A release archive comes from the internet or from a mirror, so every step is
bounded: only ``https://`` URLs or local files, a size limit on the download
and on what it unpacks to, and extraction that refuses absolute paths, ``..``
and links that leave the target directory. The tree that comes out is then
checked against a pinned digest (:func:`tree_digest`), which is what makes a
file trustworthy, whoever served it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

import httpx

from storefleet._tarfile import tarfile
from storefleet.checksums import file_sha256


class ArchiveError(Exception):
    """The archive could not be fetched or is not safe to unpack."""


_CHUNK = 1 << 20


def download(url: str, target: Path, *, max_bytes: int, timeout: float) -> None:
    """Download ``url`` (https only) to ``target``, refusing more than
    ``max_bytes``. The file appears only when complete."""
    if not url.startswith("https://"):
        raise ArchiveError(f"refusing to download {url}: only https:// URLs are allowed")
    part = target.with_name(target.name + ".part")
    try:
        with (
            httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as resp,
            part.open("wb") as out,
        ):
            if resp.status_code != 200:
                raise ArchiveError(f"{url} answered HTTP {resp.status_code}")
            if not str(resp.url).startswith("https://"):
                raise ArchiveError(f"{url} redirected to {resp.url}, which is not https")
            size = 0
            for chunk in resp.iter_bytes(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ArchiveError(f"{url} is larger than the limit of {max_bytes} bytes")
                out.write(chunk)
        part.replace(target)
    except httpx.HTTPError as exc:
        raise ArchiveError(f"could not download {url}: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)


def unpack(archive: Path, dest: Path, *, max_bytes: int) -> None:
    """Unpack a ``.tar.gz`` or ``.zip`` into the empty directory ``dest``."""
    name = archive.name
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        _untar(archive, dest, max_bytes)
    elif name.endswith(".zip"):
        _unzip(archive, dest, max_bytes)
    else:
        raise ArchiveError(f"{archive}: not a .tar.gz or .zip archive")


def _safe_member(name: str, archive: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("\\") or ":" in path.parts[0]:
        raise ArchiveError(f"{archive.name}: refusing the entry {name!r} (outside the target)")
    return path


def _untar(archive: Path, dest: Path, max_bytes: int) -> None:
    try:
        with tarfile.open(archive) as tf:
            total = 0
            for member in tf.getmembers():
                _safe_member(member.name, archive)
                if member.issym() or member.islnk():
                    target = PurePosixPath(member.name).parent / member.linkname
                    if member.islnk():
                        target = PurePosixPath(member.linkname)
                    if PurePosixPath(member.linkname).is_absolute() or _escapes(target):
                        raise ArchiveError(
                            f"{archive.name}: refusing the link {member.name!r} -> "
                            f"{member.linkname!r} (it leaves the target)"
                        )
                elif not (member.isfile() or member.isdir()):
                    raise ArchiveError(f"{archive.name}: refusing the special file {member.name!r}")
                total += member.size
                if total > max_bytes:
                    raise ArchiveError(
                        f"{archive.name} unpacks to more than the limit of {max_bytes} bytes"
                    )
            # The "data" filter re-checks all of the above and drops owners,
            # set-id bits and device files (storefleet._tarfile: on every 3.11).
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"{archive.name} is not a readable archive: {exc}") from exc


def _escapes(path: PurePosixPath) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return True
    return False


def _unzip(archive: Path, dest: Path, max_bytes: int) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            total = 0
            for info in infos:
                _safe_member(info.filename, archive)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise ArchiveError(f"{archive.name}: refusing the link {info.filename!r}")
                total += info.file_size
                if total > max_bytes:
                    raise ArchiveError(
                        f"{archive.name} unpacks to more than the limit of {max_bytes} bytes"
                    )
            for info in infos:
                target = dest / info.filename
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    # Count what really comes out: a header may lie about sizes.
                    written = 0
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > info.file_size:
                            raise ArchiveError(
                                f"{archive.name}: {info.filename} is larger than its header says"
                            )
                        out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ArchiveError(f"{archive.name} is not a readable zip file: {exc}") from exc


def tree_digest(root: Path, *, ignore: frozenset[str] = frozenset()) -> tuple[str, int]:
    """The digest of an unpacked tree and its number of files.

    Every regular file's path relative to ``root`` (POSIX separators) and its
    SHA-256, one ``"<sha256>  <path>\\n"`` line each, sorted by path, hashed
    together. Archive bytes differ between an official download and a mirror
    packed by other tools; the tree does not, so this digest verifies both.
    Paths in ``ignore`` (files a mirror adds) are left out. A symlink or a
    special file makes the tree unacceptable.
    """
    lines: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if rel in ignore:
                continue
            mode = path.lstat().st_mode
            if not stat.S_ISREG(mode):
                raise ArchiveError(f"{rel} in {root} is not a regular file")
            lines.append(f"{file_sha256(path)}  {rel}\n")
        for name in dirnames:
            if (Path(dirpath) / name).is_symlink():
                raise ArchiveError(f"{Path(dirpath, name).relative_to(root)} is a symlink")
    lines.sort(key=lambda line: line[66:])
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
    return h.hexdigest(), len(lines)


def remove_tree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
