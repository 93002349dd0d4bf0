"""Release archives are fetched and unpacked without trusting them, and a
release is used only when its unpacked tree matches the pinned digest."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from storefleet import releases
from storefleet._tarfile import tarfile as storefleet_tarfile
from storefleet.releases import ReleaseCache, ReleaseError
from storefleet.releases.archives import ArchiveError, download, tree_digest, unpack
from tests.conftest import artifacts, unavailable


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, **kw)  # type: ignore[call-overload]


def _tar(path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data else None)
    return path


def _info(name: str, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    for key, value in kw.items():
        setattr(info, key, value)
    return info


@pytest.fixture
def extraction() -> str:
    """Extraction always has tarfile's data filter (storefleet._tarfile brings
    it to Debian 12's Python 3.11.2)."""
    assert hasattr(storefleet_tarfile, "data_filter")
    return "data filter"


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (_info("/etc/evil"), "outside the target"),
        (_info("wordpress/../../evil"), "outside the target"),
        (_info("wordpress/link", type=tarfile.SYMTYPE, linkname="../../etc/passwd"), "leaves"),
        (_info("wordpress/link", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "leaves"),
        (_info("wordpress/hard", type=tarfile.LNKTYPE, linkname="../outside"), "leaves"),
        (_info("wordpress/dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3), "special file"),
    ],
)
def test_tar_entries_that_leave_the_target_are_refused(
    tmp_path: Path, extraction: str, member: tarfile.TarInfo, why: str
) -> None:
    archive = _tar(tmp_path / "bad.tar.gz", (_info("wordpress/ok.php"), b"<?php"), (member, b""))
    with pytest.raises(ArchiveError, match=why):
        unpack(archive, tmp_path / "out", max_bytes=1 << 20)
    assert not (tmp_path / "evil").exists()


def test_a_tar_unpacks_without_owners_or_set_id_bits(tmp_path: Path, extraction: str) -> None:
    archive = _tar(
        tmp_path / "ok.tar.gz",
        (_info("wordpress/index.php", mode=0o4755, uid=1234, gid=1234), b"<?php // index"),
        (_info("wordpress/wp-includes", type=tarfile.DIRTYPE, mode=0o777), b""),
    )
    out = tmp_path / "out"
    out.mkdir()
    unpack(archive, out, max_bytes=1 << 20)
    index = out / "wordpress" / "index.php"
    assert index.read_text() == "<?php // index"
    assert index.stat().st_mode & 0o7000 == 0
    assert index.stat().st_uid == os.geteuid()  # not the archive's owner


def test_archives_larger_than_the_limit_are_refused(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "big.tar.gz", (_info("wordpress/big"), b"x" * 4096))
    with pytest.raises(ArchiveError, match="more than the limit"):
        unpack(archive, tmp_path / "out", max_bytes=1024)
    zipped = tmp_path / "big.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("woocommerce/big", b"\0" * 100_000)  # compresses to almost nothing
    with pytest.raises(ArchiveError, match="more than the limit"):
        unpack(zipped, tmp_path / "out2", max_bytes=10_000)


@pytest.mark.parametrize("name", ["../evil.php", "/abs/evil.php", "woocommerce/../../evil.php"])
def test_zip_entries_outside_the_target_are_refused(tmp_path: Path, name: str) -> None:
    zipped = tmp_path / "bad.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("woocommerce/woocommerce.php", "<?php")
        zf.writestr(name, "<?php // evil")
    with pytest.raises(ArchiveError, match="outside the target"):
        unpack(zipped, tmp_path / "out", max_bytes=1 << 20)


def test_zip_symlinks_are_refused(tmp_path: Path) -> None:
    zipped = tmp_path / "link.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        info = zipfile.ZipInfo("woocommerce/link")
        info.external_attr = 0o120777 << 16  # a symlink
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="refusing the link"):
        unpack(zipped, tmp_path / "out", max_bytes=1 << 20)


@pytest.mark.parametrize(
    "url", ["http://example.com/wordpress.tar.gz", "ftp://x/y", "file:///etc/passwd"]
)
def test_only_https_is_downloaded(tmp_path: Path, url: str) -> None:
    with pytest.raises(ArchiveError, match="only https:// URLs"):
        download(url, tmp_path / "x", max_bytes=1 << 20, timeout=5)
    assert not (tmp_path / "x").exists()


def test_the_tree_digest_ignores_how_the_archive_was_packed(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root, order in ((one, ["b.php", "a/c.php"]), (two, ["a/c.php", "b.php"])):
        for name in order:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"<?php // {Path(name).stem}")
    assert tree_digest(one) == tree_digest(two)
    (two / "b.php").write_text("<?php // changed")
    assert tree_digest(one) != tree_digest(two)
    (one / "link").symlink_to("/etc/passwd")
    with pytest.raises(ArchiveError, match="not a regular file"):
        tree_digest(one)


