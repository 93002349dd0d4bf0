from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from storefleet.config import Environment, Settings


def test_production_refuses_a_missing_or_weak_secret_key() -> None:
    with pytest.raises(ValidationError, match="STOREFLEET_SECRET_KEY"):
        Settings(env=Environment.production, admin_password="x" * 20, database_url="sqlite://")
    with pytest.raises(ValidationError, match="STOREFLEET_SECRET_KEY"):
        Settings(
            env=Environment.production,
            secret_key="short",
            admin_password="x" * 20,
            database_url="sqlite://",
        )


def test_production_refuses_a_missing_or_weak_admin_password() -> None:
    with pytest.raises(ValidationError, match="STOREFLEET_ADMIN_PASSWORD"):
        Settings(env=Environment.production, secret_key="k" * 40, database_url="sqlite://")
    with pytest.raises(ValidationError, match="STOREFLEET_ADMIN_PASSWORD"):
        Settings(
            env=Environment.production,
            secret_key="k" * 40,
            admin_password="admin",
            database_url="sqlite://",
        )


def test_production_with_strong_secrets_starts() -> None:
    s = Settings(
        env=Environment.production,
        secret_key="k" * 40,
        admin_password="a-strong-password",
        database_url="sqlite://",
    )
    assert s.signing_key() == "k" * 40


def test_development_generates_one_shared_key(tmp_path: Path) -> None:
    a = Settings(data_dir=tmp_path).signing_key()
    b = Settings(data_dir=tmp_path).signing_key()
    assert a == b and len(a) >= 32
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREFLEET_WORKER_CONCURRENCY", "7")
    monkeypatch.setenv("STOREFLEET_DRIVER", "kubernetes")
    s = Settings()
    assert s.worker_concurrency == 7
    assert s.driver.value == "kubernetes"
    monkeypatch.setenv("STOREFLEET_WORKER_CONCURRENCY", "0")
    with pytest.raises(ValidationError, match="worker_concurrency"):
        Settings()
