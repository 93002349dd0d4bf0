"""A database error never carries a secret into a step message, the API or
the logs: every engine that may bind one hides statement parameters."""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from storefleet.auth.models import User
from storefleet.config import Settings
from storefleet.drivers import storedb
from storefleet.drivers.base import Step, StepContext, StepOutcome, StoreDriver
from storefleet.operations import StoreOperator
from storefleet.runtime import Runtime
from storefleet.stores.models import Store, StoreStep
from tests.support import leave_nothing_behind, prepare


class _DatabaseOnly(StoreDriver):
    """The database step of both drivers, and nothing else."""

    name = "local"

    def __init__(self, databases: storedb.StoreDatabases, password: str) -> None:
        self.databases = databases
        self.password = password
        self.raised: list[BaseException] = []

    def provision_steps(self) -> Sequence[Step]:
        def database(ctx: StepContext) -> StepOutcome:
            try:
                n = self.databases.ensure(ctx.store.uid, self.password)
            except Exception as exc:
                self.raised.append(exc)
                raise
            return StepOutcome(f"database {n.database}")

        return (Step("database", database),)

    def delete_steps(self) -> Sequence[Step]:
        return ()


def test_a_failing_store_user_creation_shows_no_password(
    make_settings: Callable[..., Settings],
    mariadb_admin_url: str,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    password = "Pw-" + secrets.token_urlsafe(16)
    # A connection limit the server refuses: ALTER USER ... IDENTIFIED BY :pw
    # fails after the password was bound.
    settings = make_settings(stores_db_url=mariadb_admin_url, stores_db_max_connections=2**32)
    runtime = prepare(settings)
    databases = storedb.from_settings(settings, "test")
    with runtime.db.transaction() as session:
        owner = session.scalar(select(User.id))
        store = Store(owner_id=owner, name="db-error", live_name="db-error", driver="local",
                      admin_email="a@example.com", admin_password_enc=None)  # fmt: skip
        session.add(store)
        session.flush()
        store_id = store.id
    caplog.set_level(logging.DEBUG)
    driver = _DatabaseOnly(databases, password)
    try:
        StoreOperator(runtime, driver).operate(store_id)
        with runtime.db.transaction(write=False) as session:
            step = select(StoreStep.message).where(StoreStep.store_id == store_id)
            message = session.scalar(step)
            reason = session.scalar(select(Store.failure_reason).where(Store.id == store_id))
        # The step says what went wrong...
        assert message and "1064" in message, message
        # ...but nowhere the password: the step and the store's failure (both
        # shown by the API), the traceback a worker would log with its cause
        # (the database error and its statement), the log records.
        (error,) = driver.raised
        logged = "".join(traceback.format_exception(error))
        assert "ALTER USER" in logged and "parameters hidden" in logged
        for where, found in (
            ("step", message), ("reason", reason or ""), ("traceback", logged),
            ("log", caplog.text),
        ):  # fmt: skip
            assert password not in found, where
    finally:
        databases.dispose()
        leave_nothing_behind([tmp_path / "none"], mariadb_admin_url, settings.stores_db_prefix)
        runtime.close()


def test_the_platform_engine_hides_parameters(make_settings: Callable[..., Settings]) -> None:
    runtime = Runtime(make_settings())
    secret = "Secret-" + secrets.token_hex(8)
    with pytest.raises(DBAPIError) as raised, runtime.db.engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE x = :secret"), {"secret": secret})
    assert secret not in str(raised.value)
    runtime.close()