@pytest.fixture
def mirror() -> Path:
    found = artifacts()
    if not found or not Path(found).is_dir():
        unavailable("no release mirror (STOREFLEET_ARTIFACTS or ../shared/vendor)")
    return Path(str(found))


def test_the_pinned_releases_verify_from_the_mirror_and_are_cached(
    tmp_path: Path, mirror: Path, extraction: str
) -> None:
    cache = ReleaseCache(tmp_path / "releases", str(mirror), max_bytes=512 << 20)
    wordpress = cache.fetch(releases.pinned("wordpress", "6.9.7"))
    assert (wordpress / "wp-settings.php").is_file()
    assert not (wordpress / "composer.json").exists()  # the mirror's extra file is dropped
    assert tree_digest(wordpress) == (releases.pinned("wordpress", "6.9.7").tree_sha256, 3349)
    # `storefleet releases digest` prints the pin for the mirror's archive
    # when told of the file the mirror adds (without it, another digest).
    pin = releases.pinned("wordpress", "6.9.7")
    archive = mirror / pin.file
    digest = [sys.executable, "-m", "storefleet", "releases", "digest", str(archive)]
    shown = _run([*digest, "--top", "wordpress", "--ignore", "composer.json"])
    assert shown.returncode == 0, shown.stderr
    assert pin.tree_sha256 in shown.stdout and "3349" in shown.stdout
    assert pin.tree_sha256 not in _run([*digest, "--top", "wordpress"]).stdout
    assert cache.is_cached(releases.pinned("wordpress", "6.9.7"))
    # A second fetch uses the cache: even with the mirror gone.
    gone = ReleaseCache(tmp_path / "releases", str(tmp_path / "nowhere"), max_bytes=512 << 20)
    assert gone.fetch(releases.pinned("wordpress", "6.9.7")) == wordpress


def test_a_damaged_or_missing_release_stops_with_the_file_and_the_setting(
    tmp_path: Path, mirror: Path
) -> None:
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    _tar(bad / "wordpress-7.0.4.tar.gz", (_info("wordpress/wp-settings.php"), b"<?php // not it"))
    cache = ReleaseCache(tmp_path / "releases", str(bad), max_bytes=512 << 20)
    with pytest.raises(ReleaseError) as damaged:
        cache.fetch(releases.pinned("wordpress", "7.0.4"))
    message = str(damaged.value)
    assert "does not match the pinned release" in message
    assert str(bad / "wordpress-7.0.4.tar.gz") in message
    assert f"STOREFLEET_ARTIFACTS (now {bad})" in message
    assert not cache.is_cached(releases.pinned("wordpress", "7.0.4"))
    assert list((tmp_path / "releases").iterdir()) == []  # no half tree left behind

    with pytest.raises(ReleaseError, match=r"woocommerce-11\.0\.1\.zip is not in"):
        cache.fetch(releases.pinned("woocommerce", "11.0.1"))
    shutil.copy(mirror / "woocommerce-11.0.1.zip", bad)
    small = ReleaseCache(tmp_path / "releases", str(bad), max_bytes=1 << 20)
    with pytest.raises(ReleaseError, match="larger than the download limit"):
        small.fetch(releases.pinned("woocommerce", "11.0.1"))


def test_an_unknown_version_names_the_pinned_ones() -> None:
    with pytest.raises(
        ReleaseError, match=r"WordPress 5\.0 is not a pinned release \(pinned: 7\.0\.4, 6\.9\.7\)"
    ):
        releases.pinned("wordpress", "5.0")


def test_a_site_is_linked_from_the_release_or_copied_across_filesystems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from storefleet.drivers.local.site import build_site

    wordpress, woocommerce = tmp_path / "wordpress", tmp_path / "woocommerce"
    for path in (
        wordpress / "wp-settings.php",
        wordpress / "wp-includes" / "version.php",
        wordpress / "wp-content" / "themes" / "t" / "style.css",
        wordpress / "wp-content" / "plugins" / "hello.php",
        woocommerce / "woocommerce.php",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<?php")
    build_site(wordpress, woocommerce, tmp_path / "linked")
    linked = tmp_path / "linked" / "wp-settings.php"
    assert linked.stat().st_ino == (wordpress / "wp-settings.php").stat().st_ino

    def cross_device(src: object, dst: object, **kw: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)  # the release on another filesystem
    build_site(wordpress, woocommerce, tmp_path / "copied")
    copied = tmp_path / "copied"
    for name in (
        "wp-settings.php",
        "wp-includes/version.php",
        "wp-content/plugins/woocommerce/woocommerce.php",
    ):
        assert (copied / name).read_text() == "<?php", name
        assert (copied / name).stat().st_ino != (tmp_path / "linked" / name).stat().st_ino
