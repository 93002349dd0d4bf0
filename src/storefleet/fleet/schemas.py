"""Request and response bodies of the fleet API."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from storefleet.fleet.models import FleetStatus
from storefleet.stores.models import OperationStatus, Phase

_WAVE = re.compile(r"^(\d{1,6}|\d{1,3}%|rest)$")


class FleetUpgradeCreate(BaseModel):
    wordpress: Annotated[
        str | None, Field(max_length=16, description="A pinned WordPress version (default: as now)")
    ] = None
    woocommerce: Annotated[
        str | None,
        Field(max_length=16, description="A pinned WooCommerce version (default: as now)"),
    ] = None
    waves: Annotated[
        list[str] | None,
        Field(
            max_length=20,
            description="Wave sizes in order: a number of stores, a percentage of the fleet "
            '("25%") or "rest". Default: ["1", "25%", "rest"]. Stores left over join the last '
            "wave.",
        ),
    ] = None

    @field_validator("waves")
    @classmethod
    def _waves(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("waves must name at least one wave")
            for wave in value:
                if not _WAVE.fullmatch(str(wave)) or wave in ("0", "0%"):
                    raise ValueError(f'wave {wave!r} is not a count, a percentage or "rest"')
        return value


class FleetStoreOut(BaseModel):
    store_id: int
    name: str
    wave: int
    status: OperationStatus
    phase: Phase
    operation_id: int
    current_step: str | None
    from_wordpress: str | None
    from_woocommerce: str | None
    wordpress_version: str | None
    woocommerce_version: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_seconds: float | None
    failure_reason: str | None


class FleetUpgradeOut(BaseModel):
    id: int
    status: FleetStatus
    wordpress: str
    woocommerce: str
    previous_wordpress: str
    previous_woocommerce: str
    waves: list[int]
    current_wave: Annotated[int, Field(description="The wave in progress (0-based)")]
    halted_reason: str | None
    requested_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    counts: Annotated[dict[str, int], Field(description="Stores by the status of their upgrade")]
    stores: list[FleetStoreOut]


class FleetUpgradePage(BaseModel):
    items: list[FleetUpgradeOut]
    total: int


class ReleasesOut(BaseModel):
    wordpress: str
    woocommerce: str
    known: Annotated[dict[str, list[str]], Field(description="Every pinned version, by product")]


class PlanOut(BaseModel):
    name: str
    memory_mib: int
    cpus: float
    pids: int
    storage_gib: int
    php_workers: Annotated[int, Field(description="Requests a store serves at once")]
    php_memory_mib: Annotated[int, Field(description="The most one request may take")]
    default: bool
    yours_to_pick: Annotated[bool, Field(description="Whether you may give a store this plan")]


class PhaseCount(BaseModel):
    phase: Phase
    stores: int


class FleetSummary(BaseModel):
    phases: list[PhaseCount]
    ready_seconds_p50: Annotated[
        float | None, Field(description="Median time from request to ready (last 500 stores)")
    ]
    ready_seconds_p95: float | None
    ready_samples: int
    releases: ReleasesOut
    upgrade_in_progress: int | None
