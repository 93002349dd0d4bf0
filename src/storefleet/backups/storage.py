"""Where backup objects are kept: a directory (the default, under the data
directory) or an S3-compatible bucket (boto3). Both take and give back
whole files; the object's digest is computed and checked by the caller.

Credentials come from the settings (environment or mounted Secret), never
from arguments of a command, and are never logged.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from storefleet.backups.archive import derive_key
from storefleet.config import Settings


class StorageError(Exception):
    """The target could not store or give back an object."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class BackupStorage(ABC):
    name: str

    @abstractmethod
    def put(self, source: Path, key: str) -> None: ...

    @abstractmethod
    def get(self, key: str, target: Path) -> None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...


def _safe_key(key: str) -> PurePosixPath:
    path = PurePosixPath(key)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise StorageError(f"refusing the object name {key!r}", transient=False)
    return path


class DirectoryStorage(BackupStorage):
    name = "dir"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def put(self, source: Path, key: str) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = target.with_name(f".{target.name}.part")
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o600)
            tmp.replace(target)
        except OSError as exc:
            raise StorageError(f"could not write {target}: {exc}", transient=False) from exc

    def get(self, key: str, target: Path) -> None:
        source = self._path(key)
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError as exc:
            raise StorageError(f"the backup object {source} is gone", transient=False) from exc
        except OSError as exc:
            raise StorageError(f"could not read {source}: {exc}", transient=False) from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage(BackupStorage):
    name = "s3"

    def __init__(self, settings: Settings) -> None:
        if not settings.backup_s3_bucket:
            raise StorageError(
                "STOREFLEET_BACKUP_S3_BUCKET is not set (STOREFLEET_BACKUP_TARGET=s3)",
                transient=False,
            )
        self.bucket = settings.backup_s3_bucket
        self.prefix = settings.backup_s3_prefix
        options: dict[str, Any] = {
            "region_name": settings.backup_s3_region,
            "config": Config(
                # Path-style addressing and checksums only where required:
                # what S3-compatible servers (MinIO, SeaweedFS, Ceph, Versity) accept.
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                connect_timeout=10,
                read_timeout=120,
            ),
        }
        if settings.backup_s3_endpoint:
            options["endpoint_url"] = settings.backup_s3_endpoint
        if settings.backup_s3_access_key and settings.backup_s3_secret_key:
            options["aws_access_key_id"] = settings.backup_s3_access_key.get_secret_value()
            options["aws_secret_access_key"] = settings.backup_s3_secret_key.get_secret_value()
        self.client: Any = boto3.client("s3", **options)

    def _key(self, key: str) -> str:
        return self.prefix + str(_safe_key(key))

    def _error(self, what: str, exc: Exception) -> StorageError:
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "?")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            transient = status >= 500 or code in ("SlowDown", "RequestTimeout")
            return StorageError(f"{what} in bucket {self.bucket}: {code}", transient=transient)
        transient = isinstance(exc, EndpointConnectionError | BotoCoreError)
        return StorageError(f"{what} in bucket {self.bucket}: {exc}", transient=transient)

    def put(self, source: Path, key: str) -> None:
        try:
            self.client.upload_file(str(source), self.bucket, self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(f"could not store {key}", exc) from exc

    def get(self, key: str, target: Path) -> None:
        try:
            self.client.download_file(self.bucket, self._key(key), str(target))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise StorageError(
                    f"the backup object {key} is gone from bucket {self.bucket}", transient=False
                ) from exc
            raise self._error(f"could not fetch {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._error(f"could not fetch {key}", exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(f"could not delete {key}", exc) from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise self._error(f"could not look for {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._error(f"could not look for {key}", exc) from exc
        return True


def open_storage(settings: Settings, target: str | None = None) -> BackupStorage:
    """The storage for ``target`` ("dir" or "s3"; default: the configured one)."""
    target = target or settings.backup_target
    if target == "s3":
        return S3Storage(settings)
    if target == "dir":
        return DirectoryStorage(settings.backups_path)
    raise StorageError(f"unknown backup target {target!r}", transient=False)


def backup_key(settings: Settings) -> bytes:
    secret = (
        settings.backup_key.get_secret_value() if settings.backup_key else settings.signing_key()
    )
    return derive_key(secret)
