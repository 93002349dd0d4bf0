"""The local driver: each store is a PHP server process on this machine,
serving its own copy of WordPress, with its own database and user on a local
MySQL/MariaDB server.

A store lives in ``<data_dir>/stores/<id>/``:

    secrets.json   database password and WordPress salts (0600, made once)
    site/          the WordPress tree (core files hard-linked from the source,
                   wp-content and wp-config.php the store's own)
    php.log        the PHP server's output

The PHP server runs in its own session (process group), so a worker that dies
does not take the stores with it; the reconciler restarts a ready store whose
server is gone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

from storefleet.config import Settings
from storefleet.drivers import storedb
from storefleet.drivers.base import (
    PermanentError,
    Step,
    StepContext,
    StepOutcome,
    StoreDriver,
    StoreSnapshot,
    SupervisionReport,
    TransientError,
)
from storefleet.drivers.storedb import StoreDatabases
from storefleet.drivers.verify import check_storefront
from storefleet.names import require_valid_store_name

log = logging.getLogger(__name__)

_INSTALLER = Path(__file__).parent / "php" / "storefleet-install.php"
_SALTS = (
    "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
    "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT",
)  # fmt: skip
_ADMIN_USER = "admin"


def _php_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _write_private(path: Path, content: str) -> None:
    """Write a file only its owner can read, atomically."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    tmp.replace(path)


def _link_or_copy(src: str, dst: str) -> None:
    # Link the file itself, never a symlink to it: PHP resolves __DIR__
    # through symlinks, and the store would load the source's wp-config.php.
    src = os.path.realpath(src)
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed: copy instead
        shutil.copy2(src, dst)


