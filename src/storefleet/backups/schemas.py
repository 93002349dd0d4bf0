"""Response bodies of the backups API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from storefleet.backups.models import BackupKind, BackupStatus


class BackupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    store_id: int
    kind: BackupKind
    status: BackupStatus
    requested_by: str
    target: Annotated[str | None, Field(description="dir or s3")]
    size_bytes: int | None
    sha256: Annotated[str | None, Field(description="SHA-256 of the stored, encrypted object")]
    wordpress_version: str | None
    woocommerce_version: str | None
    manifest: Annotated[
        dict[str, Any] | None, Field(description="What it holds: parts, sizes, digests")
    ]
    failure_reason: str | None
    created_at: dt.datetime
    completed_at: dt.datetime | None
    expires_at: Annotated[
        dt.datetime | None, Field(description="Kept until then (the backup before deletion)")
    ]
    expired_at: dt.datetime | None


class BackupPage(BaseModel):
    items: list[BackupOut]
    total: int
