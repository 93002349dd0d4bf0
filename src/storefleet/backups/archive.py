"""A backup's object: its parts packed into one tar, encrypted with the
platform's backup key, and read back.

The parts are ``manifest.json`` (versions, sizes and digests), the database
dump (``database.jsonl.gz``) and the store's own files (``wp-content.tar.gz``).
They are packed into an uncompressed tar and encrypted as a stream of
AES-256-GCM chunks (1 MiB each):

    header   b"SFB1" | key id (8 bytes) | chunk size (4) | nonce prefix (8)
    chunks   length (4) | ciphertext + tag, for chunk i with nonce
             prefix | i (4 bytes) and associated data header | i | last flag

so that a chunk cannot be altered, dropped, reordered or the object cut short
without the decryption failing; the key id tells a backup made with another
key from a damaged one. The SHA-256 of the whole object is recorded in the
platform database, and checked before anything is decrypted.

Nothing here knows where objects are kept (see storage.py) or which store
they are of.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storefleet._tarfile import tarfile
from storefleet.checksums import file_sha256

MAGIC = b"SFB1"
CHUNK = 1 << 20
_HEADER = struct.Struct(">4s8sI8s")
_LEN = struct.Struct(">I")
FORMAT = "storefleet-backup/1"

MANIFEST = "manifest.json"
DATABASE = "database.jsonl.gz"
FILES = "wp-content.tar.gz"
PARTS = (DATABASE, FILES)


class BackupError(Exception):
    """The backup cannot be read: damaged, another key, or not a backup."""


def derive_key(secret: str) -> bytes:
    """The 256-bit backup key from the configured secret (the backup key, or
    the platform's secret key)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"storefleet/backups/v1"
    ).derive(secret.encode())


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"storefleet-backup-key-id" + key).digest()[:8]


# -- encryption ---------------------------------------------------------------


class WrongKey(BackupError):
    """The object was encrypted with another key (the key id differs)."""


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _HashingWriter:
    def __init__(self, out: Writable) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.sha256.update(data)
        self.size += len(data)


class Sealer:
    """Writes an encrypted object chunk by chunk: the header first, then each
    plaintext chunk sealed (all but the last ``chunk`` bytes long)."""

    def __init__(self, out: Writable, key: bytes, chunk: int = CHUNK) -> None:
        self._aead = AESGCM(key)
        self._prefix = secrets.token_bytes(8)
        self._header = _HEADER.pack(MAGIC, key_id(key), chunk, self._prefix)
        self._w = _HashingWriter(out)
        self._w.write(self._header)
        self._index = 0

    def seal(self, data: bytes, last: bool) -> None:
        if self._index >= 1 << 32:
            raise BackupError("the backup is too large for one object")
        nonce = self._prefix + struct.pack(">I", self._index)
        aad = self._header + struct.pack(">IB", self._index, 1 if last else 0)
        sealed = self._aead.encrypt(nonce, data, aad)
        self._w.write(_LEN.pack(len(sealed)))
        self._w.write(sealed)
        self._index += 1

    @property
    def sha256(self) -> str:
        return self._w.sha256.hexdigest()

    @property
    def size(self) -> int:
        return self._w.size


def encrypt(src: IO[bytes], out: IO[bytes], key: bytes) -> tuple[str, int]:
    """Encrypt ``src`` into ``out``; return the object's SHA-256 and size."""
    sealer = Sealer(out, key)
    current = src.read(CHUNK)
    while True:
        following = src.read(CHUNK) if len(current) == CHUNK else b""
        sealer.seal(current, last=not following)
        if not following:
            return sealer.sha256, sealer.size
        current = following


def open_chunks(src: IO[bytes], key: bytes) -> Iterator[tuple[bytes, bool]]:
    """The plaintext chunks of an object made by :class:`Sealer`, each with
    whether it is the last; raises :class:`WrongKey` before the first chunk
    when ``key`` is not the object's, :class:`BackupError` when it is damaged."""
    header = src.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise BackupError("not a StoreFleet backup (too short)")
    magic, kid, chunk, prefix = _HEADER.unpack(header)
    if magic != MAGIC:
        raise BackupError("not a StoreFleet backup (no SFB1 header)")
    if kid != key_id(key):
        raise WrongKey("the backup was encrypted with another key")
    if not 0 < chunk <= 64 << 20:
        raise BackupError("the backup's header is damaged")
    aead = AESGCM(key)
    index = 0
    while True:
        raw_len = src.read(_LEN.size)
        if len(raw_len) != _LEN.size:
            raise BackupError("the backup is cut short")
        (length,) = _LEN.unpack(raw_len)
        if length > chunk + 16:
            raise BackupError("the backup is damaged (a chunk is too long)")
        sealed = src.read(length)
        if len(sealed) != length:
            raise BackupError("the backup is cut short")
        nonce = prefix + struct.pack(">I", index)
        for last in (0, 1):
            aad = header + struct.pack(">IB", index, last)
            try:
                data = aead.decrypt(nonce, sealed, aad)
            except InvalidTag:
                continue
            break
        else:
            raise BackupError(f"the backup is damaged (chunk {index} does not authenticate)")
        if last and src.read(1):
            raise BackupError("the backup has data after its last chunk")
        yield data, bool(last)
        if last:
            return
        index += 1


