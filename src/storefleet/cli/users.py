"""``storefleet users``: platform accounts, straight in this machine's
platform database (host-side recovery when nobody can sign in)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from storefleet.cli.apps import users_app
from storefleet.cli.host import existing_platform, read_password


@users_app.command("create")
def users_create(
    email: str,
    admin: Annotated[bool, typer.Option("--admin", help="Make an admin")] = False,
    max_live_stores: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Create a user; the password is read from the terminal (or stdin)."""
    from pydantic import ValidationError

    from storefleet.audit import service as audit
    from storefleet.auth import service
    from storefleet.auth.models import Role
    from storefleet.auth.schemas import UserCreate
    from storefleet.exceptions import StoreFleetError

    password = read_password()
    try:
        data = UserCreate(
            email=email,
            password=password,
            role=Role.admin if admin else Role.member,
            max_live_stores=max_live_stores,
        )
    except ValidationError as exc:
        typer.echo(f"error: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from exc
    runtime = existing_platform()
    try:
        with runtime.db.transaction() as session:
            user = service.create_user(session, data, actor=None, client_ip=audit.LOCAL)
            typer.echo(f"created {user.role} {user.email} (id {user.id})")
    except StoreFleetError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc


@users_app.command("list")
def users_list() -> None:
    """List users."""
    from storefleet.auth import repository

    runtime = existing_platform()
    with runtime.db.transaction(write=False) as session:
        rows, _total = repository.page(session, limit=10_000, offset=0)
        for u in rows:
            state = "active" if u.is_active else "disabled"
            typer.echo(f"{u.id:>5}  {u.email:<40} {u.role:<7} {state}")


def _host_actor() -> str:
    # Who ran a recovery command, for the audit log (no passwd entry needed).
    return f"host:{os.environ.get('USER') or f'uid {os.getuid()}'}"


@users_app.command("reset-password")
def users_reset_password(email: str) -> None:
    """Give a user a new generated password, printed once (host-side recovery)."""
    from storefleet.audit import service as audit
    from storefleet.auth import passwords, repository

    runtime = existing_platform()
    with runtime.db.transaction() as session:
        user = repository.by_email(session, email)
        if user is None:
            typer.echo(f"error: no user {email}", err=True)
            raise typer.Exit(1)
        password = passwords.generate_password()
        user.password_hash = passwords.hash_password(password)
        audit.record(
            session, "user.update", actor_email=_host_actor(), target=f"user:{user.id}",
            detail={"password": "reset", "via": "host"}, client_ip=audit.LOCAL,
        )  # fmt: skip
    typer.echo(f"new password for {email} (shown only now): {password}")


def _recover(email: str, *, activate: bool, promote: bool) -> None:
    from storefleet.auth import service
    from storefleet.exceptions import NotFound

    runtime = existing_platform()
    try:
        with runtime.db.transaction() as session:
            user = service.recover(
                session, email, activate=activate, promote=promote, by=_host_actor()
            )
            state = "active" if user.is_active else "disabled"
            typer.echo(f"{user.email}: {user.role}, {state}")
    except NotFound as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    finally:
        runtime.close()


@users_app.command("activate")
def users_activate(email: str) -> None:
    """Re-activate a disabled account (host-side recovery: API rules do not apply)."""
    _recover(email, activate=True, promote=False)


@users_app.command("promote")
def users_promote(
    email: str,
    activate: Annotated[bool, typer.Option(help="Also re-activate the account")] = True,
) -> None:
    """Make a user an admin, and active (host-side recovery when no admin can sign in)."""
    _recover(email, activate=activate, promote=True)


@users_app.command("reset-2fa")
def users_reset_2fa(email: str) -> None:
    """Turn a user's two-factor sign-in off and end their sign-ins (host-side
    recovery of a lost authenticator); they sign in with the password, and
    enrol again."""
    from storefleet.audit import service as audit
    from storefleet.auth import repository, sessions, twofactor

    runtime = existing_platform()
    try:
        with runtime.db.transaction() as session:
            user = repository.by_email(session, email)
            if user is None:
                typer.echo(f"error: no user {email}", err=True)
                raise typer.Exit(1)
            had = user.two_factor_enabled
            twofactor.turn_off(session, user)
            ended = sessions.revoke_all(session, user.id)
            audit.record(
                session, "user.update", actor_email=_host_actor(), target=f"user:{user.id}",
                detail={"two_factor": "reset", "sessions_ended": ended, "via": "host"},
                client_ip=audit.LOCAL,
            )  # fmt: skip
    finally:
        runtime.close()
    state = "reset" if had else "was not on; nothing to reset"
    typer.echo(f"two-factor sign-in for {email}: {state}")
