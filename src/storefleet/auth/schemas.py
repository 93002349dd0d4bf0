"""Request and response bodies of the auth and users API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from storefleet.auth.access import Scope
from storefleet.auth.models import Role

Password = Annotated[str, Field(min_length=8, max_length=128)]


class LoginRequest(BaseModel):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=128)]
    #: A two-factor code (6 digits) or a recovery code, for a user who has
    #: two-factor sign-in; without it such a sign-in answers 401 with
    #: ``X-StoreFleet-OTP: required``.
    otp: Annotated[str | None, Field(min_length=1, max_length=32)] = None


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class SessionOut(BaseModel):
    """A dashboard session: the token is in an HttpOnly cookie, never here.
    Send ``csrf_token`` (also in the readable ``sf_csrf`` cookie) as
    ``X-CSRF-Token`` with every request that changes something."""

    csrf_token: str
    expires_in: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: Role
    is_active: bool
    max_live_stores: int | None
    max_creations_per_hour: int | None
    created_at: dt.datetime


class Me(UserOut):
    two_factor_enabled: bool
    #: An admin who must enrol in two-factor sign-in before anything else.
    two_factor_required: bool
    #: What this request's credentials may do: null for a sign-in (all the
    #: user may), the scopes of an API token.
    scopes: list[str] | None
    live_stores: int
    effective_max_live_stores: int
    effective_max_creations_per_hour: int


class UserCreate(BaseModel):
    email: EmailStr
    password: Password
    role: Role = Role.member
    max_live_stores: Annotated[int | None, Field(ge=0, le=10_000)] = None
    max_creations_per_hour: Annotated[int | None, Field(ge=0, le=10_000)] = None


class UserUpdate(BaseModel):
    is_active: bool | None = None
    role: Role | None = None
    password: Password | None = None
    #: Needed to change one's own password.
    current_password: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    max_live_stores: Annotated[int | None, Field(ge=0, le=10_000)] = None
    max_creations_per_hour: Annotated[int | None, Field(ge=0, le=10_000)] = None


class UserPage(BaseModel):
    items: list[UserOut]
    total: int


class TokenCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=5)]
    #: Unset: the token works until revoked.
    expires_at: dt.datetime | None = None


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    #: The token's first characters, to recognise it.
    prefix: str
    scopes: list[Scope]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    #: The secret, shown only in this answer: send it as ``Authorization: Bearer``.
    token: str


class TokenPage(BaseModel):
    items: list[TokenOut]


class TwoFactorSetup(BaseModel):
    """A new secret to add to an authenticator app (type it, or scan
    ``qr_svg``); then confirm with a code."""

    secret: str
    otpauth_uri: str
    #: The otpauth URI as a QR code: an SVG data URI for an ``<img>``.
    qr_svg: str


class TwoFactorCode(BaseModel):
    code: Annotated[str, Field(min_length=6, max_length=32)]


class RecoveryCodes(BaseModel):
    """Shown only in this answer: each signs in once instead of a code."""

    recovery_codes: list[str]


class TwoFactorStatus(BaseModel):
    enabled: bool
    enabled_at: dt.datetime | None
    recovery_codes_left: int
    required: bool


class SessionsRevoked(BaseModel):
    revoked: int
