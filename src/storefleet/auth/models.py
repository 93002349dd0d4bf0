"""Platform users: merchants (members) and operators (admins), their
sign-in sessions, personal access tokens and two-factor recovery codes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
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
    # Two-factor sign-in (TOTP): the secret is sealed with the platform's
    # SecretBox; "pending" holds one being enrolled until a code confirms it.
    totp_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    totp_pending_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The time step of the last code accepted: a code is never accepted twice.
    totp_last_counter: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_secret_enc is not None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin.value


class UserSession(Base):
    """A sign-in (``POST /api/auth/login`` or the dashboard's session): its
    JWT names it in ``sid``. Signing out, an admin's "revoke sessions" and a
    2FA reset set ``revoked_at``; the check rides on the user lookup every
    authenticated request already makes (one join on a primary key)."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: "api" (a bearer token) or "dashboard" (the session cookie).
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ApiToken(Base):
    """A personal access token: only its SHA-256 is kept (the secret has 256
    random bits, so a fast hash suffices and lookups stay one index probe)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the token, to recognise it in a list.
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RecoveryCode(Base):
    """A two-factor recovery code: kept as an HMAC keyed by the platform's
    secret, usable once."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
