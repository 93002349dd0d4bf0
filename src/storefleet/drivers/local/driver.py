"""The local driver: each store is a PHP server process on this machine,
serving its own WordPress and WooCommerce, with its own database and user on
a local MySQL/MariaDB server, running as a uid of its own.

A store lives in ``<sites>/stores/<store uid>/`` (see Settings.sites_path):

    .              root:<store gid> 0750  — only the platform and the store enter
    secrets.json   root 0600              — database password and WordPress salts
    php.log        root 0600              — the PHP server's output
    site/          root 0755              — WordPress core, hard links to the
                                            verified release: read-only to the store
      wp-config.php  root:<store gid> 0440
      wp-content/    <store uid> 0750     — themes, plugins (WooCommerce linked
                                            from its release), uploads: the store's own
    mail/          <store uid> 0700       — the store's outgoing mail (mailbox.py)
    tmp/           <store uid> 0700       — PHP's temporary files

So a store can read nothing of another store or of the platform (whose data
directory is 0700), and cannot change the code it runs. When the platform does
not run as root it cannot switch uids: stores then run as its user, and the
timeline says that they are not isolated.

The PHP server runs in its own session (process group), so a worker that dies
does not take the stores with it; the reconciler restarts a ready store whose
server is gone, and runs wp-cron for ready stores.

Day-2 operations (see day2.py): backups are the database (dumped as the
store's own user) and the store's own files under wp-content — the release
files linked into it are left out and linked again on restore; a restore or an
upgrade builds a new site tree beside the old one and swaps it in; a
suspended store's port answers a short "store unavailable" page (503) from a
tiny PHP server of its own, so a visitor learns why, and nothing of the store
runs meanwhile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from storefleet import releases
from storefleet.backups import archive
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
from storefleet.drivers.local import sitefiles
from storefleet.drivers.local.accounts import StoreAccounts
from storefleet.drivers.storedb import StoreDatabases
from storefleet.drivers.verify import check_storefront
from storefleet.names import require_valid_store_uid

log = logging.getLogger(__name__)

INSTALLER = Path(__file__).resolve().parents[2] / "installer"
_SALTS = (
    "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
    "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT",
)  # fmt: skip
_ADMIN_USER = "admin"
# Core files the store never needs: the sample config (a template) and the
# release's own wp-content (the store gets a copy of its themes and plugins).
_NOT_CORE = {"wp-config.php", "wp-config-sample.php", ".htaccess", "wp-content"}


def _php_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _write_file(path: Path, content: str, mode: int, owner: tuple[int, int] | None) -> None:
    """Write a file atomically with its final mode and owner."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    if owner is not None:
        os.chown(tmp, *owner)
    os.chmod(tmp, mode)
    tmp.replace(path)


def _link_file(src: str | Path, dst: str | Path) -> None:
    """A hard link to a release file, or a copy where links cannot reach
    (another filesystem). Either stays owned by root, read-only to stores."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _link_tree(src: Path, dst: Path) -> None:
    """``dst`` as a tree of hard links to ``src``'s files (see _link_file)."""
    shutil.copytree(src, dst, copy_function=_link_file, symlinks=False)


