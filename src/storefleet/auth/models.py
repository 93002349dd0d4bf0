"""Platform users: merchants (members) and operators (admins)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storefleet.db import Base, UTCDateTime, utcnow


class Role(StrEnum):
    admin = "admin"
    member = "member"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.member.value)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # None means "the platform default" (STOREFLEET_MAX_*).
    max_live_stores: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_creations_per_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin.value