def check_key(path: Path, key: bytes) -> None:
    """Raise :class:`WrongKey` unless the object at ``path`` is under ``key``
    (its header's key id; nothing is decrypted)."""
    with path.open("rb") as f:
        header = f.read(_HEADER.size)
    if len(header) != _HEADER.size or header[:4] != MAGIC:
        raise BackupError("not a StoreFleet backup (no SFB1 header)")
    if _HEADER.unpack(header)[1] != key_id(key):
        raise WrongKey(
            "the backup was encrypted with another key (STOREFLEET_BACKUP_KEY or "
            "STOREFLEET_SECRET_KEY changed since it was made)"
        )


def decrypt(src: IO[bytes], out: IO[bytes], key: bytes) -> None:
    """Decrypt an object made by :func:`encrypt` into ``out``."""
    try:
        for data, _last in open_chunks(src, key):
            out.write(data)
    except WrongKey as exc:
        raise WrongKey(
            "the backup was encrypted with another key (STOREFLEET_BACKUP_KEY or "
            "STOREFLEET_SECRET_KEY changed since it was made)"
        ) from exc


# -- parts, manifest and packing ------------------------------------------------


@dataclass(frozen=True)
class Packed:
    sha256: str
    size: int
    manifest: dict[str, Any]


def describe_part(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": file_sha256(path)}


def pack(workdir: Path, manifest: dict[str, Any], out: IO[bytes], key: bytes) -> Packed:
    """Encrypt the parts in ``workdir`` with a manifest (to which their sizes
    and digests are added) into ``out``."""
    manifest = {**manifest, "format": FORMAT, "parts": {}}
    for name in PARTS:
        path = workdir / name
        if not path.is_file():
            raise FileNotFoundError(f"{name} is missing from the backup's scratch directory")
        manifest["parts"][name] = describe_part(path)
    body = json.dumps(manifest, indent=1, sort_keys=True).encode()
    plain = workdir / "backup.tar"
    with tarfile.open(plain, "w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(body)
        info.mode = 0o600
        tf.addfile(info, io.BytesIO(body))
        for name in PARTS:
            tf.add(workdir / name, arcname=name, recursive=False)
    try:
        with plain.open("rb") as src:
            sha256, size = encrypt(src, out, key)
    finally:
        plain.unlink(missing_ok=True)
    return Packed(sha256, size, manifest)


def unpack(encrypted: Path, workdir: Path, key: bytes) -> dict[str, Any]:
    """Decrypt and unpack a backup object into ``workdir``; check each part
    against the manifest; return the manifest."""
    plain = workdir / "backup.tar"
    try:
        with encrypted.open("rb") as src, plain.open("wb") as out:
            decrypt(src, out, key)
        try:
            with tarfile.open(plain, "r:") as tf:
                names = tf.getnames()
                if sorted(names) != sorted([MANIFEST, *PARTS]):
                    raise BackupError(f"the backup holds unexpected entries: {names}")
                tf.extractall(workdir, filter="data")
        except tarfile.TarError as exc:
            raise BackupError(f"the backup's contents are not readable: {exc}") from exc
    finally:
        plain.unlink(missing_ok=True)
    manifest: dict[str, Any] = json.loads((workdir / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    for name in PARTS:
        want = manifest["parts"][name]
        got = describe_part(workdir / name)
        if got != want:
            raise BackupError(f"{name} does not match the backup's manifest ({got} vs {want})")
    return manifest


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def object_name(store_uid: str, backup_id: int) -> str:
    """The object's name within the target: store uids are never reused, so
    neither are names (backup ids repeat after a platform-database reset)."""
    return f"stores/{store_uid}/backup-{backup_id}.sfb"
