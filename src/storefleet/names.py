"""The store-name rule (a DNS-1123 label) shared by the API and the drivers,
which check it again before a name reaches any command or manifest."""

from __future__ import annotations

import re
import secrets

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


UID_PATTERN = r"^[a-z][a-z0-9]{11}$"
_UID = re.compile(UID_PATTERN)
_UID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_store_uid() -> str:
    """A store's identity outside the platform database: 12 characters, the
    first a letter (valid in database, user, label and file names), about 61
    random bits, so that two platforms (or one reset platform database)
    sharing a stores server never name two stores alike."""
    return secrets.choice(_UID_ALPHABET[:26]) + "".join(
        secrets.choice(_UID_ALPHABET) for _ in range(11)
    )


def require_valid_store_uid(value: str) -> str:
    if not isinstance(value, str) or _UID.fullmatch(value) is None:
        raise ValueError(f"invalid store uid {value!r}")
    return value


def is_valid_store_uid(value: str) -> bool:
    return isinstance(value, str) and _UID.fullmatch(value) is not None


DOMAIN_RULE = (
    "must be a fully qualified domain name: at least two labels of letters, digits and "
    "hyphens (1-63 characters each, not starting or ending with a hyphen; internationalised "
    "names in their xn-- form), 253 characters at most, not an IP address"
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(value: str) -> str:
    """A domain as the platform keeps it (lowercase, no trailing dot), or
    ValueError naming the rule. Checked again before it reaches any
    configuration file or manifest."""
    name = value.strip().lower().removesuffix(".") if isinstance(value, str) else ""
    labels = name.split(".")
    if (
        not 3 < len(name) <= 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()  # an IPv4 address, or a numeric top-level label
        or name.startswith("_")
    ):
        raise ValueError(f"invalid domain {value!r}: {DOMAIN_RULE}")
    return name


def require_valid_domain(value: str) -> str:
    """``value`` unchanged if it is a normalised domain (for the drivers)."""
    if normalize_domain(value) != value:
        raise ValueError(f"invalid domain {value!r}: {DOMAIN_RULE}")
    return value
