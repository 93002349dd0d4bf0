"""Request and response bodies of the auth and users API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from storefleet.auth.models import Role

Password = Annotated[str, Field(min_length=8, max_length=128)]


class LoginRequest(BaseModel):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


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
