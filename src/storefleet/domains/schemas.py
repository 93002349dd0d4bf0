"""Request and response bodies of the custom-domains API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from storefleet.domains.models import DomainStatus
from storefleet.names import DOMAIN_RULE, normalize_domain


class DomainCreate(BaseModel):
    domain: Annotated[
        str,
        Field(
            max_length=254,
            description=f"The domain ({DOMAIN_RULE})",
            examples=["shop.example.com"],
        ),
    ]
    primary: Annotated[
        bool | None,
        Field(
            description="The store's address moves to it once its certificate is in place "
            "(default: yes when the store has no primary domain yet)"
        ),
    ] = None

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return normalize_domain(value)


class Verification(BaseModel):
    """What proves the domain is the merchant's: a DNS TXT record."""

    type: Literal["dns-txt"] = "dns-txt"
    name: Annotated[str, Field(description="The TXT record's name")]
    value: Annotated[str, Field(description="The TXT record's value")]


class DomainOut(BaseModel):
    domain: str
    status: DomainStatus
    primary: bool
    verification: Verification
    #: Why it is waiting or failed (the latest lookup, the ACME server's answer).
    failure_reason: str | None
    url: Annotated[
        str | None, Field(description="Where the store answers at this domain (once active)")
    ]
    created_at: dt.datetime
    verified_at: dt.datetime | None
    issued_at: dt.datetime | None
    expires_at: Annotated[
        dt.datetime | None, Field(description="When its certificate expires (renewed before)")
    ]
