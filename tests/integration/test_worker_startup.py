"""A worker that starts before the stores' MySQL (as a cluster starts them,
side by side) waits for it and then consumes; a misconfigured worker exits at
once with the reason. Real `storefleet worker` processes, a real MariaDB."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from storefleet.config import Settings
from tests.conftest import free_port
from tests.support import PlatformProcesses, prepare, process_env


class _Forward(socketserver.BaseRequestHandler):
    """Relays one connection to the real MariaDB: the server "comes up" on a
    new port when the test starts listening there."""

    target: tuple[str, int]

    def handle(self) -> None:
        with socket.create_connection(self.target, timeout=10) as upstream:
            upstream.settimeout(None)

            def pump(src: socket.socket, dst: socket.socket) -> None:
                try:
                    while data := src.recv(65536):
                        dst.sendall(data)
                except OSError:
                    pass
                finally:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

            back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
            back.start()
            pump(self.request, upstream)
            back.join(timeout=10)


def test_a_worker_waits_for_the_stores_database_then_consumes(
    make_settings: Callable[..., Settings], mariadb_admin_url: str, tmp_path: Path
) -> None:
    real = make_url(mariadb_admin_url)
    port = free_port()  # nothing listens here yet
    settings = make_settings(
        stores_db_url=real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False),
        worker_startup_wait_seconds=120,
    )
    prepare(settings).close()
    (tmp_path / "logs").mkdir()
    procs = PlatformProcesses(process_env(settings), tmp_path / "logs", free_port())
    worker = procs.start("worker", wait=None)
    log = procs.log_paths["worker"]
    server: socketserver.ThreadingTCPServer | None = None
    try:
        procs.wait_logged(worker, log, "waiting for the local driver's dependencies")
        assert "not reachable" in log.read_text()
        time.sleep(3)  # it keeps waiting, and does not consume yet
        assert worker.poll() is None, log.read_text()[-3000:]
        assert "concurrent jobs" not in log.read_text()

        handler = type("Forward", (_Forward,), {"target": (real.host, real.port or 3306)})
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        procs.wait_logged(worker, log, "concurrent jobs", timeout=60)
    finally:
        procs.stop()
        if server is not None:
            server.shutdown()
            server.server_close()


def test_a_misconfigured_worker_exits_at_once_with_the_reason(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(worker_startup_wait_seconds=300)
    prepare(settings).close()
    (tmp_path / "logs").mkdir()
    env = process_env(settings, STOREFLEET_PHP_BINARY="/nonexistent/php")
    procs = PlatformProcesses(env, tmp_path / "logs", free_port())
    worker = procs.start("worker", wait=None)
    worker.wait(timeout=60)  # not the 300 s it would wait for a server
    output = procs.log_paths["worker"].read_text()
    assert worker.returncode != 0
    assert "PHP (/nonexistent/php) was not found" in output
    assert "waiting for" not in output
