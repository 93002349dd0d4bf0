"""Request and response bodies of the stores API."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from storefleet.names import NAME_PATTERN, NAME_RULE, is_valid_store_name
from storefleet.stores.models import Operation, OperationStatus, Phase, StepStatus

PASSWORD_RULE = (
    "must be 8-128 characters, without spaces at either end and without control characters"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_admin_password(value: str | None) -> str | None:
    # WordPress trims a password when it hashes it but not when it checks
    # one, and a sign-in form cannot carry control characters: such a
    # password could never sign in, so it is refused here.
    if value is not None and (
        not 8 <= len(value) <= 128 or value != value.strip() or _CONTROL.search(value)
    ):
        raise ValueError(f"Admin password {PASSWORD_RULE}")
    return value


class StoreCreate(BaseModel):
    name: Annotated[
        str,
        Field(
            description=f"A DNS-1123 label: {NAME_RULE}",
            examples=["my-shop"],
            # Documented for clients; enforced by the validator below, whose
            # message says the rule in words.
            json_schema_extra={"pattern": NAME_PATTERN, "minLength": 3, "maxLength": 40},
        ),
    ]
    admin_email: Annotated[EmailStr, Field(description="The WordPress admin's email")]
    admin_password: Annotated[
        str | None,
        Field(
            description=f"The WordPress admin's password ({PASSWORD_RULE}); generated if omitted"
        ),
    ] = None
    sample_products: Annotated[
        bool,
        Field(description="Start the shop with a few sample products to sell (default: yes)"),
    ] = True
    plan: Annotated[
        str | None,
        Field(
            max_length=32,
            description="What the store may use (GET /api/fleet/plans); default: the "
            "platform's default plan",
        ),
    ] = None
    source_backup_id: Annotated[
        int | None,
        Field(
            ge=1,
            le=2_147_483_647,
            description="Clone this backup (of a store you may see) into the new store: its "
            "orders, products and files, at the new name and address, with a new database, "
            "salts and admin password",
        ),
    ] = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not is_valid_store_name(value):
            raise ValueError(f"Store name {NAME_RULE}")
        return value

    @field_validator("admin_password")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        return check_admin_password(value)


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    operation: str
    status: StepStatus
    attempt: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    message: str | None


class OperationOut(BaseModel):
    id: int
    kind: Operation
    status: OperationStatus
    requested_by: str
    params: Annotated[dict[str, Any], Field(description="What was asked (never secrets)")]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_seconds: float | None
    failure_reason: str | None
    fleet_upgrade_id: int | None
    steps: list[StepOut]


class Progress(BaseModel):
    done: int
    total: int


#: The API calls a store's lifecycle phase (``Store.phase``) its ``status``;
#: the values are the phases'. These two functions are the one place that
#: maps one to the other.
StoreStatus = Phase


def status_of(phase: str) -> StoreStatus:
    """The API's status of a store whose row holds ``phase``."""
    return StoreStatus(phase)


def phase_for(status: StoreStatus) -> Phase:
    """The phase a status filter asks for."""
    return Phase(status.value)


class StoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    uid: Annotated[
        str, Field(description="Names the store's database, user, directory or namespace label")
    ]
    status: StoreStatus
    url: str | None
    admin_url: str | None
    admin_email: str
    owner_id: int
    owner_email: str
    driver: str
    created_at: dt.datetime
    updated_at: dt.datetime
    ready_at: dt.datetime | None
    deleted_at: dt.datetime | None
    failure_reason: str | None
    current_step: str | None
    current_operation: Annotated[
        Operation | None, Field(description="The operation in flight, if any")
    ] = None
    progress: Progress
    sample_products: bool
    plan: str
    wordpress_version: Annotated[str | None, Field(description="The WordPress release it runs")]
    woocommerce_version: Annotated[str | None, Field(description="The WooCommerce release it runs")]
    staging_of_id: Annotated[
        int | None, Field(description="A staging copy: the live store it copies")
    ] = None
    expires_at: Annotated[
        dt.datetime | None,
        Field(description="A staging copy: when it is deleted unless extended"),
    ] = None


