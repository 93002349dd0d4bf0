from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from storefleet.config import Environment, Settings
from tests.conftest import REPO


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


def _documented(env: str, rows: list[str]) -> bool:
    """In a row of the README's table, by its full name or as the table
    shortens a group (`STOREFLEET_X_MIN` / `_MAX`, `…_PER_ADDRESS`)."""
    parts = env.split("_")
    for row in rows:
        if f"`{env}`" in row:
            return True
        for i in range(2, len(parts)):
            prefix, suffix = "_".join(parts[:i]), "_".join(parts[i:])
            if f"`{prefix}_" in row and (f"`_{suffix}`" in row or f"`…_{suffix}`" in row):
                return True
    return False


def test_every_setting_is_in_the_readmes_configuration_table() -> None:
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Configuration") : readme.index("## Architecture")]
    rows = [row for row in table.splitlines() if row.startswith("| `STOREFLEET_")]
    missing = [
        f"STOREFLEET_{name.upper()}"
        for name in Settings.model_fields
        if not _documented(f"STOREFLEET_{name.upper()}", rows)
    ]
    assert not missing, f"settings missing from README.md's Configuration table: {missing}"
