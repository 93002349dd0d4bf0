"""The releases new stores get, as the platform database records them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storefleet.db import Base, UTCDateTime, utcnow


class PlatformRelease(Base):
    """The version of a product (wordpress, woocommerce) that new stores get."""

    __tablename__ = "platform_releases"

    product: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(254), nullable=True)
