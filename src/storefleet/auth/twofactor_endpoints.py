"""HTTP endpoints of two-factor sign-in (sign-ins only)."""

from __future__ import annotations

from fastapi import APIRouter

from storefleet.audit import service as audit
from storefleet.auth import twofactor
from storefleet.auth.schemas import RecoveryCodes, TwoFactorCode, TwoFactorSetup, TwoFactorStatus
from storefleet.deps import ClientIP, PrincipalDep, RuntimeDep, SessionDep
from storefleet.exceptions import ERROR_RESPONSES, Conflict

router = APIRouter(
    prefix="/api/auth/2fa",
    tags=["two-factor"],
    responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]},
)


@router.get("", response_model=TwoFactorStatus)
def two_factor_status(principal: PrincipalDep, session: SessionDep) -> TwoFactorStatus:
    user = principal.user
    return TwoFactorStatus(
        enabled=user.two_factor_enabled,
        enabled_at=user.totp_enabled_at,
        recovery_codes_left=twofactor.recovery_codes_left(session, user),
        required=principal.enrol_only,
    )


@router.post("/setup", response_model=TwoFactorSetup, responses={409: ERROR_RESPONSES[409]})
def setup_two_factor(
    principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> TwoFactorSetup:
    """Start enrolment: a new secret for your authenticator app (shown as a
    QR code too). Nothing changes at sign-in until it is confirmed."""
    secret, uri = twofactor.setup(principal.user, runtime.box)
    return TwoFactorSetup(secret=secret, otpauth_uri=uri, qr_svg=twofactor.qr_svg(uri))


@router.post("/confirm", response_model=RecoveryCodes, responses={409: ERROR_RESPONSES[409]})
def confirm_two_factor(
    body: TwoFactorCode,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> RecoveryCodes:
    """Finish enrolment with a code from the app (422 naming ``code`` when it
    is wrong). Returns ten recovery codes, shown only now."""
    user = principal.user
    codes = twofactor.confirm(session, user, runtime.box, runtime.settings.signing_key(), body.code)
    audit.record(
        session, "user.two_factor", actor=user, target=f"user:{user.id}",
        detail={"two_factor": "enabled"}, client_ip=ip,
    )  # fmt: skip
    return RecoveryCodes(recovery_codes=codes)


@router.post("/recovery-codes", response_model=RecoveryCodes, responses={409: ERROR_RESPONSES[409]})
def new_recovery_codes(
    body: TwoFactorCode,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> RecoveryCodes:
    """Replace your recovery codes (the old ones stop working); needs a
    current code."""
    user = principal.user
    key = runtime.settings.signing_key()
    if not user.two_factor_enabled:
        raise Conflict("Two-factor sign-in is off")
    twofactor.verify(session, user, runtime.box, key, body.code)
    codes = twofactor.new_recovery_codes(session, user, key)
    audit.record(
        session, "user.two_factor", actor=user, target=f"user:{user.id}",
        detail={"two_factor": "new recovery codes"}, client_ip=ip,
    )  # fmt: skip
    return RecoveryCodes(recovery_codes=codes)


@router.post("/disable", response_model=TwoFactorStatus, responses={409: ERROR_RESPONSES[409]})
def disable_two_factor(
    body: TwoFactorCode,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> TwoFactorStatus:
    """Turn two-factor sign-in off; needs a current code (or a recovery
    code). Refused (409) for an admin while the platform requires it."""
    user = principal.user
    if not user.two_factor_enabled:
        raise Conflict("Two-factor sign-in is off already")
    if user.is_admin and runtime.settings.require_2fa_for_admins:
        raise Conflict("This platform requires two-factor sign-in for admins")
    twofactor.verify(session, user, runtime.box, runtime.settings.signing_key(), body.code)
    twofactor.turn_off(session, user)
    audit.record(
        session, "user.two_factor", actor=user, target=f"user:{user.id}",
        detail={"two_factor": "disabled"}, client_ip=ip,
    )  # fmt: skip
    return TwoFactorStatus(enabled=False, enabled_at=None, recovery_codes_left=0, required=False)
