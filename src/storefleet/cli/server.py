"""Server commands: the schema, the first admin, and the platform's processes
(``api``, ``worker``, and ``up``, which runs both until Ctrl-C)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import SecretStr
from tenacity import RetryCallState, wait_exponential

from storefleet.cli.apps import app
from storefleet.cli.host import configure_logging, platform_runtime
from storefleet.config import DriverName, Settings, get_settings


@app.command()
def migrate() -> None:
    """Create or upgrade the platform database schema."""
    from storefleet.migrations import upgrade

    settings = get_settings()
    settings.ensure_data_dir()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(settings.effective_database_url)
    typer.echo("database schema is up to date")


@app.command("wait-for-schema")
def wait_for_schema(
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 600.0,
) -> None:
    """Wait until the platform database's schema is at this release's head
    (the migration Job's work): the API and worker pods run this first, so
    that they never serve or work on an older schema."""
    from storefleet.migrations import is_current

    settings = get_settings()
    started = time.monotonic()
    waited = False
    while not is_current(settings.effective_database_url):
        if not waited:
            typer.echo("waiting for the migration (the schema is not at this release's head)")
            waited = True
        if time.monotonic() - started > timeout:
            typer.echo(f"error: the schema is not current after {timeout:.0f} s", err=True)
            raise typer.Exit(1)
        time.sleep(2)
    typer.echo(f"database schema is current (waited {time.monotonic() - started:.0f} s)")


def _ensure_admin(settings: Settings) -> str | None:
    from storefleet.auth import service

    runtime = platform_runtime()
    pw = settings.admin_password.get_secret_value() if settings.admin_password else None
    with runtime.db.transaction() as session:
        generated = service.ensure_admin(session, settings.admin_email, pw)
    runtime.close()
    return generated


@app.command()
def bootstrap(
    admin_password_file: Annotated[
        Path | None,
        typer.Option(help="Read the first admin's password from this file (e.g. a mounted Secret)"),
    ] = None,
) -> None:
    """Migrate, and make sure the first admin exists with the configured
    password. Idempotent: deploy jobs run it on every release."""
    settings = get_settings()
    configure_logging(settings)
    migrate()
    password = None
    if admin_password_file is not None:
        password = admin_password_file.read_text().strip()
        if len(password) < 8:
            typer.echo(f"error: the password in {admin_password_file} is too short", err=True)
            raise typer.Exit(2)
        settings = settings.model_copy(update={"admin_password": SecretStr(password)})
    generated = _ensure_admin(settings)
    if generated:
        typer.echo(f"created admin {settings.admin_email}; password (shown only now): {generated}")
    else:
        typer.echo(f"admin {settings.admin_email} is in place")


@app.command()
def api() -> None:
    """Run the HTTP API (and the dashboard) in the foreground."""
    import uvicorn

    from storefleet.app import create_app
    from storefleet.runtime import Runtime
    from storefleet.web import server_options

    settings = get_settings()
    configure_logging(settings)
    uvicorn.run(
        create_app(Runtime(settings)),
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=5,
        **server_options(settings),
    )


@app.command()
def openapi() -> None:
    """Print the OpenAPI document (the dashboard's client is generated from it)."""
    from storefleet.app import create_app
    from storefleet.runtime import Runtime

    typer.echo(json.dumps(create_app(Runtime(get_settings())).openapi(), indent=2, sort_keys=True))


@app.command()
def worker() -> None:
    """Run a worker (store operations and the reconciler) in the foreground."""
    from storefleet.runtime import Runtime
    from storefleet.worker import run_worker

    settings = get_settings()
    configure_logging(settings)
    run_worker(Runtime(settings))


@app.command()
def up() -> None:
    """Migrate, create the first admin, and run API + worker until Ctrl-C.

    A part that ends by itself is started again (with a growing delay when
    it keeps ending); the stores keep serving meanwhile. On Ctrl-C the
    local stores' servers stop too; the next ``up`` brings the ready stores
    back."""
    settings = get_settings()
    configure_logging(settings)
    migrate()
    generated = _ensure_admin(settings)
    from storefleet.drivers import make_driver

    driver = make_driver(settings)
    driver.check()

    env = dict(os.environ)
    procs = {name: _Supervised(name, env) for name in ("api", "worker")}
    shown_host = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0") else settings.host
    url = f"http://{shown_host}:{settings.port}"
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        # Asked where it listens, not by the name shown: "localhost" may not
        # resolve on a minimal system.
        reach = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        api_proc = procs["api"].proc
        if not _wait_for_api(f"http://{reach}:{settings.port}", api_proc, lambda: stopping):
            if not stopping:
                typer.echo(
                    f"error: the API did not answer on {reach}:{settings.port} within 60 s "
                    "(its output is above); stopping",
                    err=True,
                )
            raise typer.Exit(1)
        print(_banner(settings, url, generated), flush=True)
        # A part that dies (the OOM killer, a bug) is started again; the
        # stores never depended on it and keep serving meanwhile.
        while not stopping:
            for child in procs.values():
                child.tend()
            time.sleep(0.2)
    finally:
        for child in procs.values():
            child.interrupt()
        for child in procs.values():
            child.wait(timeout=15)
        _stop_stores(settings, driver)


class _Supervised:
    """A platform process (``storefleet api`` or ``worker``) of ``up``, in a
    session of its own (Ctrl-C reaches only ``up``, which then stops the
    children once, in order), started again with a growing delay when it
    ends by itself."""

    #: A process that ran this long before it ended starts again at once.
    STEADY_SECONDS = 60.0

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.env = env
        self.failures = 0
        self.restart_at: float | None = None
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        self.started = time.monotonic()
        return subprocess.Popen(
            [sys.executable, "-m", "storefleet", self.name], env=self.env, start_new_session=True
        )

    def tend(self) -> None:
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restart_at = None
                self.proc = self._start()
                print(f"storefleet up: the {self.name} started again (pid {self.proc.pid})",
                      file=sys.stderr, flush=True)  # fmt: skip
            return
        code = self.proc.poll()
        if code is None:
            return
        self.failures = 1 if now - self.started > self.STEADY_SECONDS else self.failures + 1
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = self.failures
        delay = 0.5 if self.failures == 1 else _BACKOFF(state)
        how = f"signal {-code}" if code < 0 else f"exit {code}"
        print(f"storefleet up: the {self.name} ended ({how}); starting it again in {delay:.1f} s "
              "(the stores keep serving)", file=sys.stderr, flush=True)  # fmt: skip
        self.restart_at = now + delay

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()


#: Restarts of a process that keeps ending: 1 s, 2 s, 4 s … at most 30 s.
_BACKOFF = wait_exponential(multiplier=0.5, min=1, max=30)


def _banner(settings: Settings, url: str, generated: str | None) -> str:
    """What ``up`` prints once the API answers: where, and how to sign in."""
    banner = [
        "",
        f"  StoreFleet is running: {url}",
        f"  Sign in as {settings.admin_email}",
    ]
    if generated:
        banner.append(f"  Password (shown only now; save it): {generated}")
    elif settings.admin_password:
        banner.append("  Password: the one in STOREFLEET_ADMIN_PASSWORD")
    else:
        # The host command must read this platform's database: name its
        # data dir when it is not the default (make up's Kubernetes one).
        where = (
            f"STOREFLEET_DATA_DIR={settings.data_path} "
            if settings.database_url is None
            and settings.data_path.resolve() != Path("var").resolve()
            else ""
        )
        banner.append(
            "  Password: the one printed when the admin was created "
            f"(forgot it? {where}storefleet users reset-password {settings.admin_email})"
        )
    if settings.driver == DriverName.local:
        port = settings.stores_http_port
        netloc = f"<name>.{settings.public_host}" + ("" if port == 80 else f":{port}")
        banner.append(f"  Stores answer at http://{netloc}/")
    banner += [f"  API docs: {url}/api/docs", "  Stop with Ctrl-C.", ""]
    return "\n".join(banner)


def _wait_for_api(url: str, proc: subprocess.Popen[bytes], stopping: Callable[[], bool]) -> bool:
    """True once the API answers; False when it exited, did not answer in a
    minute, or Ctrl-C came first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not stopping():
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _stop_stores(settings: Settings, driver: Any) -> None:
    from sqlalchemy import select

    from storefleet.operations import snapshot_of
    from storefleet.stores.models import Phase, Store

    runtime = platform_runtime()
    with runtime.db.transaction(write=False) as session:
        stores = session.scalars(select(Store).where(Store.phase != Phase.deleted.value)).all()
        snapshots = [snapshot_of(s) for s in stores]
    driver.stop_all(snapshots)
    runtime.close()
    print(f"stopped {len(snapshots)} store server(s)", flush=True)
