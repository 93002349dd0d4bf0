"""Fleet upgrades: a fleet upgrade moves the releases new stores get
(``storefleet.releases.targets``) and then every store, in waves. Each
store's part is a ``StoreOperation`` of kind ``upgrade`` that points at its
fleet upgrade and wave.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storefleet.db import Base, UTCDateTime, utcnow


class FleetStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    halted = "halted"


class FleetUpgrade(Base):
    __tablename__ = "fleet_upgrades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wordpress: Mapped[str] = mapped_column(String(16))
    woocommerce: Mapped[str] = mapped_column(String(16))
    #: What new stores got before; put back when the upgrade halts.
    previous_wordpress: Mapped[str] = mapped_column(String(16))
    previous_woocommerce: Mapped[str] = mapped_column(String(16))
    #: How many stores each wave holds, in order.
    waves: Mapped[list[int]] = mapped_column(JSON, default=list)
    current_wave: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=FleetStatus.running.value, index=True)
    halted_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
