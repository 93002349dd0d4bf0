"""The local stores' one nginx: every store of this platform on one port,
routed by Host (``http://<name>.<public host>:<port>/``), static files from
the disk, PHP through each store's own php-fpm, and the page cache in front
(drivers/serving).

It lives in ``<sites>/web/``: ``conf/`` (nginx.conf, the page cache's rules
and ``stores/<uid>.conf``, one server block a store), ``run/``, ``logs/``
(nginx's own and each store's access log), ``cache/`` and ``tmp/`` (nginx's
workers', ``static/`` (the "store unavailable" page), ``acme/<uid>/`` (the
webroot of a store's ACME challenges) and ``certs/<uid>/`` (its custom
domains' certificates, root's; docs/domains.md). It answers on a second,
TLS port for custom domains (``STOREFLEET_STORES_HTTPS_PORT``). Its master runs in a
session of its own, so a worker that dies leaves it serving; the
reconciler's sweep starts it again if it is gone. A change of a store's
server block reloads it gracefully (``nginx -t`` first: a configuration nginx
refuses never replaces the running one).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from storefleet.config import Settings
from storefleet.drivers import serving
from storefleet.drivers.base import PermanentError, StoreSnapshot, TransientError
from storefleet.drivers.local.logs import access_log_path
from storefleet.drivers.local.site import write_file
from storefleet.names import require_valid_domain, require_valid_store_uid

log = logging.getLogger(__name__)

CACHE_ZONE = "storefleet"
#: An ACME challenge token: base64url (RFC 8555, 8.3).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
_MIME_TYPES = Path("/etc/nginx/mime.types")


@dataclass(frozen=True)
class TlsDomain:
    """A custom domain served over TLS, and its certificate's files."""

    name: str
    certificate: Path
    key: Path


@dataclass(frozen=True)
class StoreSite:
    """What a store's server blocks need."""

    store: StoreSnapshot
    docroot: Path
    fastcgi_pass: str
    access_log: Path
    upload_mib: int
    suspended: bool = False
    #: Custom domains answered over plain http (their certificate to come).
    http_domains: tuple[str, ...] = ()
    tls_domains: tuple[TlsDomain, ...] = ()
    #: The store's address when it is not this platform's name for it: the
    #: platform's name then redirects there.
    redirect_to: str | None = None


