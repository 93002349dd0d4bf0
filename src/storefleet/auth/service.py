"""Signing in, and managing users.

Rules that keep the platform administrable: the last active admin cannot be
deactivated or demoted, an admin cannot deactivate itself, and changing one's
own password needs the current one. Should the platform still end up without
an admin, ``storefleet users activate|promote|reset-password`` on the host
recovers it.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefleet.audit import service as audit
from storefleet.auth import passwords, repository, sessions, tokens, twofactor
from storefleet.auth.counters import LOGIN_FAILURES
from storefleet.auth.models import Role, User
from storefleet.auth.schemas import UserCreate, UserUpdate
from storefleet.db import Database
from storefleet.exceptions import Conflict, Forbidden, NotAuthenticated, NotFound
from storefleet.runtime import Runtime


def _lookup(db: Database, email: str) -> tuple[int, str, str, bool] | None:
    with db.transaction(write=False) as session:
        user = repository.by_email(session, email)
        return (user.id, user.email, user.password_hash, user.is_active) if user else None


def login(
    runtime: Runtime,
    *,
    email: str,
    password: str,
    client_ip: str,
    otp: str | None = None,
    csrf: str | None = None,
) -> str:
    """Check the credentials (and the second factor, when the user has one),
    record the sign-in's session and issue its token (with a ``csrf`` claim
    for a dashboard session).

    The attempt is counted before the password is checked; the check runs
    outside any database transaction (it takes a while and 64 MiB) and under
    the process's bound on concurrent checks. A wrong second factor counts
    as a failed attempt too."""
    runtime.throttle.attempt(email, client_ip)
    found = _lookup(runtime.db, email)
    ok = runtime.passwords.verify(found[2] if found else None, password)
    if not ok or found is None or not found[3]:
        LOGIN_FAILURES.inc()
        raise NotAuthenticated(
            "Incorrect email or password",
            audit=audit.refused(
                "auth.login_failed",
                actor_email=email,
                client_ip=client_ip,
                detail={"reason": "disabled" if ok and found else "wrong email or password"},
            ),
        )
    s = runtime.settings
    user_id = found[0]
    with runtime.db.transaction() as session:
        user = repository.by_id(session, user_id, for_update=True)
        if user is None or not user.is_active:
            raise NotAuthenticated("This account no longer exists or is disabled")
        factor = _second_factor(session, runtime, user, otp, client_ip)
        sid = sessions.start(
            session, user, kind="dashboard" if csrf else "api",
            minutes=s.access_token_minutes, client_ip=client_ip,
        )  # fmt: skip
        audit.record(
            session, "auth.login", actor=user, client_ip=client_ip,
            detail={"second_factor": factor} if factor else None,
        )  # fmt: skip
        role = user.role
    runtime.throttle.succeeded(email)
    return tokens.issue(
        user_id, role, key=s.signing_key(), minutes=s.access_token_minutes, sid=sid, csrf=csrf
    )


def _second_factor(
    session: Session, runtime: Runtime, user: User, otp: str | None, client_ip: str
) -> str | None:
    if not user.two_factor_enabled:
        return None
    try:
        return twofactor.verify(session, user, runtime.box, runtime.settings.signing_key(), otp)
    except twofactor.SecondFactorRequired as exc:
        if otp:
            LOGIN_FAILURES.inc()
            exc.audit = audit.refused(
                "auth.login_failed", actor=user, client_ip=client_ip,
                detail={"reason": "wrong two-factor code"},
            )  # fmt: skip
        raise


def create_user(
    session: Session,
    data: UserCreate,
    *,
    actor: User | None,
    client_ip: str,
    checks: passwords.PasswordChecks | None = None,
) -> User:
    if repository.by_email(session, data.email) is not None:
        raise Conflict(f"A user with the email {data.email} already exists")
    hashed = checks.hash(data.password) if checks else passwords.hash_password(data.password)
    user = User(
        email=data.email.lower(),
        password_hash=hashed,
        role=data.role.value,
        max_live_stores=data.max_live_stores,
        max_creations_per_hour=data.max_creations_per_hour,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A user with the email {data.email} already exists") from exc
    audit.record(
        session,
        "user.create",
        actor=actor,
        actor_email=None if actor else "host",
        target=f"user:{user.id}",
        detail={"role": user.role},
        client_ip=client_ip,
    )
    return user


def _refuse(message: str, actor: User, user: User, client_ip: str, why: str) -> Conflict:
    return Conflict(
        message,
        audit=audit.refused(
            "user.update", actor=actor, target=f"user:{user.id}", client_ip=client_ip,
            detail={"refused": why},
        ),
    )  # fmt: skip


def _check_admins_remain(
    session: Session, user: User, data: UserUpdate, actor: User, client_ip: str
) -> None:
    deactivating = data.is_active is False and user.is_active
    demoting = data.role is not None and data.role is not Role.admin and user.is_admin
    if deactivating and user.id == actor.id:
        raise _refuse(
            "You cannot deactivate your own account; another admin can",
            actor, user, client_ip, "deactivate self",
        )  # fmt: skip
    if not (deactivating or demoting) or not (user.is_admin and user.is_active):
        return
    if repository.lock_active_admins(session) == [user.id]:
        raise _refuse(
            f"{user.email} is the last active admin: make another user an admin first",
            actor, user, client_ip, "last active admin",
        )  # fmt: skip


def _check_current_password(runtime: Runtime, user: User, data: UserUpdate, client_ip: str) -> None:
    """One's own password changes only with the current one (a session left
    open must not be enough to take the account over). Wrong guesses count
    against the sign-in throttle."""

    def refuse(message: str) -> Forbidden:
        return Forbidden(
            message,
            audit=audit.refused(
                "user.update", actor=user, target=f"user:{user.id}", client_ip=client_ip,
                detail={"refused": "current password"},
            ),
        )  # fmt: skip

    if not data.current_password:
        raise refuse("Changing your own password needs your current password")
    runtime.throttle.attempt(user.email, client_ip)
    if not runtime.passwords.verify(user.password_hash, data.current_password):
        raise refuse("The current password is wrong")
    runtime.throttle.succeeded(user.email)


def update_user(
    session: Session,
    runtime: Runtime,
    user_id: int,
    data: UserUpdate,
    *,
    actor: User,
    client_ip: str,
) -> User:
    user = repository.by_id(session, user_id, for_update=True)
    if user is None:
        raise NotFound("User not found")
    _check_admins_remain(session, user, data, actor, client_ip)
    # Quotas may be set to null (back to the platform default); the other
    # fields are left alone when null.
    changes = data.model_dump(exclude_unset=True, exclude={"current_password"}, mode="json")
    if data.password is not None:
        if user.id == actor.id:
            _check_current_password(runtime, user, data, client_ip)
        user.password_hash = runtime.passwords.hash(data.password)
        changes["password"] = "changed"
    if data.is_active is not None:
        user.is_active = data.is_active
    if data.role is not None:
        user.role = data.role.value
    for field in ("max_live_stores", "max_creations_per_hour"):
        if field in data.model_fields_set:
            setattr(user, field, getattr(data, field))
    audit.record(
        session, "user.update", actor=actor, target=f"user:{user.id}", detail=changes,
        client_ip=client_ip,
    )  # fmt: skip
    return user


def ensure_admin(session: Session, email: str, password: str | None) -> str | None:
    """Create the first admin when there is none. Returns the password when one
    was generated (shown once by the caller), else None."""
    existing = repository.by_email(session, email)
    if existing is not None:
        if password is not None:
            existing.password_hash = passwords.hash_password(password)
        return None
    generated = None
    if password is None:
        password = generated = passwords.generate_password()
    session.add(
        User(email=email.lower(), password_hash=passwords.hash_password(password), role=Role.admin)
    )
    audit.record(
        session, "user.create", actor_email="host", target=email, detail={"role": "admin"},
        client_ip=audit.LOCAL,
    )  # fmt: skip
    return generated


def recover(session: Session, email: str, *, activate: bool, promote: bool, by: str) -> User:
    """Host-side recovery (``storefleet users activate|promote``): no API
    rules apply, since whoever runs it already holds the platform's host."""
    user = repository.by_email(session, email)
    if user is None:
        raise NotFound(f"No user {email}")
    changes: dict[str, object] = {}
    if activate and not user.is_active:
        user.is_active = True
        changes["is_active"] = True
    if promote and not user.is_admin:
        user.role = Role.admin.value
        changes["role"] = Role.admin.value
    audit.record(
        session, "user.update", actor_email=by, target=f"user:{user.id}",
        detail={**changes, "via": "host"}, client_ip=audit.LOCAL,
    )  # fmt: skip
    return user
