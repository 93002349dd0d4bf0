"""The ``storefleet`` command line.

Server commands (``up``, ``api``, ``worker``, ``migrate``, ``users``) act on
this machine's platform; ``login`` and ``stores`` talk to a running API over
HTTP, like any other client.
"""

from __future__ import annotations

import getpass
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

from storefleet.config import Settings, get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
users_app = typer.Typer(no_args_is_help=True, help="Manage platform users (on this machine).")
stores_app = typer.Typer(no_args_is_help=True, help="Manage stores through the API.")
app.add_typer(users_app, name="users")
releases_app = typer.Typer(
    no_args_is_help=True, help="The pinned WordPress and WooCommerce releases (on this machine)."
)
app.add_typer(stores_app, name="stores")
app.add_typer(releases_app, name="releases")
fleet_app = typer.Typer(no_args_is_help=True, help="Fleet upgrades through the API (admins).")
app.add_typer(fleet_app, name="fleet")

_CREDENTIALS = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "storefleet"


def _logging(settings: Settings) -> None:
    from storefleet.logs import configure

    configure(settings)


def _runtime() -> Any:
    from storefleet.runtime import Runtime

    return Runtime(get_settings())


def _existing_platform() -> Any:
    """The runtime of a platform that has run before (the host commands that
    read its users). A relative data dir ("var") read from another directory
    would create an empty SQLite file there and fail on its tables: say so."""
    settings = get_settings()
    db = settings.data_path / "storefleet.db"
    if settings.database_url is None and not db.exists():
        typer.echo(
            f"error: no platform database at {db}; run this from the checkout "
            "(where `make up` runs) or set STOREFLEET_DATA_DIR / STOREFLEET_DATABASE_URL",
            err=True,
        )
        raise typer.Exit(1)
    return _runtime()


# -- server commands ---------------------------------------------------------


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

    runtime = _runtime()
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
    _logging(settings)
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
    _logging(settings)
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
    _logging(settings)
    run_worker(Runtime(settings))


@app.command()
def up() -> None:
    """Migrate, create the first admin, and run API + worker until Ctrl-C.

    On exit the local stores' PHP servers stop too; the next ``up`` brings the
    ready stores back."""
    settings = get_settings()
    _logging(settings)
    migrate()
    generated = _ensure_admin(settings)
    from storefleet.drivers import make_driver

    driver = make_driver(settings)
    driver.check()

    env = dict(os.environ)
    procs = {
        # Own sessions: Ctrl-C reaches only this process, which then stops the
        # children once, in order (a second SIGINT would cut their shutdown short).
        name: subprocess.Popen(
            [sys.executable, "-m", "storefleet", name], env=env, start_new_session=True
        )
        for name in ("api", "worker")
    }
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
        if not _wait_for_api(f"http://{reach}:{settings.port}", procs["api"], lambda: stopping):
            if not stopping:
                typer.echo(
                    f"error: the API did not answer on {reach}:{settings.port} within 60 s "
                    "(its output is above); stopping",
                    err=True,
                )
            raise typer.Exit(1)
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
        banner += [f"  API docs: {url}/api/docs", "  Stop with Ctrl-C.", ""]
        print("\n".join(banner), flush=True)
        while not stopping and all(p.poll() is None for p in procs.values()):
            time.sleep(0.2)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        _stop_stores(settings, driver)
    failed = [n for n, p in procs.items() if p.returncode not in (0, -signal.SIGINT, 130)]
    if failed and not stopping:
        raise typer.Exit(1)


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

    from storefleet.provisioning import snapshot_of
    from storefleet.stores.models import Phase, Store

    runtime = _runtime()
    with runtime.db.transaction(write=False) as session:
        stores = session.scalars(select(Store).where(Store.phase != Phase.deleted.value)).all()
        snapshots = [snapshot_of(s) for s in stores]
    driver.stop_all(snapshots)
    runtime.close()
    print(f"stopped {len(snapshots)} store server(s)", flush=True)


# -- users -------------------------------------------------------------------


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

    password = _read_password()
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
    runtime = _existing_platform()
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

    runtime = _existing_platform()
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

    runtime = _existing_platform()
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

    runtime = _existing_platform()
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


