"""A store's portable archive: a backup's contents encrypted under a
passphrase the operator chooses instead of the platform's backup key, so
that another platform (with a key of its own) can import the store.

    header   b"SFX1" | KDF (1 byte: 1, Argon2id) | time cost (4) | memory in
             KiB (4) | parallelism (1) | salt (16) | the first 8 bytes of the
             SHA-256 of what precedes
    body     an SFB1 object (archive.py) under Argon2id(passphrase, salt)

The body's plaintext is the backup's tar exactly: ``manifest.json``, the
database dump and ``wp-content.tar.gz``. Exporting opens the backup's chunks
with the platform's key and seals them again under the passphrase's;
importing opens them with the passphrase, checks the tar as it streams past
(exactly those three parts, each of the size and digest its manifest says)
and seals them again under the importing platform's key. Neither writes the
plaintext anywhere, and neither key leaves the process that holds it.

Argon2id's costs are RFC 9106's second recommended option (3 passes over
64 MiB, 4 lanes); an archive asking for more than :data:`MAX_MEMORY_KIB` or
:data:`MAX_TIME_COST` is refused before anything is derived.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw

from storefleet._tarfile import tarfile
from storefleet.backups import archive

MAGIC = b"SFX1"
KDF_ARGON2ID = 1
TIME_COST = 3
MEMORY_KIB = 64 * 1024
PARALLELISM = 4
MAX_TIME_COST = 10
MAX_MEMORY_KIB = 256 * 1024
_PARAMS = struct.Struct(">4sBIIB16s")
_DIGEST = 8
HEADER_SIZE = _PARAMS.size + _DIGEST
#: A manifest is a few KiB; more is not one of ours.
_MANIFEST_MAX = 1 << 20
#: The suffix the CLI gives archives.
SUFFIX = ".sfx"


class ArchiveError(Exception):
    """The archive cannot be imported: not one, damaged, or not whole."""


class WrongPassphrase(ArchiveError):
    """The passphrase does not open the archive."""


@dataclass(frozen=True)
class _Kdf:
    salt: bytes
    time_cost: int = TIME_COST
    memory_kib: int = MEMORY_KIB
    parallelism: int = PARALLELISM

    def header(self) -> bytes:
        params = _PARAMS.pack(
            MAGIC, KDF_ARGON2ID, self.time_cost, self.memory_kib, self.parallelism, self.salt
        )
        return params + hashlib.sha256(params).digest()[:_DIGEST]

    def derive(self, passphrase: str) -> bytes:
        try:
            return hash_secret_raw(
                passphrase.encode(), self.salt, time_cost=self.time_cost,
                memory_cost=self.memory_kib, parallelism=self.parallelism, hash_len=32,
                type=Type.ID,
            )  # fmt: skip
        except HashingError as exc:
            raise ArchiveError(f"the archive's key parameters are not usable: {exc}") from exc


def _read_header(src: IO[bytes]) -> _Kdf:
    raw = src.read(HEADER_SIZE)
    if len(raw) < 4 or raw[:4] != MAGIC:
        if raw[:4] == archive.MAGIC:
            raise ArchiveError(
                "this is a platform's backup object (encrypted with that platform's key), not "
                "an archive made by `storefleet stores export`"
            )
        raise ArchiveError("not a StoreFleet store archive (no SFX1 header)")
    if len(raw) != HEADER_SIZE:
        raise ArchiveError("the archive is cut short (its header is incomplete)")
    params, digest = raw[: _PARAMS.size], raw[_PARAMS.size :]
    if hashlib.sha256(params).digest()[:_DIGEST] != digest:
        raise ArchiveError("the archive is damaged (its header does not match its checksum)")
    _magic, kdf, time_cost, memory_kib, parallelism, salt = _PARAMS.unpack(params)
    if kdf != KDF_ARGON2ID:
        raise ArchiveError(f"the archive uses a key derivation this platform does not know ({kdf})")
    if not (1 <= time_cost <= MAX_TIME_COST and 8 * parallelism <= memory_kib <= MAX_MEMORY_KIB):
        raise ArchiveError(
            f"the archive asks for Argon2id costs beyond this platform's limits (time "
            f"{time_cost}, {memory_kib} KiB, {parallelism} lanes)"
        )
    return _Kdf(salt, time_cost, memory_kib, parallelism)


class _Pending:
    """A write target whose bytes are taken out as they come."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _rechunk(chunks: Iterable[tuple[bytes, bool]]) -> Iterator[tuple[bytes, bool]]:
    """The same plaintext in chunks of archive.CHUNK bytes (the last shorter)."""
    pending = b""
    for data, last in chunks:
        pending += data
        while len(pending) > archive.CHUNK or (len(pending) == archive.CHUNK and not last):
            yield pending[: archive.CHUNK], False
            pending = pending[archive.CHUNK :]
        if last:
            yield pending, True
            return