class StoreDetail(StoreOut):
    steps: Annotated[
        list[StepOut],
        Field(description="Steps of its provisioning, its deletion and the operation in flight"),
    ]
    backup_schedule_hours: Annotated[
        float, Field(description="Backed up every this many hours (0: never)")
    ]
    backup_schedule_is_default: bool


class StoreSettingsUpdate(BaseModel):
    """The fields given are changed; a new ``plan`` is applied by a resize
    operation (202)."""

    plan: Annotated[
        str | None,
        Field(max_length=32, description="Another plan (GET /api/fleet/plans): a resize"),
    ] = None
    backup_schedule_hours: Annotated[
        float | None,
        Field(
            ge=0,
            le=24 * 366,
            description="Back the store up every this many hours (0: never; null: the "
            "platform's default)",
        ),
    ] = None


class StagingCreate(BaseModel):
    name: Annotated[
        str | None,
        Field(
            description=f"The copy's name ({NAME_RULE}); default <live name>-staging",
            json_schema_extra={"pattern": NAME_PATTERN, "minLength": 3, "maxLength": 40},
        ),
    ] = None
    days: Annotated[
        int | None, Field(ge=1, le=90, description="Deleted after this many days (default 14)")
    ] = None
    admin_password: Annotated[
        str | None,
        Field(description=f"The copy's admin password ({PASSWORD_RULE}); generated if omitted"),
    ] = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_store_name(value):
            raise ValueError(f"Store name {NAME_RULE}")
        return value

    @field_validator("admin_password")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        return check_admin_password(value)


class PushRequest(BaseModel):
    what: Annotated[
        Literal["files", "database", "both"],
        Field(description="The copy's files (wp-content), its database, or both"),
    ]


class ExtendRequest(BaseModel):
    days: Annotated[int, Field(ge=1, le=90, description="More days (at most 90 from now in all)")]


class RestoreRequest(BaseModel):
    backup_id: Annotated[int, Field(ge=1, le=2_147_483_647)]


class StoreCreated(StoreOut):
    admin_password: Annotated[
        str | None,
        Field(description="The generated admin password, shown only in this response"),
    ] = None


class StoreSort(StrEnum):
    """The order of ``GET /api/stores``: a field, descending with ``-``."""

    newest = "-created_at"
    oldest = "created_at"
    name = "name"
    name_desc = "-name"


class StorePage(BaseModel):
    items: list[StoreOut]
    total: Annotated[int, Field(description="Stores that match the filters, on all pages")]
    limit: int
    next_cursor: Annotated[
        str | None,
        Field(description="Pass as ``cursor`` for the next page; null on the last page"),
    ] = None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    level: str
    kind: str
    message: str


class MailOut(BaseModel):
    id: str
    at: str
    to: list[str]
    subject: str
    text: Annotated[str, Field(description="The message as plain text")]


class MailPage(BaseModel):
    delivery: Annotated[
        str, Field(description="mailbox: kept by the platform (shown here); smtp: sent out")
    ]
    items: list[MailOut]


LogSourceName = Literal["php", "access"]


class LogLineOut(BaseModel):
    at: Annotated[
        dt.datetime | None, Field(description="When it was written (null: the line does not say)")
    ]
    text: Annotated[
        str,
        Field(
            description="The entry (a PHP message with its stack trace), redacted: cookies, "
            "credentials, tokens and query arguments' values are [redacted]"
        ),
    ]


class LogPage(BaseModel):
    source: LogSourceName
    items: Annotated[list[LogLineOut], Field(description="Newest first")]
    more: Annotated[bool, Field(description="The limit was reached: older lines may match too")]
    kept: Annotated[str, Field(description="What the platform keeps of this log, in words")]


PASSPHRASE_RULE = "12-1024 characters"


class ExportRequest(BaseModel):
    passphrase: Annotated[
        str,
        Field(
            min_length=12,
            max_length=1024,
            description=f"The archive is encrypted under it ({PASSPHRASE_RULE}); the import "
            "asks for it. Kept nowhere: lose it and the archive cannot be opened",
        ),
    ]
