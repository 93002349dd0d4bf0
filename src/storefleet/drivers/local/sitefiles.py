"""A local store's own files, told apart from the release files linked into
its site: what a backup keeps, what a restore puts back and what an upgrade
carries over to the new release.

A store's ``wp-content`` holds hard links to the verified release trees
(themes, bundled plugins, WooCommerce) next to the merchant's own files
(uploads, plugins and themes they added, the platform's mu-plugin). A file is a
release file when it is the release's file at the same path: the same inode,
or — where the site was copied across filesystems — the same bytes, owned by
the platform. Release files are never copied, never written through (a write
would change the release for every store): new trees are assembled beside the
old one, and files are put in place by rename or link, replacing what is
there instead of opening it.

Everything here runs as root on trees that stores write: symlinks are kept as
symlinks and never followed, and special files are skipped.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from storefleet._tarfile import tarfile
from storefleet.checksums import file_sha256
from storefleet.drivers.base import PermanentError


@dataclass(frozen=True)
class Releases:
    """The release trees a site was built from."""

    wordpress: Path  # the unpacked wordpress/ tree
    woocommerce: Path  # the unpacked woocommerce/ tree

    def counterpart(self, rel: PurePosixPath) -> Path:
        """The release's file at ``rel`` (relative to wp-content)."""
        if rel.parts[:2] == ("plugins", "woocommerce"):
            return self.woocommerce.joinpath(*rel.parts[2:])
        return self.wordpress.joinpath("wp-content", *rel.parts)


def is_release_file(path: Path, rel: PurePosixPath, releases: Releases, st: os.stat_result) -> bool:
    try:
        source = os.stat(releases.counterpart(rel))
    except OSError:
        return False
    if (st.st_dev, st.st_ino) == (source.st_dev, source.st_ino):
        return True
    # A copy (the site was built across filesystems): the platform's own file
    # with the release's bytes. A store's file is owned by the store.
    return (
        st.st_uid == os.geteuid()
        and st.st_size == source.st_size
        and file_sha256(path) == file_sha256(releases.counterpart(rel))
    )


def own_files(content: Path, releases: Releases) -> list[tuple[PurePosixPath, os.stat_result]]:
    """The store's own entries under ``content`` (directories first), without
    the release files."""
    out: list[tuple[PurePosixPath, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(content):  # never follows symlinks
        base = Path(dirpath)
        rel_base = PurePosixPath(base.relative_to(content).as_posix())
        for name in sorted(dirnames):
            st = os.lstat(base / name)
            if stat.S_ISLNK(st.st_mode):
                out.append((rel_base / name, st))  # a link to a directory: kept as a link
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(base / d))
        if rel_base.parts:
            out.append((rel_base, os.lstat(base)))
        for name in sorted(filenames):
            path = base / name
            st = os.lstat(path)
            rel = rel_base / name
            if stat.S_ISLNK(st.st_mode):
                out.append((rel, st))
            elif stat.S_ISREG(st.st_mode) and not is_release_file(path, rel, releases, st):
                out.append((rel, st))
    return out


def archive(content: Path, releases: Releases, target: Path) -> dict[str, int]:
    """Write the store's own files under ``content`` to ``target`` (tar.gz)."""
    files = size = 0
    with tarfile.open(target, "w:gz", compresslevel=6, format=tarfile.PAX_FORMAT) as tf:
        for rel, st in own_files(content, releases):
            tf.add(content / rel, arcname=str(rel), recursive=False)
            if stat.S_ISREG(st.st_mode):
                files += 1
                size += st.st_size
    return {"files": files, "bytes": size}


def _replace_with(source: Path, target: Path, *, move: bool) -> None:
    """Put ``source`` at ``target``, replacing what is there without ever
    writing into it (it may be a link to a release file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    if move:
        try:
            os.replace(source, target)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # The scratch directory is on another filesystem than the site
            # (a tmpfs /tmp): copied into place below instead.
    tmp = target.with_name(f".{target.name}.sf-new")
    tmp.unlink(missing_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), tmp)
    else:
        try:
            os.link(source, tmp, follow_symlinks=False)
        except OSError:
            shutil.copy2(source, tmp, follow_symlinks=False)
    os.replace(tmp, target)


def overlay(content: Path, archive_path: Path, scratch: Path) -> dict[str, int]:
    """Unpack a files archive over ``content``: each file replaces what is at
    its path (a release file's link, never the release file itself)."""
    staging = scratch / "content"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(mode=0o700)
    skipped: list[str] = []

    def safe(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        # "data": no absolute paths, no "..", no links leaving the tree, no
        # devices, no set-id bits. A link the store made to somewhere outside
        # is left out rather than failing the whole restore.
        try:
            return tarfile.data_filter(member, path)
        except tarfile.FilterError:
            skipped.append(member.name)
            return None

    try:
        with tarfile.open(archive_path, "r:gz") as tf:
            tf.extractall(staging, filter=safe)
    except tarfile.TarError as exc:
        raise PermanentError(f"the files archive is not readable: {exc}") from exc
    info = _move_tree(staging, content)
    info["skipped"] = len(skipped)
    return info


def carry_over(old_content: Path, releases: Releases, new_content: Path) -> dict[str, int]:
    """Link the store's own files from ``old_content`` into ``new_content``
    (a fresh tree of another release)."""
    files = 0
    for rel, st in own_files(old_content, releases):
        source = old_content / rel
        target = new_content / rel
        if stat.S_ISDIR(st.st_mode):
            target.mkdir(parents=True, exist_ok=True)
            continue
        _replace_with(source, target, move=False)
        files += 1
    return {"files": files}


def _move_tree(staging: Path, content: Path) -> dict[str, int]:
    files = 0
    for dirpath, dirnames, filenames in os.walk(staging):
        base = Path(dirpath)
        rel = base.relative_to(staging)
        (content / rel).mkdir(parents=True, exist_ok=True)
        for name in [*filenames, *(d for d in dirnames if os.path.islink(base / d))]:
            _replace_with(base / name, content / rel / name, move=True)
            files += 1
        dirnames[:] = [d for d in dirnames if not os.path.islink(base / d)]
    shutil.rmtree(staging, ignore_errors=True)
    return {"files": files}


def own_tree(path: Path, owner: tuple[int, int], releases: Releases) -> None:
    """Give the store its directories and its own files under ``path`` (a
    wp-content); release files keep their root owner, links and copies alike
    (a copy the store owned would pass for its own file: backed up, and
    carried over the new release on an upgrade). Symlinks are changed
    themselves, never followed.

    ``owner`` is (the store's uid, the web server's group): directories are
    setgid, so what the store writes later belongs to that group too, and
    the web server reads the store's static files through it — no other
    store can (group-readable, nothing for others)."""
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, *owner)
        os.chmod(dirpath, 0o2750)  # noqa: S103 (the group is the web server's)
        rel_base = PurePosixPath(Path(dirpath).relative_to(path).as_posix())
        for name in [*filenames, *dirnames]:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                os.chown(full, *owner, follow_symlinks=False)
            elif (
                stat.S_ISREG(st.st_mode)
                and st.st_nlink == 1
                and not is_release_file(Path(full), rel_base / name, releases, st)
            ):
                os.chown(full, *owner, follow_symlinks=False)
                os.chmod(full, (st.st_mode & 0o750) | 0o640)