def _read_password(prompt: str = "Password: ") -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")


# -- API client commands -----------------------------------------------------


def _api_url() -> str:
    return os.environ.get("STOREFLEET_API_URL", f"http://localhost:{get_settings().port}")


def _token() -> str:
    token = os.environ.get("STOREFLEET_TOKEN")
    if token:
        return token
    path = _CREDENTIALS / "token.json"
    if not path.exists():
        typer.echo("error: not signed in; run `storefleet login EMAIL` first", err=True)
        raise typer.Exit(1)
    return str(json.loads(path.read_text())["access_token"])


def _request(method: str, path: str, **kwargs: Any) -> Any:
    if kwargs.get("json") is None:
        kwargs.pop("json", None)
    resp = _http(method, path, headers={"Authorization": f"Bearer {_token()}"}, **kwargs)
    if resp.status_code >= 400:
        detail = (
            resp.json().get("detail")
            if resp.headers.get("content-type", "").startswith("application/json")
            else resp.text
        )
        if isinstance(detail, list):
            detail = "; ".join(d.get("msg", str(d)) for d in detail)
        typer.echo(f"error ({resp.status_code}): {detail}", err=True)
        raise typer.Exit(1)
    return resp.json()


def _http(method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request to the API; one line and exit 1 when it cannot be reached."""
    try:
        return httpx.request(method, _api_url() + path, timeout=30, **kwargs)
    except httpx.HTTPError as exc:
        typer.echo(
            f"error: cannot reach the API at {_api_url()}: {exc} "
            "(STOREFLEET_API_URL names the platform's address)",
            err=True,
        )
        raise typer.Exit(1) from exc


@app.command()
def login(email: str) -> None:
    """Sign in to the API; the token is kept in ~/.config/storefleet (0600)."""
    password = _read_password()
    resp = _http("POST", "/api/auth/login", json={"email": email, "password": password})
    if resp.status_code != 200:
        typer.echo(f"error ({resp.status_code}): {resp.json().get('detail')}", err=True)
        raise typer.Exit(1)
    _CREDENTIALS.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = _CREDENTIALS / "token.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(resp.json(), f)
    typer.echo(f"signed in as {email}")


def _print_store(s: dict[str, Any]) -> None:
    step = f" ({s['current_step']})" if s.get("current_step") else ""
    typer.echo(f"{s['id']:>5}  {s['name']:<40} {s['status']}{step}  {s.get('url') or ''}")


def _find(name_or_id: str) -> dict[str, Any]:
    if name_or_id.isdigit():
        return dict(_request("GET", f"/api/stores/{name_or_id}"))
    # A live store first; else the newest deleted one of that name (its
    # final backup is still listed).
    for include_deleted in (False, True):
        params = {"limit": 500, "include_deleted": include_deleted}
        for s in _request("GET", "/api/stores", params=params)["items"]:
            if s["name"] == name_or_id:
                return dict(_request("GET", f"/api/stores/{s['id']}"))
    typer.echo(f"error: no store named {name_or_id}", err=True)
    raise typer.Exit(1)


@stores_app.command("list")
def stores_list(
    all_: Annotated[bool, typer.Option("--all", help="Include deleted")] = False,
) -> None:
    """List your stores (admins: all stores), newest first."""
    page = _request("GET", "/api/stores", params={"limit": 500, "include_deleted": all_})
    for s in page["items"]:
        _print_store(s)
    typer.echo(f"{page['total']} store(s)")


@stores_app.command("create")
def stores_create(
    name: str,
    admin_email: Annotated[str, typer.Option(help="The store admin's email")],
    sample_products: Annotated[
        bool, typer.Option(help="Start the shop with WooCommerce's sample products")
    ] = True,
    wait: Annotated[bool, typer.Option(help="Wait until ready")] = False,
) -> None:
    """Create a store. The admin password is generated and printed once."""
    body = {"name": name, "admin_email": admin_email, "sample_products": sample_products}
    s = _request("POST", "/api/stores", json=body)
    _print_store(s)
    if s.get("admin_password"):
        typer.echo(f"admin password (shown only now): {s['admin_password']}")
    if wait:
        _wait(s, "ready", 600, shown=s)


@stores_app.command("show")
def stores_show(store: str) -> None:
    """Show a store with its steps."""
    s = _find(store)
    _print_store(s)
    if s.get("failure_reason"):
        typer.echo(f"failure: {s['failure_reason']}")
    for st in s["steps"]:
        typer.echo(
            f"   {st['operation']:<9} {st['name']:<12} {st['status']:<10} "
            f"try {st['attempt']}  {st.get('message') or ''}"
        )


@stores_app.command("delete")
def stores_delete(store: str, wait: Annotated[bool, typer.Option()] = False) -> None:
    """Delete a store (in any phase)."""
    s = _find(store)
    deleting = _request("DELETE", f"/api/stores/{s['id']}")
    _print_store(deleting)
    if wait:
        _wait(s, "deleted", 600, shown=deleting)


@stores_app.command("wait")
def stores_wait(
    store: str,
    until: Annotated[str, typer.Option(help="ready or deleted")] = "ready",
    timeout: Annotated[float, typer.Option(help="Seconds")] = 600,
) -> None:
    """Wait until a store is ready (or deleted); exit 1 if it fails."""
    _wait(_find(store), until, timeout)


def _state(s: dict[str, Any]) -> tuple[str, str | None]:
    return (s["status"], s.get("current_step"))


def _wait(
    s: dict[str, Any], until: str, timeout: float, shown: dict[str, Any] | None = None
) -> None:
    """Print each new state of store ``s`` (``shown`` is printed already)."""
    deadline = time.monotonic() + timeout
    last = _state(shown) if shown else None
    while time.monotonic() < deadline:
        s = dict(_request("GET", f"/api/stores/{s['id']}"))
        state = _state(s)
        if state != last:
            _print_store(s)
            last = state
        if s["status"] == until:
            return
        if s["status"] == "failed":
            typer.echo(f"failed: {s.get('failure_reason')}", err=True)
            raise typer.Exit(1)
        time.sleep(1)
    typer.echo("timed out", err=True)
    raise typer.Exit(1)


@stores_app.command("smoke-test")
def stores_smoke_test(
    store: str,
    admin_user: Annotated[str, typer.Option(help="The store's WordPress admin")] = "admin",
) -> None:
    """Place a Cash-on-Delivery order through the WooCommerce Store API and
    confirm it through the REST API as the store admin (password from the
    terminal, stdin, or STOREFLEET_STORE_ADMIN_PASSWORD). Exit 3: no WooCommerce."""
    from storefleet import smoke

    s = _find(store)
    if s["status"] != "ready" or not s.get("url"):
        typer.echo(f"error: store {s['name']} is {s['status']}, not ready", err=True)
        raise typer.Exit(1)
    password = os.environ.get("STOREFLEET_STORE_ADMIN_PASSWORD") or _read_password(
        "The store admin's password: "
    )
    try:
        order = smoke.run(s["url"], admin_user, password)
    except smoke.WooCommerceMissing as exc:
        typer.echo(f"skipped: {exc}", err=True)
        raise typer.Exit(3) from exc
    except (smoke.SmokeTestError, httpx.HTTPError) as exc:
        typer.echo(f"failed: {s['url']}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"order {order.order_id} placed and confirmed: {order.status}, "
        f"{order.payment_method}, total {order.total}"
    )


@stores_app.command("backup")
def stores_backup(
    store: str, wait: Annotated[bool, typer.Option(help="Wait until it is taken")] = False
) -> None:
    """Take a backup of a store now."""
    s = _find(store)
    backup = _request("POST", f"/api/stores/{s['id']}/backups")
    typer.echo(f"backup {backup['id']} of {s['name']}: {backup['status']}")
    deadline = time.monotonic() + 3600
    while wait and backup["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(1)
        items = _request("GET", f"/api/stores/{s['id']}/backups")["items"]
        backup = next(b for b in items if b["id"] == backup["id"])
    if wait:
        size = f", {backup['size_bytes'] / (1 << 20):.1f} MiB" if backup.get("size_bytes") else ""
        typer.echo(f"backup {backup['id']}: {backup['status']}{size}")
        if backup["status"] != "completed":
            typer.echo(f"failed: {backup.get('failure_reason')}", err=True)
            raise typer.Exit(1)


@stores_app.command("backups")
def stores_backups(store: str) -> None:
    """List a store's backups, newest first."""
    s = _find(store)
    for b in _request("GET", f"/api/stores/{s['id']}/backups")["items"]:
        size = f"{b['size_bytes'] / (1 << 20):8.1f} MiB" if b.get("size_bytes") else " " * 12
        versions = f"WP {b.get('wordpress_version')}, WC {b.get('woocommerce_version')}"
        typer.echo(
            f"{b['id']:>6}  {b['created_at'][:19]}  {b['kind']:<9} {b['status']:<10} {size}  "
            + (versions if b["status"] == "completed" else b.get("failure_reason") or "")
        )


def _operation(store_id: int, path: str, body: dict[str, Any] | None, wait: bool) -> None:
    op = _request("POST", f"/api/stores/{store_id}/{path}", json=body)
    typer.echo(f"{op['kind']} {op['id']}: {op['status']}")
    deadline = time.monotonic() + 3600
    while wait and op["status"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(1)
        ops = _request("GET", f"/api/stores/{store_id}/operations", params={"limit": 20})
        op = next(o for o in ops if o["id"] == op["id"])
    if wait:
        typer.echo(f"{op['kind']} {op['id']}: {op['status']}")
        if op["status"] != "succeeded":
            typer.echo(f"failed: {op.get('failure_reason')}", err=True)
            raise typer.Exit(1)


@stores_app.command("restore")
def stores_restore(
    store: str, backup_id: int, wait: Annotated[bool, typer.Option()] = False
) -> None:
    """Restore a store from one of its backups."""
    _operation(_find(store)["id"], "restore", {"backup_id": backup_id}, wait)


@stores_app.command("suspend")
def stores_suspend(store: str, wait: Annotated[bool, typer.Option()] = False) -> None:
    """Suspend a store: it keeps its data and answers “store unavailable”."""
    _operation(_find(store)["id"], "suspend", None, wait)


@stores_app.command("resume")
def stores_resume(store: str, wait: Annotated[bool, typer.Option()] = False) -> None:
    """Resume a suspended store."""
    _operation(_find(store)["id"], "resume", None, wait)


# -- fleet ---------------------------------------------------------------------


def _print_fleet(u: dict[str, Any]) -> None:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(u["counts"].items()))
    progress = f"waves {u['waves']}, wave {u['current_wave'] + 1}; {counts}"
    typer.echo(
        f"fleet upgrade {u['id']}: {u['status']} — WordPress {u['previous_wordpress']} → "
        f"{u['wordpress']}, WooCommerce {u['previous_woocommerce']} → {u['woocommerce']}; "
        + (progress if counts else "no store to upgrade")
    )
    if u.get("halted_reason"):
        typer.echo(f"halted: {u['halted_reason']}")


@fleet_app.command("upgrade")
def fleet_upgrade(
    wordpress: Annotated[str | None, typer.Option(help="A pinned WordPress version")] = None,
    woocommerce: Annotated[str | None, typer.Option(help="A pinned WooCommerce version")] = None,
    waves: Annotated[
        str | None, typer.Option(help='Comma-separated wave sizes, e.g. "1,25%,rest" (default)')
    ] = None,
    wait: Annotated[bool, typer.Option(help="Follow its progress until it ends")] = True,
) -> None:
    """Upgrade every store to pinned releases, in waves; each store is backed
    up, upgraded and must take a real order, or it is restored and the
    upgrade halts. Exit 1 if it halts."""
    body: dict[str, Any] = {"wordpress": wordpress, "woocommerce": woocommerce}
    if waves:
        body["waves"] = [w.strip() for w in waves.split(",") if w.strip()]
    u = _request("POST", "/api/fleet/upgrades", json=body)
    if wait:  # each store's progress, then the summary
        fleet_status(str(u["id"]), follow=True)
    else:
        _print_fleet(u)


@fleet_app.command("status")
def fleet_status(
    upgrade_id: Annotated[str, typer.Argument(help="A fleet upgrade id, or 'latest'")] = "latest",
    follow: Annotated[bool, typer.Option(help="Follow until it ends")] = False,
) -> None:
    """Show a fleet upgrade and each store's progress."""
    if upgrade_id == "latest":
        items = _request("GET", "/api/fleet/upgrades", params={"limit": 1})["items"]
        if not items:
            typer.echo("no fleet upgrade yet")
            return
        upgrade_id = str(items[0]["id"])
    shown: dict[int, tuple[str, str | None]] = {}
    while True:
        u = _request("GET", f"/api/fleet/upgrades/{upgrade_id}")
        for st in u["stores"]:
            state = (st["status"], st.get("current_step"))
            if shown.get(st["store_id"]) != state:
                shown[st["store_id"]] = state
                step = f" ({st['current_step']})" if st.get("current_step") else ""
                took = f" in {st['duration_seconds']:.0f}s" if st.get("duration_seconds") else ""
                typer.echo(
                    f"  wave {st['wave'] + 1}  {st['name']:<30} {st['status']}{step}{took}"
                    + (f": {st['failure_reason']}" if st.get("failure_reason") else "")
                )
        if not follow or u["status"] != "running":
            break
        time.sleep(2)
    _print_fleet(u)
    if u["status"] == "halted":
        raise typer.Exit(1)


@fleet_app.command("releases")
def fleet_releases() -> None:
    """The releases new stores get, and every pinned release."""
    r = _request("GET", "/api/fleet/releases")
    typer.echo(f"new stores get WordPress {r['wordpress']} and WooCommerce {r['woocommerce']}")
    for product, versions in r["known"].items():
        typer.echo(f"  pinned {product}: {', '.join(versions)}")


# -- releases ------------------------------------------------------------------


def _release_cache(settings: Settings) -> Any:
    from storefleet.releases import ReleaseCache

    return ReleaseCache(
        settings.releases_path, settings.artifacts, max_bytes=settings.download_max_bytes
    )


@releases_app.command("show")
def releases_show() -> None:
    """Print the pinned releases, which one new stores get, and what is cached."""
    from storefleet import releases

    cache = _release_cache(get_settings())
    cur = releases.current()
    for product in releases.PRODUCTS:
        for rel in releases.known(product):
            mark = "current" if cur[product] == rel.version else "       "
            cached = "cached" if cache.is_cached(rel) else "-"
            typer.echo(f"{mark}  {rel.title:<20} {rel.file:<26} {cached:<6}  {rel.tree_sha256}")


@releases_app.command("fetch")
def releases_fetch(
    products: Annotated[
        list[str] | None, typer.Argument(help="wordpress, woocommerce (default: both)")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="A pinned version (default: the current one)")
    ] = None,
) -> None:
    """Fetch and verify releases into the cache; print each verified tree's path."""
    from storefleet import releases

    cache = _release_cache(get_settings())
    for product in products or list(releases.PRODUCTS):
        try:
            rel = releases.pinned(product, version)  # type: ignore[arg-type]
            typer.echo(cache.fetch(rel))
        except releases.ReleaseError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc


@releases_app.command("digest")
def releases_digest(
    archive: Path,
    top: Annotated[str, typer.Option(help="The directory the archive unpacks to")],
    ignore: Annotated[
        list[str] | None,
        typer.Option(help="A file a mirror adds, relative to --top, as in pins.json's 'ignore'"),
    ] = None,
) -> None:
    """Print the tree digest of an archive, to pin a new release in pins.json."""
    import tempfile

    from storefleet.releases.archives import ArchiveError, file_sha256, tree_digest, unpack

    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            unpack(archive, Path(tmp), max_bytes=settings.download_max_bytes)
            digest, count = tree_digest(Path(tmp) / top, ignore=frozenset(ignore or ()))
        except ArchiveError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(
        json.dumps(
            {"tree_sha256": digest, "files": count, "archive_sha256": [file_sha256(archive)]},
            indent=1,
        )
    )


def main() -> None:
    # What the platform writes (its SQLite files, logs, caches) is its own;
    # what stores must read is given its mode explicitly.
    os.umask(0o077)
    app()