def export(backup: IO[bytes], platform_key: bytes, passphrase: str) -> Iterator[bytes]:
    """The archive of a backup object (whose digest the caller has checked),
    piece by piece: its chunks opened with the platform's key and sealed
    under a key derived from ``passphrase`` with a new salt."""
    kdf = _Kdf(secrets.token_bytes(16), TIME_COST, MEMORY_KIB, PARALLELISM)
    key = kdf.derive(passphrase)
    out = _Pending()
    out.write(kdf.header())
    sealer = archive.Sealer(out, key)
    for data, last in _rechunk(archive.open_chunks(backup, platform_key)):
        sealer.seal(data, last)
        yield out.take()


@dataclass(frozen=True)
class Opened:
    """What an archive holds (its manifest), and the backup object it was
    sealed into: its SHA-256 and size."""

    manifest: dict[str, Any]
    sha256: str
    size: int


class _Plaintext(io.RawIOBase):
    """An archive's plaintext to read as a file (tarfile's stream mode); each
    chunk is sealed again under the platform's key as it is read."""

    def __init__(self, chunks: Iterator[tuple[bytes, bool]], sealer: archive.Sealer | None):
        self._chunks = chunks
        self._sealer = sealer
        self._buffer = memoryview(b"")
        self.whole = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self.whole:
            data, last = next(self._chunks)
            if self._sealer is not None:
                self._sealer.seal(data, last)
            self._buffer, self.whole = memoryview(data), last
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def drain(self) -> None:
        while self.read(archive.CHUNK):
            pass


def open_archive(
    src: IO[bytes], passphrase: str, out: IO[bytes] | None = None, platform_key: bytes = b""
) -> Opened:
    """Open an archive with ``passphrase`` and check what it holds; with
    ``out``, seal it again under ``platform_key`` into ``out`` (a backup
    object of this platform) on the way."""
    kdf = _read_header(src)
    key = kdf.derive(passphrase)
    sealer = archive.Sealer(out, platform_key) if out is not None else None
    chunks = archive.open_chunks(src, key)
    try:
        plain = _Plaintext(_rechunk(chunks), sealer)
        manifest, parts = _read_tar(plain)
        plain.drain()
    except archive.WrongKey as exc:
        raise WrongPassphrase(
            "the passphrase does not open this archive (it is not the one it was exported with)"
        ) from exc
    except archive.BackupError as exc:
        raise ArchiveError(str(exc).replace("the backup", "the archive")) from exc
    _check_manifest(manifest, parts)
    if sealer is None:
        return Opened(manifest, "", 0)
    return Opened(manifest, sealer.sha256, sealer.size)


def _read_tar(plain: _Plaintext) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    expected = {archive.MANIFEST, *archive.PARTS}
    parts: dict[str, dict[str, Any]] = {}
    manifest: dict[str, Any] | None = None
    try:
        with tarfile.open(fileobj=plain, mode="r|") as tf:
            for member in tf:
                if member.name not in expected or member.name in parts or not member.isfile():
                    raise ArchiveError(f"the archive holds an unexpected entry {member.name!r}")
                f = tf.extractfile(member)
                if f is None:
                    raise ArchiveError(f"the archive's entry {member.name!r} is not readable")
                digest, size, head = hashlib.sha256(), 0, b""
                while block := f.read(archive.CHUNK):
                    digest.update(block)
                    size += len(block)
                    if member.name == archive.MANIFEST and size <= _MANIFEST_MAX:
                        head += block
                parts[member.name] = {"size": size, "sha256": digest.hexdigest()}
                if member.name == archive.MANIFEST:
                    manifest = _parse_manifest(head, size)
    except tarfile.TarError as exc:
        raise ArchiveError(f"the archive's contents are not readable: {exc}") from exc
    if manifest is None or set(parts) != expected:
        missing = sorted(expected - set(parts))
        raise ArchiveError(f"the archive is incomplete: {', '.join(missing)} missing")
    return manifest, parts


def _parse_manifest(body: bytes, size: int) -> dict[str, Any]:
    if size > _MANIFEST_MAX:
        raise ArchiveError("the archive's manifest is too large to be one of StoreFleet's")
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise ArchiveError("the archive's manifest is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != archive.FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ArchiveError(f"the archive holds an unknown backup format {found!r}")
    return manifest


def _check_manifest(manifest: dict[str, Any], parts: dict[str, dict[str, Any]]) -> None:
    listed = manifest.get("parts")
    for name in archive.PARTS:
        want = listed.get(name) if isinstance(listed, dict) else None
        if want != parts[name]:
            raise ArchiveError(
                f"the archive's {name} does not match its manifest ({parts[name]} vs {want})"
            )