class LocalDriver(StoreDriver):
    name = "local"

    def __init__(self, settings: Settings, databases: StoreDatabases | None = None) -> None:
        self.settings = settings
        self.databases = databases or storedb.from_settings(settings, "local")
        db_url = urlsplit(settings.stores_db_url or "mysql://127.0.0.1:3306/")
        self._db_host = f"{db_url.hostname or '127.0.0.1'}:{db_url.port or 3306}"

    # -- the contract -----------------------------------------------------

    def provision_steps(self) -> Sequence[Step]:
        return (
            Step("secrets", self._secrets),
            Step("endpoint", self._endpoint),
            Step("database", self._database),
            Step("files", self._files),
            Step("install", self._install, consumes_admin_password=True),
            Step("woocommerce", self._woocommerce),
            Step("server", self._server),
            Step("verify", self._verify),
        )

    def delete_steps(self) -> Sequence[Step]:
        return (
            Step("server", self._stop_server),
            Step("files", self._remove_files),
            Step("database", self._drop_database),
            Step("endpoint", self._release_endpoint),
        )

    def check(self) -> None:
        if shutil.which(self.settings.php_binary) is None:
            raise PermanentError(
                f"PHP ({self.settings.php_binary}) was not found: install php-cli and php-mysql"
            )
        if not (self.settings.wordpress_source / "wp-settings.php").is_file():
            raise PermanentError(
                f"No WordPress at {self.settings.wordpress_source} "
                "(set STOREFLEET_WORDPRESS_SOURCE, or install Debian's wordpress package)"
            )
        self.databases.ping()

    def supervise(self, ready: Sequence[StoreSnapshot]) -> SupervisionReport:
        report = SupervisionReport()
        running = self._running_servers()  # one process scan per sweep, not per store
        for store in ready:
            if store.port is None or not self._site(store).is_dir():
                continue
            if running.get(str(self._site(store))):
                continue
            try:
                self._start_server(store, deadline=time.monotonic() + 15)
            except TransientError as exc:
                report.failed[store.id] = str(exc)
            else:
                report.restarted[store.id] = f"Restarted the PHP server on port {store.port}"
        return report

    def stop_all(self, stores: Sequence[StoreSnapshot]) -> None:
        running = self._running_servers()
        for store in stores:
            self._kill(running.get(str(self._site(store)), []))

    # -- paths and processes ----------------------------------------------

    def store_dir(self, store: StoreSnapshot) -> Path:
        require_valid_store_name(store.name)
        return self.settings.stores_path / str(int(store.id))

    def _site(self, store: StoreSnapshot) -> Path:
        return self.store_dir(store) / "site"

    @staticmethod
    def _running_servers() -> dict[str, list[psutil.Process]]:
        """PHP built-in servers by document root (leaders only, not the worker
        children PHP forks)."""
        found: dict[str, list[psutil.Process]] = {}
        for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
            cmd = proc.info["cmdline"] or []
            if "-S" in cmd and "-t" in cmd and cmd.index("-t") + 1 < len(cmd):
                found.setdefault(cmd[cmd.index("-t") + 1], []).append(proc)
        for root, procs in found.items():
            pids = {p.pid for p in procs}
            found[root] = [p for p in procs if p.info["ppid"] not in pids]
        return found

    def _servers(self, store: StoreSnapshot) -> list[psutil.Process]:
        """The PHP server processes serving this store."""
        return self._running_servers().get(str(self._site(store)), [])

    def _kill(self, procs: list[psutil.Process]) -> None:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        _gone, alive = psutil.wait_procs(procs, timeout=5)
        for proc in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)

    def _url(self, port: int) -> str:
        return f"http://{self.settings.public_host}:{port}/"

    # -- provisioning steps -----------------------------------------------

    def _secrets(self, ctx: StepContext) -> StepOutcome:
        path = self.store_dir(ctx.store) / "secrets.json"
        if path.exists():
            return StepOutcome("kept the existing secrets")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        values = {"db_password": secrets.token_urlsafe(24)}
        values.update({salt: secrets.token_urlsafe(48) for salt in _SALTS})
        _write_private(path, json.dumps(values))
        return StepOutcome("generated the database password and WordPress salts")

    def _load_secrets(self, store: StoreSnapshot) -> dict[str, str]:
        path = self.store_dir(store) / "secrets.json"
        try:
            data: dict[str, str] = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise PermanentError(f"the store's secrets file {path} is missing") from exc
        return data

    def _endpoint(self, ctx: StepContext) -> StepOutcome:
        if ctx.store.port is not None:
            return StepOutcome(f"kept port {ctx.store.port}")
        s = self.settings
        for _ in range(50):
            port = secrets.randbelow(s.store_port_max - s.store_port_min + 1) + s.store_port_min
            if not _port_free(s.store_bind_host, port):
                continue
            url = self._url(port)
            # Raises TransientError when another store took the port meanwhile.
            ctx.record(port=port, url=url, admin_url=url + "wp-admin/")
            return StepOutcome(f"port {port}: {url}")
        raise TransientError("no free port found in the store port range")

    def _database(self, ctx: StepContext) -> StepOutcome:
        password = self._load_secrets(ctx.store)["db_password"]
        n = self.databases.ensure(ctx.store.id, password)
        return StepOutcome(f"database {n.database} and user {n.user} (tables {n.table_prefix}*)")

    def _files(self, ctx: StepContext) -> StepOutcome:
        src = self.settings.wordpress_source
        if not (src / "wp-settings.php").is_file():
            raise PermanentError(f"no WordPress at {src} (STOREFLEET_WORDPRESS_SOURCE)")
        site = self._site(ctx.store)
        if not (site / "wp-settings.php").is_file():
            tmp = site.with_name(f"site.tmp-{secrets.token_hex(4)}")
            self._copy_wordpress(src, tmp)
            if site.exists():
                shutil.rmtree(site)
            tmp.rename(site)
        self._write_wp_config(ctx.store, site)
        return StepOutcome(f"WordPress from {src} in {site}")

    def _copy_wordpress(self, src: Path, dst: Path) -> None:
        dst.mkdir(parents=True)
        for entry in src.iterdir():
            if entry.name in ("wp-config.php", ".htaccess", "wp-content"):
                continue
            target = dst / entry.name
            if entry.is_dir():
                # Core code is shared read-only through hard links (file edits
                # and updates are disabled in wp-config.php).
                shutil.copytree(entry, target, copy_function=_link_or_copy)
            elif entry.is_file():
                _link_or_copy(str(entry), str(target))
        content = dst / "wp-content"
        content.mkdir()
        for sub in ("themes", "plugins"):
            if (src / "wp-content" / sub).is_dir():
                shutil.copytree(src / "wp-content" / sub, content / sub, symlinks=False)
            else:
                (content / sub).mkdir()
        (content / "uploads").mkdir()

    def _write_wp_config(self, store: StoreSnapshot, site: Path) -> None:
        if store.url is None:
            raise PermanentError("the store has no URL yet (the endpoint step did not run)")
        sec = self._load_secrets(store)
        n = self.databases.names(store.id)
        url = store.url.rstrip("/")
        lines = [
            "<?php",
            "// Written by StoreFleet for store "
            + str(int(store.id))
            + "; rewritten on re-provisioning.",
            f"define('DB_NAME', {_php_string(n.database)});",
            f"define('DB_USER', {_php_string(n.user)});",
            f"define('DB_PASSWORD', {_php_string(sec['db_password'])});",
            f"define('DB_HOST', {_php_string(self._db_host)});",
            "define('DB_CHARSET', 'utf8mb4');",
            "define('DB_COLLATE', '');",
            *(f"define('{salt}', {_php_string(sec[salt])});" for salt in _SALTS),
            f"$table_prefix = {_php_string(n.table_prefix)};",
            f"define('WP_HOME', {_php_string(url)});",
            f"define('WP_SITEURL', {_php_string(url)});",
            # No calls out to the internet (none is reachable from many hosts,
            # and each would stall a page), no cron over loopback HTTP, no
            # self-updates of the shared core files.
            "define('WP_HTTP_BLOCK_EXTERNAL', true);",
            "define('DISABLE_WP_CRON', true);",
            "define('AUTOMATIC_UPDATER_DISABLED', true);",
            "define('WP_AUTO_UPDATE_CORE', false);",
            "define('DISALLOW_FILE_EDIT', true);",
            "define('FS_METHOD', 'direct');",
            "if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }",
            "require_once ABSPATH . 'wp-settings.php';",
            "",
        ]
        _write_private(site / "wp-config.php", "\n".join(lines))

    def _run_installer(self, ctx: StepContext, request: dict[str, str]) -> dict[str, object]:
        site = self._site(ctx.store)
        try:
            proc = subprocess.run(
                [self.settings.php_binary, str(_INSTALLER), str(site)],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=max(1.0, ctx.remaining()),
                cwd=site,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TransientError(
                f"the installer did not finish in time ({request['action']})"
            ) from exc
        except FileNotFoundError as exc:
            raise PermanentError(f"PHP ({self.settings.php_binary}) is not installed") from exc
        marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("STOREFLEET_RESULT ")]
        if not marker:
            tail = (proc.stdout + proc.stderr).strip()[-500:]
            text = re.sub(r"<[^>]+>", " ", tail)
            if "database connection" in text.lower():
                raise TransientError(f"WordPress could not reach its database: {text.strip()}")
            raise PermanentError(f"the installer failed (exit {proc.returncode}): {text.strip()}")
        result: dict[str, object] = json.loads(marker[-1].removeprefix("STOREFLEET_RESULT "))
        if not result.get("ok"):
            raise PermanentError(f"the installer failed: {result.get('error')}")
        return result

    def _install(self, ctx: StepContext) -> StepOutcome:
        if ctx.store.url is None:
            raise PermanentError("the store has no URL: the endpoint step recorded none")
        result = self._run_installer(
            ctx,
            {
                "action": "install",
                "url": ctx.store.url,
                "title": ctx.store.name,
                "admin_user": _ADMIN_USER,
                "admin_email": ctx.store.admin_email,
                "admin_password": ctx.admin_password(),
            },
        )
        verb = "installed" if result.get("created") else "converged the existing"
        return StepOutcome(
            f"{verb} WordPress {result.get('wordpress')}; admin user '{_ADMIN_USER}' "
            f"<{ctx.store.admin_email}>"
        )

    def _woocommerce(self, ctx: StepContext) -> StepOutcome:
        archive = self.settings.woocommerce_archive
        if not archive:
            message = (
                "WooCommerce was not installed: STOREFLEET_WOOCOMMERCE_ARCHIVE is not set "
                "(point it at the plugin zip, a path or URL). The store runs WordPress alone."
            )
            ctx.event(message, level="warning")
            return StepOutcome(message, skipped=True)
        site = self._site(ctx.store)
        plugins = site / "wp-content" / "plugins"
        if not (plugins / "woocommerce" / "woocommerce.php").is_file():
            with self._archive(archive, ctx) as zip_path:
                _extract_plugin(zip_path, plugins)
        result = self._run_installer(ctx, {"action": "woocommerce", "url": ctx.store.url or ""})
        if not result.get("active"):
            raise PermanentError("WooCommerce did not activate")
        return StepOutcome(f"WooCommerce {result.get('woocommerce')} active; Cash on Delivery on")

    @contextlib.contextmanager
    def _archive(self, archive: str, ctx: StepContext) -> Iterator[Path]:
        if not archive.startswith(("http://", "https://")):
            path = Path(archive)
            if not path.is_file():
                raise PermanentError(f"STOREFLEET_WOOCOMMERCE_ARCHIVE: no file at {path}")
            yield path
            return
        cache = self.settings.data_path / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / f"download-{secrets.token_hex(4)}.zip"
        try:
            with httpx.stream(
                "GET", archive, timeout=max(1.0, ctx.remaining()), follow_redirects=True
            ) as resp:
                resp.raise_for_status()
                with target.open("wb") as f:
                    for chunk in resp.iter_bytes():
                        f.write(chunk)
            yield target
        except httpx.HTTPError as exc:
            raise TransientError(f"could not download the WooCommerce archive: {exc}") from exc
        finally:
            target.unlink(missing_ok=True)

    def _server(self, ctx: StepContext) -> StepOutcome:
        running = self._servers(ctx.store)
        if len(running) == 1 and _port_open("127.0.0.1", ctx.store.port):
            return StepOutcome(f"already running (pid {running[0].pid}) on port {ctx.store.port}")
        self._kill(running)
        pid = self._start_server(ctx.store, deadline=ctx.deadline)
        return StepOutcome(f"PHP server pid {pid} on port {ctx.store.port}")

    def _start_server(self, store: StoreSnapshot, *, deadline: float) -> int:
        if store.port is None:
            raise PermanentError("the store has no port (the endpoint step did not run)")
        site = self._site(store)
        if not _port_free(self.settings.store_bind_host, store.port):
            raise TransientError(f"port {store.port} is in use by another program")
        log_path = self.store_dir(store) / "php.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PHP_CLI_SERVER_WORKERS": str(self.settings.php_server_workers),
        }
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                [
                    self.settings.php_binary,
                    "-d", "display_errors=stderr",
                    "-S", f"{self.settings.store_bind_host}:{store.port}",
                    "-t", str(site),
                ],
                cwd=site,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # outlives the worker; killed as a group
            )  # fmt: skip
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-300:]
                raise TransientError(f"the PHP server exited ({proc.returncode}): {tail.strip()}")
            if _port_open(
                "127.0.0.1"
                if self.settings.store_bind_host in ("0.0.0.0", "::")
                else self.settings.store_bind_host,
                store.port,
            ):
                return proc.pid
            time.sleep(0.1)
        self._kill([psutil.Process(proc.pid)])
        raise TransientError(f"the PHP server did not open port {store.port} in time")

    def _verify(self, ctx: StepContext) -> StepOutcome:
        if ctx.store.url is None:
            raise PermanentError("the store has no URL: the endpoint step recorded none")
        return StepOutcome(check_storefront(ctx.store.url, ctx.store.name, timeout=ctx.remaining()))

    # -- deletion steps ---------------------------------------------------

    def _stop_server(self, ctx: StepContext) -> StepOutcome:
        procs = self._servers(ctx.store)
        self._kill(procs)
        if self._servers(ctx.store):
            raise TransientError("the PHP server did not stop")
        return StepOutcome(
            f"stopped {len(procs)} PHP server(s)" if procs else "no server was running"
        )

    def _remove_files(self, ctx: StepContext) -> StepOutcome:
        path = self.store_dir(ctx.store)
        if path.exists():
            shutil.rmtree(path)
            return StepOutcome(f"removed {path}")
        return StepOutcome("no files were left")

    def _drop_database(self, ctx: StepContext) -> StepOutcome:
        return storedb.drop_step(self.databases, ctx)

    def _release_endpoint(self, ctx: StepContext) -> StepOutcome:
        ctx.record(port=None, url=None, admin_url=None)
        return StepOutcome("released the port")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _port_open(host: str, port: int | None) -> bool:
    if port is None:
        return False
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _extract_plugin(zip_path: Path, plugins: Path) -> None:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = zf.namelist()
            if not any(n.startswith("woocommerce/woocommerce.php") for n in names):
                raise PermanentError("the archive does not hold woocommerce/woocommerce.php")
            tmp = plugins / f".woocommerce-{secrets.token_hex(4)}"
            zf.extractall(tmp)  # zipfile refuses absolute and parent paths
    except zipfile.BadZipFile as exc:
        raise PermanentError(f"the WooCommerce archive is not a zip file: {exc}") from exc
    target = plugins / "woocommerce"
    if target.exists():
        shutil.rmtree(target)
    (tmp / "woocommerce").rename(target)
    shutil.rmtree(tmp)
