"""Shared fixtures: the real services the suites talk to, and settings.

A fixture that needs a service it cannot reach skips with the command that
starts it — except under ``CI=true``, where a required suite must never be
skipped silently: there it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from storefleet.config import Environment, Settings
from tests.ci import every_suite_required

REPO = Path(__file__).resolve().parents[1]

_getaddrinfo = socket.getaddrinfo


def _loopback_names(host: Any, *args: Any, **kwargs: Any) -> Any:
    """``localhost`` and ``*.localhost`` are this machine (RFC 6761), as
    browsers resolve them: stores answer at http://<name>.localhost:<port>/,
    and this machine's C library does not resolve those names."""
    if isinstance(host, str) and host.lower().endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_names


def not_here(why: str) -> NoReturn:
    """Skip a test this machine cannot run; under CI=true, fail it instead."""
    if every_suite_required():
        pytest.fail(f"required under CI=true: {why}", pytrace=False)
    pytest.skip(why)


def unavailable(why: str) -> NoReturn:
    not_here(f"{why} — start the services with `scripts/services.sh` (or `make test`)")


def _services_env() -> dict[str, str]:
    values: dict[str, str] = {}
    path = REPO / "var" / "services.env"
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    values.update({k: v for k, v in os.environ.items() if k.startswith("STOREFLEET_")})
    return values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable_server(variable: str, what: str) -> str:
    """The admin URL of a database server from var/services.env, once it answers."""
    url = _services_env().get(variable)
    if not url:
        unavailable(f"{what} is not configured (no {variable} in var/services.env)")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        unavailable(f"{what} at {make_url(url).host} is not reachable: {exc.orig}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def mariadb_admin_url() -> str:
    return _reachable_server("STOREFLEET_STORES_DB_URL", "MariaDB")


@pytest.fixture(scope="session")
def redis_base_url() -> str:
    url = _services_env().get("STOREFLEET_TEST_REDIS_URL")
    if not url:
        unavailable("Redis is not configured (no STOREFLEET_TEST_REDIS_URL in var/services.env)")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at 127.0.0.1:6379 is not reachable with its password: {exc}")
    return url


@pytest.fixture
def redis_url(redis_base_url: str) -> Iterator[str]:
    """A Redis database of its own (numbers 8 to 15), flushed before and after."""
    db = 8 + secrets.randbelow(8)
    url = f"{redis_base_url}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


def _scratch_database(admin_url: str, create: str, drop: str) -> Iterator[str]:
    """A database of its own on a server, dropped afterwards."""
    name = f"sftest_{secrets.token_hex(4)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(create.format(name=name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # PostgreSQL's FORCE may meet an autovacuum worker on the new database,
        # which only pg_signal_backend may end: it finishes in a moment.
        for attempt in Retrying(
            retry=retry_if_exception_type(ProgrammingError),
            wait=wait_fixed(1), stop=stop_after_attempt(20), reraise=True,
        ):  # fmt: skip
            with attempt, engine.connect() as conn:
                conn.execute(text(drop.format(name=name)))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    return _reachable_server("STOREFLEET_TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def platform_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The platform database, on each engine the suite must pass on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'platform.db'}"
    elif request.param == "mariadb":
        yield from _scratch_database(
            request.getfixturevalue("mariadb_admin_url"),
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
            "DROP DATABASE IF EXISTS `{name}`",
        )
    else:
        yield from _scratch_database(
            request.getfixturevalue("postgres_admin_url"),
            'CREATE DATABASE "{name}"',
            'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        )


@pytest.fixture
def s3_bucket() -> Iterator[dict[str, Any]]:
    """A bucket of its own on the S3 server scripts/services.sh runs, emptied
    and removed afterwards; yields the settings that point backups at it."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    env = _services_env()
    endpoint = env.get("STOREFLEET_TEST_S3_ENDPOINT")
    if not endpoint:
        unavailable("the S3 server is not configured (no STOREFLEET_TEST_S3_ENDPOINT)")
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=env["STOREFLEET_TEST_S3_ACCESS_KEY"],
        aws_secret_access_key=env["STOREFLEET_TEST_S3_SECRET_KEY"],
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"),
    )  # fmt: skip
    bucket = f"sftest-{secrets.token_hex(4)}"
    try:
        client.create_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError) as exc:
        unavailable(f"the S3 server at {endpoint} does not answer: {exc}")
    try:
        yield {
            "client": client,
            "bucket": bucket,
            "settings": {
                "backup_target": "s3",
                "backup_s3_endpoint": endpoint,
                "backup_s3_bucket": bucket,
                "backup_s3_access_key": env["STOREFLEET_TEST_S3_ACCESS_KEY"],
                "backup_s3_secret_key": env["STOREFLEET_TEST_S3_SECRET_KEY"],
            },
        }
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
        client.delete_bucket(Bucket=bucket)


#: Verified releases, shared by every test on this machine (fetched once).
TEST_RELEASES = Path("/var/tmp/storefleet-tests/releases")


def artifacts() -> str | None:
    """Where the suites take WordPress and WooCommerce from: STOREFLEET_ARTIFACTS,
    or the offline mirror beside the checkout (../shared/vendor), or None
    (the official download locations)."""
    if os.environ.get("STOREFLEET_ARTIFACTS"):
        return os.environ["STOREFLEET_ARTIFACTS"]
    for vendor in (REPO.parent / "shared" / "vendor", REPO.parent.parent / "shared" / "vendor"):
        if (vendor / "SHA256SUMS").is_file():
            return str(vendor)
    return None


@pytest.fixture
def sites_dir() -> Iterator[Path]:
    """Where this test's local stores live: outside pytest's 0700 temporary
    directories, because each store runs under a uid of its own and must
    reach its site."""
    root = Path("/var/tmp/storefleet-tests")
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o711)
    path = root / f"sites-{secrets.token_hex(4)}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_settings(tmp_path: Path, sites_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": Environment.test,
            "data_dir": tmp_path / "var",
            "sites_dir": sites_dir,
            "releases_dir": TEST_RELEASES,
            "artifacts": artifacts(),
            "secret_key": secrets.token_urlsafe(48),
            "stores_db_url": _services_env().get("STOREFLEET_STORES_DB_URL"),
            "stores_db_prefix": f"t{secrets.token_hex(3)}_",
            # Each platform's own nginx on a port of its own (never make up's).
            "stores_http_port": free_port(),
            # No standby stores unless a test is about the warm pool.
            "warm_pool_size": 0,
            "stores_https_port": free_port(),
        }
        values.update(overrides)
        return Settings(**values)

    return make
