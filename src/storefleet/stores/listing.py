"""The store list (``GET /api/stores``): filters, a sort and cursor pages.

A cursor names the last store of a page by its sort value and id (keyset
pagination): the next page starts after it, so a page deep in 10,000 stores
costs what the first one does (offsets made the database walk past every
skipped row), and a store created meanwhile neither repeats nor hides a row.
The cursor is opaque to clients (base64url JSON) and bound to its sort.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session

from storefleet.auth.models import User
from storefleet.exceptions import InvalidInput
from storefleet.stores import repository
from storefleet.stores.schemas import StorePage, StoreSort, StoreStatus, phase_for
from storefleet.stores.service import list_out

_BAD_CURSOR = "The cursor is not one this list gave for this sort; start again without it"


def encode_cursor(sort: StoreSort, value: Any, store_id: int) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    raw = json.dumps([sort.value, value, store_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: StoreSort) -> tuple[Any, int]:
    """The (sort value, id) a cursor names; 422 for one of another sort or
    anything not made by :func:`encode_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, store_id = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidInput(_BAD_CURSOR) from exc
    if kind != sort.value or not isinstance(store_id, int) or not isinstance(value, str):
        raise InvalidInput(_BAD_CURSOR)
    if _column(sort) == "created_at":
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(_BAD_CURSOR) from exc
        if when.tzinfo is None:
            raise InvalidInput(_BAD_CURSOR)
        return when, store_id
    return value, store_id


def _column(sort: StoreSort) -> str:
    return sort.value.removeprefix("-")


def page(
    session: Session,
    user: User,
    *,
    limit: int,
    cursor: str | None,
    sort: StoreSort,
    status: StoreStatus | None,
    include_deleted: bool,
    owner_id: int | None,
    name_prefix: str | None,
) -> StorePage:
    """A page of the stores ``user`` may see (admins: every store, or one
    owner's), in the order of ``sort``, after ``cursor``."""
    owner = owner_id if user.is_admin else user.id
    q = repository.visible(
        owner, include_deleted, phase_for(status) if status else None, name_prefix
    )
    column = _column(sort)
    after = decode_cursor(cursor, sort) if cursor else None
    rows = repository.page_after(
        session, q, sort=column, descending=sort.value.startswith("-"), after=after,
        limit=limit + 1,
    )  # fmt: skip
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(sort, getattr(last, column), last.id)
    return StorePage(
        items=list_out(session, rows),
        total=repository.count(session, q),
        limit=limit,
        next_cursor=next_cursor,
    )
