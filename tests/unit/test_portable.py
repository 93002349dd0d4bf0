"""The portable archive of a store (backups/portable.py): a backup object of
one platform exported under a passphrase and imported by another, whose key
differs; a wrong passphrase, a damaged or cut archive, a backup object
passed as an archive, an archive that holds something else and one asking
for Argon2id costs beyond the limits are each refused with their reason."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from pathlib import Path
from typing import Any

import pytest

from storefleet._tarfile import tarfile
from storefleet.backups import archive, portable

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Archives exported at 1 MiB and one pass of Argon2id: a few ms, not a
    third of a second (more on a busy machine) per archive opened."""
    monkeypatch.setattr(portable, "TIME_COST", 1)
    monkeypatch.setattr(portable, "MEMORY_KIB", 1024)


def _backup(tmp_path: Path, key: bytes) -> tuple[Path, dict[str, Any]]:
    """A backup object of 2.5 MiB of parts (three chunks), as the store step makes it."""
    work = tmp_path / "work"
    work.mkdir()
    (work / archive.DATABASE).write_bytes(os.urandom(3 << 19))
    (work / archive.FILES).write_bytes(os.urandom(1 << 20))
    manifest = {"store": {"name": "shop"}, "wordpress_version": "6.9.7"}
    path = tmp_path / "backup.sfb"
    with path.open("wb") as out:
        packed = archive.pack(work, manifest, out, key)
    return path, packed.manifest


def _export(path: Path, key: bytes, passphrase: str = PASSPHRASE) -> bytes:
    with path.open("rb") as f:
        return b"".join(portable.export(f, key, passphrase))


def _import(data: bytes, passphrase: str, key: bytes) -> tuple[portable.Opened, bytes]:
    out = io.BytesIO()
    opened = portable.open_archive(io.BytesIO(data), passphrase, out, key)
    return opened, out.getvalue()


def test_an_exported_backup_is_imported_under_another_platforms_key(tmp_path: Path) -> None:
    here, there = archive.derive_key("platform one"), archive.derive_key("platform two")
    path, manifest = _backup(tmp_path, here)
    data = _export(path, here)
    assert data[:4] == portable.MAGIC
    # RFC 9106's second recommended option: 3 passes over 64 MiB, 4 lanes.
    assert struct.unpack(">4sBIIB", data[:14])[1:] == (portable.KDF_ARGON2ID, 3, 64 << 10, 4)
    plain = (tmp_path / "work" / archive.DATABASE).read_bytes()
    assert plain[:4096] not in data  # encrypted

    opened, sealed = _import(data, PASSPHRASE, there)
    assert opened.manifest == manifest
    assert opened.sha256 == hashlib.sha256(sealed).hexdigest() and opened.size == len(sealed)
    # A backup object of the importing platform: its key opens it, the other's does not.
    (tmp_path / "sealed.sfb").write_bytes(sealed)
    out = tmp_path / "out"
    out.mkdir()
    assert archive.unpack(tmp_path / "sealed.sfb", out, there) == manifest
    assert (out / archive.DATABASE).read_bytes() == plain
    with pytest.raises(archive.WrongKey):
        archive.check_key(tmp_path / "sealed.sfb", here)
    # Each export has a salt of its own.
    assert _export(path, here)[: portable.HEADER_SIZE] != data[: portable.HEADER_SIZE]


def test_a_wrong_passphrase_damage_and_truncation_are_told_apart(
    tmp_path: Path, cheap_kdf: None
) -> None:
    key = archive.derive_key("platform")
    path, _ = _backup(tmp_path, key)
    data = _export(path, key)
    with pytest.raises(portable.WrongPassphrase, match="passphrase does not open"):
        _import(data, PASSPHRASE + "!", key)
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0x01
    with pytest.raises(portable.ArchiveError, match=r"damaged \(chunk 1 does not authenticate"):
        _import(bytes(damaged), PASSPHRASE, key)
    with pytest.raises(portable.ArchiveError, match="cut short"):
        _import(data[: len(data) - 100], PASSPHRASE, key)
    header = bytearray(data)
    header[10] ^= 0x01
    with pytest.raises(portable.ArchiveError, match="header does not match its checksum"):
        _import(bytes(header), PASSPHRASE, key)
    with pytest.raises(portable.ArchiveError, match="platform's backup object"):
        _import(path.read_bytes(), PASSPHRASE, key)
    with pytest.raises(portable.ArchiveError, match="not a StoreFleet store archive"):
        _import(b"PK\x03\x04 a zip file", PASSPHRASE, key)


def test_argon2id_costs_beyond_the_limits_are_refused_before_deriving(
    tmp_path: Path, cheap_kdf: None
) -> None:
    key = archive.derive_key("platform")
    path, _ = _backup(tmp_path, key)
    data = _export(path, key)
    fields = list(struct.unpack(">4sBIIB16s", data[:30]))
    fields[3] = 4 << 20  # 4 GiB of memory
    params = struct.pack(">4sBIIB16s", *fields)
    forged = params + hashlib.sha256(params).digest()[:8] + data[portable.HEADER_SIZE :]
    with pytest.raises(portable.ArchiveError, match="beyond this platform's limits"):
        _import(forged, PASSPHRASE, key)


def _object_of(tmp_path: Path, key: bytes, members: dict[str, bytes]) -> Path:
    """A backup object whose tar holds ``members`` (not what pack makes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    path = tmp_path / f"object-{len(list(tmp_path.iterdir()))}.sfb"
    with path.open("wb") as out:
        archive.encrypt(io.BytesIO(buf.getvalue()), out, key)
    return path


def test_an_archive_must_hold_exactly_a_backups_parts_as_its_manifest_says(
    tmp_path: Path, cheap_kdf: None
) -> None:
    key = archive.derive_key("platform")
    parts = {archive.DATABASE: b"dump", archive.FILES: b"files"}

    def manifest(**changes: Any) -> bytes:
        listed = {
            name: {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            for name, body in parts.items()
        }
        return json.dumps({"format": archive.FORMAT, "parts": listed, **changes}).encode()

    good = _object_of(tmp_path, key, {archive.MANIFEST: manifest(), **parts})
    opened, _ = _import(_export(good, key), PASSPHRASE, key)
    assert opened.manifest["parts"][archive.DATABASE]["size"] == 4

    cases = {
        "unexpected entry 'wp-config.php'": {
            archive.MANIFEST: manifest(),
            **parts,
            "wp-config.php": b"<?php",
        },
        "incomplete: wp-content.tar.gz missing": {
            archive.MANIFEST: manifest(),
            archive.DATABASE: parts[archive.DATABASE],
        },
        "database.jsonl.gz does not match its manifest": {
            archive.MANIFEST: manifest(),
            archive.DATABASE: b"dumb",
            archive.FILES: b"files",
        },
        "unknown backup format 'other/1'": {archive.MANIFEST: manifest(format="other/1"), **parts},
    }
    for reason, members in cases.items():
        data = _export(_object_of(tmp_path, key, members), key)
        with pytest.raises(portable.ArchiveError, match=reason.replace("(", r"\(")):
            _import(data, PASSPHRASE, key)