class LocalDriver(StoreDriver):
    name = "local"

    def __init__(self, settings: Settings, databases: StoreDatabases | None = None) -> None:
        self.settings = settings
        self.databases = databases or storedb.from_settings(settings, "local")
        db_url = urlsplit(settings.stores_db_url or "mysql://127.0.0.1:3306/")
        self._db_host = f"{db_url.hostname or '127.0.0.1'}:{db_url.port or 3306}"
        self.releases = releases.ReleaseCache(
            settings.releases_path, settings.artifacts, max_bytes=settings.download_max_bytes
        )
        self.accounts = StoreAccounts(
            settings.sites_path / "uids", settings.store_uid_min, settings.store_uid_max
        )
        self.isolated = os.geteuid() == 0
        # wp-cron by store uid: when the next run is due, and the last run.
        self._cron: dict[str, tuple[float, subprocess.Popen[bytes] | None]] = {}

    # -- the contract -----------------------------------------------------

    def provision_steps(self, *, clone: bool = False) -> Sequence[Step]:
        if clone:
            # The backup (unpacked by the fetch step) instead of a fresh install.
            content: tuple[Step, ...] = (
                Step("content", self._clone_content, reads_scratch=True),
                Step("data", self._clone_data, reads_scratch=True),
                Step("install", self._adopt_clone, consumes_admin_password=True),
            )
        else:
            content = (Step("install", self._install, consumes_admin_password=True),)
        return (
            Step("secrets", self._secrets),
            Step("endpoint", self._endpoint),
            Step("database", self._database),
            Step("files", self._files),
            *content,
            Step("server", self._server),
            Step("verify", self._verify),
        )

    def backup_steps(self) -> Sequence[Step]:
        return (
            Step("database", self._backup_database),
            Step("files", self._backup_files),
        )

    def restore_steps(self) -> Sequence[Step]:
        return (
            Step("stop", self._stop_everything),
            Step("files", self._restore_files, reads_scratch=True),
            Step("database", self._restore_database, reads_scratch=True),
            Step("address", self._adopt_address),
            Step("server", self._server),
            Step("verify", self._verify),
        )

    def upgrade_steps(self) -> Sequence[Step]:
        return (
            Step("stop", self._stop_everything),
            Step("files", self._upgrade_files),
            Step("upgrade", self._upgrade_database),
            Step("server", self._server),
            Step("verify", self._verify),
        )

    def suspend_steps(self) -> Sequence[Step]:
        return (Step("server", self._suspend),)

    def resume_steps(self) -> Sequence[Step]:
        return (Step("server", self._resume), Step("verify", self._verify))

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
        self._prepare_sites()
        if not self.isolated:
            log.warning(
                "the platform does not run as root: local stores run as uid %d, "
                "not each under a uid of its own (not isolated from each other)",
                os.geteuid(),
            )
        # Fetch the pinned releases now, so that the first store does not
        # wait for it; a failure here is reported by the store's files step.
        for product in releases.PRODUCTS:
            try:
                self.releases.fetch(releases.pinned(product))
            except releases.ReleaseError as exc:
                log.warning("%s", exc)
        self.databases.ping()

    def supervise(self, ready: Sequence[StoreSnapshot]) -> SupervisionReport:
        report = SupervisionReport()
        running = self._running_servers()  # one process scan per sweep, not per store
        for store in ready:
            if store.port is None or not self._site(store).is_dir():
                continue
            # A resume cut short may have left the "unavailable" page up.
            self._kill(running.get(str(self._unavailable_dir(store)), []))
            if not running.get(str(self._site(store))):
                try:
                    self._start_server(store, deadline=time.monotonic() + 15)
                except (TransientError, PermanentError) as exc:
                    report.failed[store.id] = str(exc)
                    continue
                report.restarted[store.id] = f"Restarted the PHP server on port {store.port}"
            self._run_cron(store)
        return report

    def supervise_suspended(self, suspended: Sequence[StoreSnapshot]) -> SupervisionReport:
        report = SupervisionReport()
        running = self._running_servers()
        for store in suspended:
            if store.port is None or not self.store_dir(store).is_dir():
                continue
            self._kill(running.get(str(self._site(store)), []))
            if not running.get(str(self._unavailable_dir(store))):
                try:
                    self._start_unavailable(store, deadline=time.monotonic() + 15)
                except (TransientError, PermanentError) as exc:
                    report.failed[store.id] = str(exc)
                    continue
                report.restarted[store.id] = (
                    f"Restarted the “store unavailable” page on port {store.port}"
                )
        return report

    def probe(self, store: StoreSnapshot, timeout: float) -> str:
        if store.url is None:
            raise PermanentError("the store has no URL")
        return check_storefront(store.url, store.name, timeout=timeout)

    def stop_all(self, stores: Sequence[StoreSnapshot]) -> None:
        running = self._running_servers()
        for store in stores:
            self._kill(running.get(str(self._site(store)), []))
            self._kill(running.get(str(self._unavailable_dir(store)), []))

    # -- paths, owners and processes --------------------------------------

    def store_dir(self, store: StoreSnapshot) -> Path:
        return self.settings.stores_path / require_valid_store_uid(store.uid)

    def _site(self, store: StoreSnapshot) -> Path:
        return self.store_dir(store) / "site"

    def _prepare_sites(self) -> None:
        """The sites directory: stores may pass through it, not list it."""
        for path in (self.settings.sites_path, self.settings.stores_path):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o711)
        if self.isolated:
            # Every directory above must let the stores' uids pass too.
            for parent in self.settings.sites_path.parents:
                if parent.stat().st_mode & 0o001 == 0:
                    raise PermanentError(
                        f"local stores run under their own uids and cannot enter {parent} "
                        f"(mode {parent.stat().st_mode & 0o777:o}); set STOREFLEET_SITES_DIR to a "
                        "directory outside it, e.g. /var/lib/storefleet"
                    )

    def _owner(self, store: StoreSnapshot) -> tuple[int, int] | None:
        """(uid, gid) the store's processes run as; None when not isolated."""
        if not self.isolated:
            return None
        n = self.accounts.find(store.uid)
        if n is None:
            raise PermanentError("the store has no uid (the files step did not run)")
        return n, n

    def _installer_dir(self) -> Path:
        """The installer where stores' uids can read it: a copy under the
        sites directory, named by its content (the source tree may be in a
        home directory)."""
        digest = hashlib.sha256()
        files = sorted(p for p in INSTALLER.rglob("*") if p.is_file())
        for path in files:
            digest.update(path.relative_to(INSTALLER).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
        target = self.settings.sites_path / f"installer-{digest.hexdigest()[:12]}"
        if not target.is_dir():
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
            shutil.copytree(INSTALLER, tmp)
            for dirpath, _dirs, names in os.walk(tmp):
                os.chmod(dirpath, 0o755)  # noqa: S103 (public code)
                for name in names:
                    os.chmod(os.path.join(dirpath, name), 0o644)
            try:
                tmp.rename(target)
            except OSError:  # another worker made it meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
        return target

    def _php(self, store: StoreSnapshot, *args: str, server: bool = False) -> list[str]:
        """The PHP command line for this store: its temp dir, and opcache for
        the server."""
        tmp = self.store_dir(store) / "tmp"
        opcache = "1" if server and self.settings.php_opcache else "0"
        return [
            self.settings.php_binary,
            "-d", f"opcache.enable={opcache}",
            "-d", f"opcache.enable_cli={opcache}",
            "-d", f"sys_temp_dir={tmp}",
            "-d", f"upload_tmp_dir={tmp}",
            "-d", f"session.save_path={tmp}",
            "-d", "memory_limit=256M",
            "-d", "display_errors=stderr",
            *args,
        ]  # fmt: skip

    def _as_store(self, store: StoreSnapshot) -> dict[str, object]:
        """subprocess arguments that run a program as the store."""
        owner = self._owner(store)
        if owner is None:
            return {"umask": 0o077}
        return {"user": owner[0], "group": owner[1], "extra_groups": [], "umask": 0o027}

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

    def _release(self, product: releases.Product, version: str | None) -> Path:
        try:
            return self.releases.fetch(releases.pinned(product, version))
        except releases.ReleaseError as exc:
            raise PermanentError(str(exc)) from exc

    # -- provisioning steps -----------------------------------------------

    def _secrets(self, ctx: StepContext) -> StepOutcome:
        self._prepare_sites()
        path = self.store_dir(ctx.store) / "secrets.json"
        if path.exists():
            return StepOutcome("kept the existing secrets")
        path.parent.mkdir(mode=0o700, exist_ok=True)
        values = {"db_password": secrets.token_urlsafe(24)}
        values.update({salt: secrets.token_urlsafe(48) for salt in _SALTS})
        _write_file(path, json.dumps(values), 0o600, None)
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
        n = self.databases.ensure(ctx.store.uid, password)
        return StepOutcome(f"database {n.database} and user {n.user}")

    def _files(self, ctx: StepContext) -> StepOutcome:
        store = ctx.store
        wordpress = self._release("wordpress", store.wordpress_version)
        woocommerce = self._release("woocommerce", store.woocommerce_version)
        home = self.store_dir(store)
        owner: tuple[int, int] | None = None
        if self.isolated:
            n = self.accounts.claim(store.uid)
            owner = (n, n)
            os.chown(home, 0, n)
            home.chmod(0o750)
        site = home / "site"
        if not (site / "wp-settings.php").is_file():
            tmp = home / f"site.tmp-{secrets.token_hex(4)}"
            self._build_site(wordpress, woocommerce, tmp)
            if owner is not None:
                sitefiles.own_tree(
                    tmp / "wp-content", owner, sitefiles.Releases(wordpress, woocommerce)
                )
            if site.exists():
                shutil.rmtree(site)
            tmp.rename(site)
        for name in ("mail", "tmp"):
            (home / name).mkdir(mode=0o700, exist_ok=True)
            if owner is not None:
                os.chown(home / name, *owner)
        self._write_wp_config(store, site, owner)
        who = f"uid {owner[0]}" if owner else f"uid {os.geteuid()} (not isolated)"
        return StepOutcome(
            f"WordPress {store.wordpress_version} and WooCommerce {store.woocommerce_version} "
            f"in {site}, run as {who}"
        )

    @staticmethod
    def _build_site(wordpress: Path, woocommerce: Path, dst: Path) -> None:
        dst.mkdir()
        dst.chmod(0o755)
        for entry in wordpress.iterdir():
            if entry.name in _NOT_CORE:
                continue
            if entry.is_dir():
                _link_tree(entry, dst / entry.name)
            elif not (dst / entry.name).exists():
                _link_file(entry, dst / entry.name)
        content = dst / "wp-content"
        content.mkdir()
        _link_tree(wordpress / "wp-content" / "themes", content / "themes")
        _link_tree(wordpress / "wp-content" / "plugins", content / "plugins")
        _link_tree(woocommerce, content / "plugins" / "woocommerce")
        for name in ("uploads", "mu-plugins", "upgrade"):
            (content / name).mkdir()

    def _write_wp_config(
        self, store: StoreSnapshot, site: Path, owner: tuple[int, int] | None
    ) -> None:
        if store.url is None:
            raise PermanentError("the store has no URL yet (the endpoint step did not run)")
        sec = self._load_secrets(store)
        n = self.databases.names(store.uid)
        url = store.url.rstrip("/")
        home = self.store_dir(store)
        lines = [
            "<?php",
            f"// Written by StoreFleet for store {store.uid}; rewritten on re-provisioning.",
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
            f"define('WP_TEMP_DIR', {_php_string(str(home / 'tmp'))});",
            f"define('STOREFLEET_MAILBOX', {_php_string(str(home / 'mail'))});",
            # No calls out to the internet (none is reachable from many hosts,
            # and each would stall a page). Cron runs from the platform, not
            # over loopback HTTP on page views. The platform owns the core
            # files: no self-updates, no code editor.
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
        group = (0, owner[1]) if owner else None
        _write_file(site / "wp-config.php", "\n".join(lines), 0o440 if owner else 0o600, group)

    def _run_installer(self, ctx: StepContext, request: dict[str, object]) -> dict[str, object]:
        site = self._site(ctx.store)
        script = self._installer_dir() / "storefleet-install.php"
        try:
            proc = subprocess.run(  # type: ignore[call-overload]
                self._php(ctx.store, str(script), str(site)),
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=max(1.0, ctx.remaining()),
                cwd=site,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
                check=False,
                **self._as_store(ctx.store),
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
        store = ctx.store
        if store.url is None:
            raise PermanentError("the store has no URL yet (the endpoint step did not run)")
        result = self._run_installer(
            ctx,
            {
                "action": "install",
                "url": store.url,
                "title": store.name,
                "admin_user": _ADMIN_USER,
                "admin_email": store.admin_email,
                "admin_password": ctx.admin_password(),
                "woocommerce": True,
                "sample_products": store.sample_products,
                "store": {
                    "country": self.settings.store_country,
                    "currency": self.settings.store_currency,
                },
            },
        )
        return StepOutcome(describe_install(result, _ADMIN_USER, store.admin_email))

    def _server(self, ctx: StepContext) -> StepOutcome:
        running = self._servers(ctx.store)
        if len(running) == 1 and _port_open("127.0.0.1", ctx.store.port):
            return StepOutcome(f"already running (pid {running[0].pid}) on port {ctx.store.port}")
        self._kill(running)
        pid = self._start_server(ctx.store, deadline=ctx.deadline)
        if not self.isolated:
            ctx.event(
                "The store's PHP runs as the platform's own user: it is not isolated from "
                "other stores (run the platform as root for a uid per store)",
                level="warning",
            )
        return StepOutcome(f"PHP server pid {pid} on port {ctx.store.port}")

    def _start_server(self, store: StoreSnapshot, *, deadline: float) -> int:
        return self._start_php_server(store, self._site(store), deadline=deadline)

    def _start_php_server(
        self, store: StoreSnapshot, site: Path, *, deadline: float, router: Path | None = None
    ) -> int:
        """PHP's built-in server on the store's port, serving ``site``."""
        if store.port is None:
            raise PermanentError("the store has no port (the endpoint step did not run)")
        if not _port_free(self.settings.store_bind_host, store.port):
            raise TransientError(f"port {store.port} is in use by another program")
        log_path = self.store_dir(store) / "php.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PHP_CLI_SERVER_WORKERS": str(self.settings.php_server_workers),
        }
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as out:
            proc = subprocess.Popen(  # type: ignore[call-overload]
                self._php(
                    store, "-S", f"{self.settings.store_bind_host}:{store.port}", "-t", str(site),
                    *([str(router)] if router else []), server=True,
                ),
                cwd=site,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # outlives the worker; killed as a group
                **self._as_store(store),
            )  # fmt: skip
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-300:]
                raise TransientError(f"the PHP server exited ({proc.returncode}): {tail.strip()}")
            host = self.settings.store_bind_host
            if _port_open("127.0.0.1" if host in ("0.0.0.0", "::") else host, store.port):
                return int(proc.pid)
            time.sleep(0.05)
        self._kill([psutil.Process(proc.pid)])
        raise TransientError(f"the PHP server did not open port {store.port} in time")

    def _run_cron(self, store: StoreSnapshot) -> None:
        """Start wp-cron for a ready store when it is due and the last run
        has finished (fire and forget; output to php.log).

        The first run of a store this worker has not seen before (a new
        store, or every store after the platform starts) is due between one
        and two intervals later, at a point of its own: ten stores created at
        once, or a restart, do not run ten wp-crons at once beside the
        provisioning that shares the CPU (they lengthened ten concurrent
        provisions by about a tenth)."""
        interval = self.settings.store_cron_interval_seconds
        now = time.monotonic()
        if store.uid not in self._cron:
            share = int.from_bytes(hashlib.sha256(store.uid.encode()).digest()[:4]) / 2**32
            self._cron[store.uid] = (now + interval * (1 + share), None)
            return
        due, proc = self._cron[store.uid]
        if proc is not None and proc.poll() is None:
            return
        if now < due:
            return
        site = self._site(store)
        try:
            fd = os.open(self.store_dir(store) / "php.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            with os.fdopen(fd, "ab") as out:
                proc = subprocess.Popen(  # type: ignore[call-overload]
                    self._php(store, str(site / "wp-cron.php")),
                    cwd=site,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                    start_new_session=True,
                    **self._as_store(store),
                )
        except (OSError, PermanentError) as exc:
            log.warning("store %s: wp-cron did not start: %s", store.uid, exc)
            proc = None
        self._cron[store.uid] = (time.monotonic() + interval, proc)

    def _verify(self, ctx: StepContext) -> StepOutcome:
        if ctx.store.url is None:
            raise PermanentError("the store has no URL yet (the endpoint step did not run)")
        return StepOutcome(check_storefront(ctx.store.url, ctx.store.name, timeout=ctx.remaining()))

    # -- deletion steps ---------------------------------------------------

    def _stop_server(self, ctx: StepContext) -> StepOutcome:
        # The store's server, or its "unavailable" page when it is suspended.
        running = self._running_servers()
        procs = running.get(str(self._site(ctx.store)), []) + running.get(
            str(self._unavailable_dir(ctx.store)), []
        )
        self._kill(procs)
        if self._servers(ctx.store):
            raise TransientError("the PHP server did not stop")
        return StepOutcome(
            f"stopped {len(procs)} PHP server(s)" if procs else "no server was running"
        )

    def _remove_files(self, ctx: StepContext) -> StepOutcome:
        path = self.store_dir(ctx.store)
        removed = path.exists()
        if removed:
            shutil.rmtree(path)
        self.accounts.release(ctx.store.uid)
        self._cron.pop(ctx.store.uid, None)
        return StepOutcome(f"removed {path}" if removed else "no files were left")

    def _drop_database(self, ctx: StepContext) -> StepOutcome:
        return storedb.drop_step(self.databases, ctx)

    def _release_endpoint(self, ctx: StepContext) -> StepOutcome:
        ctx.record(port=None, url=None, admin_url=None)
        return StepOutcome("released the port")

    # -- day-2: backups, restores, clones ----------------------------------

    def _releases_of(self, wordpress: str | None, woocommerce: str | None) -> sitefiles.Releases:
        return sitefiles.Releases(
            self._release("wordpress", wordpress), self._release("woocommerce", woocommerce)
        )

    def _db_password(self, store: StoreSnapshot) -> str:
        return self._load_secrets(store)["db_password"]

    def _backup_database(self, ctx: StepContext) -> StepOutcome:
        info = self.databases.dump(
            ctx.store.uid, self._db_password(ctx.store), ctx.workdir / archive.DATABASE
        )
        return StepOutcome(
            f"{info['tables']} tables, {info['rows']} rows, {info['bytes'] / 1024:.0f} KiB "
            "(one consistent snapshot)",
            facts={"database": info, "taken_at": utcnow_iso()},
        )

    def _backup_files(self, ctx: StepContext) -> StepOutcome:
        content = self._site(ctx.store) / "wp-content"
        if not content.is_dir():
            raise PermanentError(f"the store has no files at {content}")
        releases_ = self._releases_of(ctx.store.wordpress_version, ctx.store.woocommerce_version)
        info = sitefiles.archive(content, releases_, ctx.workdir / archive.FILES)
        return StepOutcome(
            f"{info['files']} files of the store's own ({info['bytes'] / 1024:.0f} KiB); "
            "release files are linked again on restore",
            facts={"files": info},
        )

    def _manifest(self, ctx: StepContext) -> dict[str, Any]:
        path = ctx.workdir / archive.MANIFEST
        try:
            manifest: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise PermanentError("the backup was not fetched (no manifest)") from exc
        return manifest

    def _assemble(
        self,
        store: StoreSnapshot,
        wordpress: str,
        woocommerce: str,
        fill: Callable[[Path], dict[str, int]],
    ) -> dict[str, int]:
        """A new site tree at these releases beside the current one, filled
        with the store's own files by ``fill``, then swapped in."""
        releases_ = self._releases_of(wordpress, woocommerce)
        home = self.store_dir(store)
        owner = self._owner(store)
        token = secrets.token_hex(4)
        tmp = home / f"site.tmp-{token}"
        self._build_site(releases_.wordpress, releases_.woocommerce, tmp)
        built = False
        try:
            info = fill(tmp / "wp-content")
            if owner is not None:
                sitefiles.own_tree(tmp / "wp-content", owner, releases_)
            self._write_wp_config(store, tmp, owner)
            built = True
        finally:
            if not built:  # whatever stopped it: no half-built site stays behind
                shutil.rmtree(tmp, ignore_errors=True)
        site = self._site(store)
        old = home / f"site.old-{token}"
        if site.exists():
            site.rename(old)
        tmp.rename(site)
        shutil.rmtree(old, ignore_errors=True)
        for leftover in home.glob("site.*-*"):  # from an attempt cut short
            shutil.rmtree(leftover, ignore_errors=True)
        return info

    def _restore_files(self, ctx: StepContext) -> StepOutcome:
        manifest = self._manifest(ctx)
        wordpress, woocommerce = manifest["wordpress_version"], manifest["woocommerce_version"]
        files = ctx.workdir / archive.FILES
        info = self._assemble(
            ctx.store, wordpress, woocommerce,
            lambda content: sitefiles.overlay(content, files, ctx.workdir),
        )  # fmt: skip
        ctx.record(wordpress_version=wordpress, woocommerce_version=woocommerce)
        return StepOutcome(
            f"WordPress {wordpress} and WooCommerce {woocommerce} linked again; "
            f"{info['files']} of the store's own files put back"
        )

    def _restore_database(self, ctx: StepContext) -> StepOutcome:
        info = self.databases.load(
            ctx.store.uid, self._db_password(ctx.store), ctx.workdir / archive.DATABASE
        )
        return StepOutcome(
            f"{info['tables']} tables loaded ({info['statements']} statements); "
            "the database's own marker kept"
        )

    def _adopt_address(self, ctx: StepContext) -> StepOutcome:
        """The store's address and platform plugin, whatever the backup had."""
        if ctx.store.url is None:
            raise PermanentError("the store has no URL")
        self._write_mu_plugin(ctx.store)
        result = self._run_installer(ctx, {"action": "adopt", "url": ctx.store.url})
        return StepOutcome(_describe_adopt(result))

    def _clone_content(self, ctx: StepContext) -> StepOutcome:
        content = self._site(ctx.store) / "wp-content"
        if not content.is_dir():
            raise PermanentError("the store has no site yet (the files step did not run)")
        info = sitefiles.overlay(content, ctx.workdir / archive.FILES, ctx.workdir)
        owner = self._owner(ctx.store)
        if owner is not None:
            store = ctx.store
            releases_ = self._releases_of(store.wordpress_version, store.woocommerce_version)
            sitefiles.own_tree(content, owner, releases_)
        return StepOutcome(f"{info['files']} files from the backup")

    def _clone_data(self, ctx: StepContext) -> StepOutcome:
        return self._restore_database(ctx)

    def _adopt_clone(self, ctx: StepContext) -> StepOutcome:
        store = ctx.store
        if store.url is None:
            raise PermanentError("the store has no URL yet (the endpoint step did not run)")
        self._write_mu_plugin(store)
        result = self._run_installer(
            ctx,
            {
                "action": "adopt",
                "url": store.url,
                "title": store.name,
                "admin_user": _ADMIN_USER,
                "admin_email": store.admin_email,
                "admin_password": ctx.admin_password(),
            },
        )
        return StepOutcome(_describe_adopt(result) + f"; admin '{_ADMIN_USER}' has a new password")

    def _write_mu_plugin(self, store: StoreSnapshot) -> None:
        """The installer writes it on install; a restored wp-content may not
        have it (or an older one): put the platform's in place."""
        source = INSTALLER / "mu-plugins" / "storefleet.php"
        target_dir = self._site(store) / "wp-content" / "mu-plugins"
        target_dir.mkdir(parents=True, exist_ok=True)
        owner = self._owner(store)
        _write_file(target_dir / "storefleet.php", source.read_text(), 0o640, owner)
        if owner is not None:
            os.chown(target_dir, *owner)

    # -- day-2: upgrades and the checkout test ------------------------------

    def _stop_everything(self, ctx: StepContext) -> StepOutcome:
        running = self._running_servers()
        procs = running.get(str(self._site(ctx.store)), []) + running.get(
            str(self._unavailable_dir(ctx.store)), []
        )
        self._kill(procs)
        return StepOutcome(f"stopped {len(procs)} server(s)" if procs else "nothing was running")

    def _upgrade_files(self, ctx: StepContext) -> StepOutcome:
        params = ctx.operation.params
        wordpress, woocommerce = str(params["wordpress"]), str(params["woocommerce"])
        old = self._releases_of(ctx.store.wordpress_version, ctx.store.woocommerce_version)
        current = self._site(ctx.store) / "wp-content"
        info = self._assemble(
            ctx.store, wordpress, woocommerce,
            lambda content: sitefiles.carry_over(current, old, content),
        )  # fmt: skip
        ctx.record(wordpress_version=wordpress, woocommerce_version=woocommerce)
        return StepOutcome(
            f"WordPress {wordpress} and WooCommerce {woocommerce} linked from their verified "
            f"releases; {info['files']} of the store's own files carried over"
        )

    def _upgrade_database(self, ctx: StepContext) -> StepOutcome:
        if ctx.store.url is None:
            raise PermanentError("the store has no URL")
        result = self._run_installer(ctx, {"action": "upgrade", "url": ctx.store.url})
        return StepOutcome(
            f"WordPress database {result.get('wordpress_db_before')} → "
            f"{result.get('wordpress_db')}; WooCommerce database "
            f"{result.get('woocommerce_db_before')} → {result.get('woocommerce_db')}"
        )

    def checkout_product(self, ctx: StepContext) -> int:
        if ctx.store.url is None:
            raise PermanentError("the store has no URL")
        result = self._run_installer(ctx, {"action": "checkout-product", "url": ctx.store.url})
        return int(str(result["product_id"]))

    def confirm_order(self, ctx: StepContext, order_id: int) -> dict[str, Any]:
        if ctx.store.url is None:
            raise PermanentError("the store has no URL")
        result = self._run_installer(
            ctx, {"action": "confirm-order", "url": ctx.store.url, "order_id": order_id}
        )
        return {k: result.get(k) for k in ("status", "payment_method", "total", "deleted")}

    # -- day-2: suspend and resume ------------------------------------------

    def _unavailable_dir(self, store: StoreSnapshot) -> Path:
        return self.store_dir(store) / "unavailable"

    def _start_unavailable(self, store: StoreSnapshot, *, deadline: float) -> int:
        page = self._unavailable_dir(store)
        page.mkdir(mode=0o755, exist_ok=True)
        page.chmod(0o755)
        _write_file(page / "index.php", _UNAVAILABLE_PAGE, 0o644, None)
        return self._start_php_server(store, page, router=page / "index.php", deadline=deadline)

    def _suspend(self, ctx: StepContext) -> StepOutcome:
        running = self._running_servers()
        self._kill(running.get(str(self._site(ctx.store)), []))
        self._cron.pop(ctx.store.uid, None)
        if running.get(str(self._unavailable_dir(ctx.store))):
            return StepOutcome("the store was stopped; the “store unavailable” page is up")
        pid = self._start_unavailable(ctx.store, deadline=ctx.deadline)
        return StepOutcome(
            f"the store's PHP server is stopped; port {ctx.store.port} answers 503 "
            f"“store unavailable” (pid {pid})"
        )

    def _resume(self, ctx: StepContext) -> StepOutcome:
        running = self._running_servers()
        self._kill(running.get(str(self._unavailable_dir(ctx.store)), []))
        return self._server(ctx)


def describe_install(result: dict[str, object], admin_user: str, admin_email: str) -> str:
    """One sentence on what the installer did (both drivers' timelines)."""
    verb = "installed" if result.get("created") else "converged the existing"
    parts = [f"{verb} WordPress {result.get('wordpress')}; admin '{admin_user}' <{admin_email}>"]
    if result.get("woocommerce"):
        parts.append(
            f"WooCommerce {result.get('woocommerce')} "
            + ("active" if result.get("active") else "NOT active")
        )
        parts.append("Cash on Delivery on" if result.get("cod") else "Cash on Delivery off")
        parts.append(f"{result.get('products', 0)} product(s)")
        parts.append(
            "shop open" if result.get("coming_soon") == "no" else "shop in coming-soon mode"
        )
    return "; ".join(parts)


def _describe_adopt(result: dict[str, object]) -> str:
    replaced = result.get("replaced") or 0
    old = result.get("old_url")
    if replaced:
        return f"address {old} → {result.get('url')} in {replaced} value(s)"
    return f"address {result.get('url')} kept"


def utcnow_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


_UNAVAILABLE_PAGE = """<?php
// StoreFleet: this store is suspended. Every address answers this page.
http_response_code(503);
header('Retry-After: 3600');
header('Cache-Control: no-store');
header('Content-Type: text/html; charset=utf-8');
?><!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Store unavailable</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto">
<h1>Store unavailable</h1>
<p>This store is not available at the moment. Please come back later.</p>
</body></html>
"""


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
