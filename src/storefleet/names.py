"""The store-name rule (a DNS-1123 label) shared by the API and the drivers,
which check it again before a name reaches any command or manifest."""

from __future__ import annotations

import re

NAME_RULE = (
    "must be 3-40 characters of lowercase letters, digits and hyphens, "
    "start with a letter and not end with a hyphen"
)
NAME_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
_NAME = re.compile(NAME_PATTERN)


def is_valid_store_name(value: object) -> bool:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def require_valid_store_name(value: str) -> str:
    if not is_valid_store_name(value):
        raise ValueError(f"invalid store name {value!r}: {NAME_RULE}")
    return value
