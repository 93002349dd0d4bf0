"""Two-factor sign-in: TOTP codes (RFC 6238, pyotp) and recovery codes.

Enrolment is two requests: ``setup`` keeps a new secret, sealed, as pending
and returns it with its ``otpauth://`` URI and that URI's QR code (an SVG
made here by segno: no outside service sees the secret); ``confirm`` checks a
code from the authenticator, makes the secret the user's and returns ten
recovery codes, once. Recovery codes have 80 random bits and are kept as an
HMAC keyed by the platform's secret; each works once. A code (TOTP) is never
accepted twice: the time step of the last one accepted is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storefleet.auth.models import RecoveryCode, User
from storefleet.crypto import InvalidToken, SecretBox
from storefleet.db import utcnow
from storefleet.exceptions import Conflict, InvalidInput, NotAuthenticated

ISSUER = "StoreFleet"
RECOVERY_CODES = 10
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


class SecondFactorRequired(NotAuthenticated):
    """The password was right; a two-factor code is needed (or was wrong).
    ``X-StoreFleet-OTP: required`` tells clients to ask for one."""

    headers = {"WWW-Authenticate": "Bearer", "X-StoreFleet-OTP": "required"}


def otpauth_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI's QR code as an SVG data URI (for an ``<img>``)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def _counter(secret: str, code: str, last: int | None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side for
    clocks that drift), or None when it matches none or was used already."""
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // totp.interval
    for step in (now, now - 1, now + 1):
        if (last is None or step > last) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _recovery_hash(key: str, code: str) -> str:
    normal = code.replace("-", "").replace(" ", "").upper()
    return hmac.new(key.encode(), f"recovery:{normal}".encode(), hashlib.sha256).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _open(box: SecretBox, sealed: str) -> str:
    try:
        return box.open(sealed)
    except InvalidToken as exc:
        raise Conflict(
            "The two-factor secret cannot be decrypted (was STOREFLEET_SECRET_KEY changed?); "
            "an operator can reset it with `storefleet users reset-2fa`"
        ) from exc


def setup(user: User, box: SecretBox) -> tuple[str, str]:
    """Start enrolment: a new pending secret. Returns (secret, otpauth URI)."""
    if user.two_factor_enabled:
        raise Conflict("Two-factor sign-in is already on; turn it off first to enrol again")
    secret = pyotp.random_base32()
    user.totp_pending_enc = box.seal(secret)
    return secret, otpauth_uri(secret, user.email)


def confirm(session: Session, user: User, box: SecretBox, key: str, code: str) -> list[str]:
    """Finish enrolment with a code from the authenticator; returns the
    recovery codes (shown once)."""
    if user.two_factor_enabled:
        raise Conflict("Two-factor sign-in is already on")
    if user.totp_pending_enc is None:
        raise Conflict("Start with POST /api/auth/2fa/setup")
    secret = _open(box, user.totp_pending_enc)
    step = _counter(secret, _digits(code), None)
    if step is None:
        raise InvalidInput(
            [{"loc": ["body", "code"], "field": "code", "msg": "code: wrong or expired code",
              "type": "value_error"}]
        )  # fmt: skip
    user.totp_secret_enc = user.totp_pending_enc
    user.totp_pending_enc = None
    user.totp_enabled_at = utcnow()
    user.totp_last_counter = step
    return new_recovery_codes(session, user, key)


def new_recovery_codes(session: Session, user: User, key: str) -> list[str]:
    """Replace the user's recovery codes; returns the new ones (shown once)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(key, code)))
    return codes


def _digits(code: str) -> str:
    return code.replace(" ", "").strip()


def verify(session: Session, user: User, box: SecretBox, key: str, otp: str | None) -> str:
    """Check a sign-in's second factor (the user row locked by the caller):
    a TOTP code or an unused recovery code. Returns which one was used;
    raises :class:`SecondFactorRequired` when it is missing or wrong."""
    if not otp:
        raise SecondFactorRequired("A two-factor code is needed (field otp)")
    if user.totp_secret_enc is None:
        return "none"
    code = _digits(otp)
    if code.isdigit() and len(code) == 6:
        step = _counter(_open(box, user.totp_secret_enc), code, user.totp_last_counter)
        if step is not None:
            user.totp_last_counter = step
            return "totp"
    else:
        row = session.scalar(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _recovery_hash(key, code),
                RecoveryCode.used_at.is_(None),
            )
        )
        if row is not None:
            row.used_at = utcnow()
            return "recovery code"
    raise SecondFactorRequired("The two-factor code is wrong, expired or already used")


def recovery_codes_left(session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def turn_off(session: Session, user: User) -> None:
    """Remove the user's second factor (its secret and recovery codes)."""
    user.totp_secret_enc = None
    user.totp_pending_enc = None
    user.totp_enabled_at = None
    user.totp_last_counter = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
