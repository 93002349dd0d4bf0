"""Custom domains of stores, and the platform's account at the ACME server.

A domain is proven to be the merchant's (a DNS TXT record holding the
domain's token) before anything is served for it; then a ``domain``
operation routes it to the store, obtains its certificate and, for the
primary domain, moves the store's address to it (docs/domains.md).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storefleet.db import Base, UTCDateTime, utcnow


class DomainStatus(StrEnum):
    #: Waiting for its ownership proof (the TXT record); nothing is served.
    pending = "pending"
    #: Proven; its certificate is being obtained.
    verified = "verified"
    #: Served over TLS with its certificate.
    active = "active"
    #: Its certificate could not be obtained (or has expired): the store
    #: answers at its other address; ``failure_reason`` says why.
    failed = "failed"
    #: Being taken off the store.
    removing = "removing"
    removed = "removed"


#: Domains that are routed to their store (proven, not removed).
ROUTED = (DomainStatus.verified, DomainStatus.active, DomainStatus.failed)
#: Domains a store holds (their names are taken).
HELD = (*ROUTED, DomainStatus.pending, DomainStatus.removing)


class StoreDomain(Base):
    __tablename__ = "store_domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(253))
    #: The name while a store holds it, NULL once removed: a unique index on
    #: it keeps a domain on one store at a time.
    live_name: Mapped[str | None] = mapped_column(String(253), unique=True, nullable=True)
    #: The value of the TXT record that proves the domain is the merchant's
    #: (public, not a secret).
    token: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=DomainStatus.pending.value)
    #: The store's address moves to its primary domain once it is active.
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The proof's lookups so far, and when the next one (or the next
    #: renewal attempt) is due.
    checks: Mapped[int] = mapped_column(Integer, default=0)
    check_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The certificate in use: when it was issued and when it expires.
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AcmeAccount(Base):
    """The platform's account at an ACME server (one per directory URL)."""

    __tablename__ = "acme_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    directory: Mapped[str] = mapped_column(String(255), unique=True)
    #: The account's private key (JWK JSON), sealed with the platform's SecretBox.
    key_enc: Mapped[str] = mapped_column(Text)
    #: The account's URL at the server.
    uri: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