class StoresWebServer:
    def __init__(self, settings: Settings, *, isolated: bool) -> None:
        self.settings = settings
        self.isolated = isolated
        self.root = settings.sites_path / "web"
        self.conf = self.root / "conf"
        self.pid_file = self.root / "run" / "nginx.pid"
        self.log_dir = self.root / "logs"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- addresses ---------------------------------------------------------------

    @property
    def _reach(self) -> str:
        host = self.settings.store_bind_host
        return "127.0.0.1" if host in ("0.0.0.0", "::") else host

    @property
    def listen(self) -> str:
        return f"{self.settings.store_bind_host}:{self.settings.stores_http_port}"

    @property
    def tls_listen(self) -> str:
        return f"{self.settings.store_bind_host}:{self.settings.stores_https_port}"

    def reach(self, url: str) -> tuple[str, dict[str, str], str | None]:
        """(where to connect, headers, TLS server name) for any address this
        nginx serves — the platform's names and the stores' custom domains,
        which need not resolve here: it is this machine."""
        parts = urlsplit(url)
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        base = f"{parts.scheme}://{self._reach}:{port}{parts.path or '/'}"
        return base, {"Host": parts.netloc}, (parts.hostname if https else None)

    def url(self, store: StoreSnapshot) -> str:
        port = self.settings.stores_http_port
        netloc = self.host(store) + ("" if port == 80 else f":{port}")
        return f"http://{netloc}/"

    def host(self, store: StoreSnapshot) -> str:
        return f"{store.name}.{self.settings.public_host}"

    def web_gid(self) -> int | None:
        """The group through which nginx's workers read stores' files."""
        if not self.isolated:
            return None
        try:
            return pwd.getpwnam(self.settings.web_user).pw_gid
        except KeyError as exc:
            raise PermanentError(
                f"the web user {self.settings.web_user!r} does not exist (STOREFLEET_WEB_USER)"
            ) from exc

    def access_log(self, store: StoreSnapshot) -> Path:
        return access_log_path(self.settings, store.uid)

    # -- configuration -------------------------------------------------------------

    def prepare(self) -> None:
        """Directories and the main configuration (rewritten at every start)."""
        if shutil.which(self.settings.nginx_binary) is None:
            raise PermanentError(
                f"nginx ({self.settings.nginx_binary}) is not installed: install Debian's "
                "nginx-light (scripts/services.sh php does) or set STOREFLEET_NGINX_BINARY"
            )
        gid = self.web_gid()
        uid = pwd.getpwnam(self.settings.web_user).pw_uid if self.isolated else os.geteuid()
        for name in ("conf", "conf/stores", "run", "logs"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o711)
        # Stores' access logs: nginx's workers reopen them (after a rotation)
        # through the group; no store's uid may read another's visitors.
        if self.isolated:
            os.chown(self.log_dir, 0, gid or 0)
        self.log_dir.chmod(0o750)
        for name in ("cache", "tmp"):  # nginx's workers' own
            path = self.root / name
            path.mkdir(exist_ok=True)
            if self.isolated:
                os.chown(path, uid, gid or 0)
            path.chmod(0o700)
        static = self.root / "static"
        static.mkdir(exist_ok=True)
        static.chmod(0o755)
        page = serving.UNAVAILABLE_PAGE.read_text()
        write_file(static / "storefleet-unavailable.html", page, 0o644, None)
        write_file(
            self.conf / "page-cache.conf",
            serving.page_cache_rules(self.settings.page_cache_seconds),
            0o644,
            None,
        )
        stores = len(list((self.conf / "stores").glob("*.conf")))
        main = serving.render(
            "nginx-local.conf.j2",
            user=self.settings.web_user if self.isolated else None,
            workers="auto",
            nofile=8192,
            connections=4096,
            run_dir=self.root / "run",
            log_dir=self.log_dir,
            temp_dir=self.root / "tmp",
            cache_dir=self.root / "cache",
            cache_zone=CACHE_ZONE,
            cache_keys_mib=32,
            cache_max_mib=1024,
            conf_dir=self.conf,
            mime_types=_MIME_TYPES,
            listen=self.listen,
            tls_listen=self.tls_listen,
            names_hash=max(512, 2 * stores),
        )
        write_file(self.conf / "nginx.conf", main, 0o644, None)

    def write_site(self, site: StoreSite) -> None:
        store = site.store
        text = serving.render(
            "nginx-local-store.conf.j2",
            name=store.name,
            uid=store.uid,
            listen=self.listen,
            server_names=[self.host(store), *site.http_domains],
            docroot=site.docroot,
            access_log=site.access_log,
            suspended=site.suspended,
            static_dir=self.root / "static",
            upload_mib=site.upload_mib,
            fastcgi_pass=site.fastcgi_pass,
            # Only the store's own names reach its server block: its Host, with
            # the port in the store's URL.
            http_host="$host"
            if self.settings.stores_http_port == 80
            else (f"$host:{self.settings.stores_http_port}"),
            request_seconds=120,
            cache_zone=CACHE_ZONE,
            cache_key_prefix=store.uid,
            ttl_seconds=self.settings.page_cache_seconds,
            legacy_ports=[store.port] if store.port else [],
            legacy_host=self.settings.store_bind_host,
            url=self.url(store).rstrip("/"),
            acme_root=self.acme_root(store),
            redirect_to=site.redirect_to.rstrip("/") if site.redirect_to else None,
            tls_listen=self.tls_listen,
            tls_http_host="$host"
            if self.settings.stores_https_port == 443
            else f"$host:{self.settings.stores_https_port}",
            tls_domains=[
                {
                    "name": require_valid_domain(d.name),
                    "certificate": d.certificate,
                    "key": d.key,
                    "base": self.domain_base(d.name),
                }
                for d in site.tls_domains
            ],
        )
        path = self._site_path(store)
        if not path.exists() or path.read_text() != text:
            write_file(path, text, 0o644, None)
            self.reload()

    def domain_base(self, domain: str) -> str:
        port = self.settings.stores_https_port
        return f"https://{domain}" + ("" if port == 443 else f":{port}")

    # -- ACME challenges and certificates (custom domains) -----------------------------

    def acme_root(self, store: StoreSnapshot) -> Path:
        """The webroot of the store's ACME challenges (nginx serves
        ``/.well-known/acme-challenge/`` of its domains from it)."""
        return self.root / "acme" / require_valid_store_uid(store.uid)

    def challenge_file(self, store: StoreSnapshot, token: str) -> Path:
        if not _TOKEN.fullmatch(token):
            raise PermanentError(f"the ACME server sent a malformed token {token[:60]!r}")
        return self.acme_root(store) / ".well-known" / "acme-challenge" / token

    def certificate_files(self, store: StoreSnapshot, domain: str) -> tuple[Path, Path]:
        """(chain, key) of ``domain``'s certificate; root's, the key 0600
        (nginx's master reads them before it starts its workers)."""
        home = self.root / "certs" / require_valid_store_uid(store.uid)
        name = require_valid_domain(domain)
        return home / f"{name}.crt", home / f"{name}.key"

    def forget_store_files(self, store: StoreSnapshot) -> None:
        for kind in ("certs", "acme"):
            shutil.rmtree(self.root / kind / require_valid_store_uid(store.uid), ignore_errors=True)

    def remove_site(self, store: StoreSnapshot) -> bool:
        path = self._site_path(store)
        if not path.exists():
            return False
        path.unlink()
        self.reload()
        return True

    def has_site(self, store: StoreSnapshot) -> bool:
        return self._site_path(store).exists()

    def _site_path(self, store: StoreSnapshot) -> Path:
        return self.conf / "stores" / f"{require_valid_store_uid(store.uid)}.conf"

    # -- the process ------------------------------------------------------------------

    def _nginx(self, *args: str) -> list[str]:
        return [self.settings.nginx_binary, "-c", str(self.conf / "nginx.conf"), *args]

    def _test(self) -> None:
        done = subprocess.run(self._nginx("-t", "-q"), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PermanentError(f"nginx refuses its configuration: {done.stderr.strip()[-500:]}")

    def pid(self) -> int | None:
        """The master's pid, when this platform's nginx runs."""
        try:
            pid = int(self.pid_file.read_text().strip())
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, ValueError):
            return None
        # nginx names its master "nginx: master process <its command line>".
        if b"nginx: master process" not in title or str(self.conf).encode() not in title:
            return None
        return pid

    def ensure_running(self, *, timeout: float = 15.0) -> str:
        """Start nginx when it does not run; say what was done."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None  # reaped
        if self.pid() is not None:
            return "running"
        # Steps of several stores at once: one of them starts it.
        with (self.root / "run" / "nginx.starting").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.pid() is not None:
                return "running"
            return self._start(timeout)

    def _start(self, timeout: float) -> str:
        self._test()
        for port, setting in (
            (self.settings.stores_http_port, "STOREFLEET_STORES_HTTP_PORT"),
            (self.settings.stores_https_port, "STOREFLEET_STORES_HTTPS_PORT"),
        ):
            if not _port_free(self.settings.store_bind_host, port):
                raise TransientError(f"port {port} is in use by another program ({setting})")
        out = (self.log_dir / "nginx.out").open("ab")
        with out:
            self._proc = subprocess.Popen(
                self._nginx("-g", "daemon off;"),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the worker
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = (self.log_dir / "nginx-error.log").read_text(errors="replace")[-400:]
                raise TransientError(f"nginx exited ({self._proc.returncode}): {tail.strip()}")
            if self.pid() is not None and _port_open(self._reach, self.settings.stores_http_port):
                return f"started (pid {self.pid()}) on {self.listen}"
            time.sleep(0.05)
        raise TransientError(f"nginx did not listen on {self.listen} in time")

    def reload(self) -> None:
        """Graceful: new workers take the new configuration, old ones finish
        what they serve. Not running: started by ensure_running later."""
        pid = self.pid()
        if pid is None:
            return
        self._test()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGHUP)

    def reopen_logs(self) -> None:
        """After a rotation: nginx writes to new files (SIGUSR1)."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)  # graceful
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            if self._proc is not None:
                self._proc.poll()
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
