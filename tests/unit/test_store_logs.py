"""Store logs' inner logic (drivers/logs.py, drivers/local/logs.py,
drivers/kubernetes/logs.py): what is redacted from every line, how lines
become entries newest first, how a local store's files are read — never
through what the store may put in its own logs directory — and rotated, and
how a pod's output is split into the two sources."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from storefleet.config import Environment, Settings
from storefleet.drivers.kubernetes.logs import StoreLogs, _kubelet_time
from storefleet.drivers.local import logs as local_logs
from storefleet.drivers.logs import (
    REDACTED,
    LogEntry,
    LogQuery,
    LogSource,
    collect,
    entries,
    redact,
)
from storefleet.names import new_store_uid

# (a line as a log may hold it, secrets that must be gone, what must stay)
REDACTIONS = [
    (  # nginx's error log names the request, with its query
        "2026/12/07 22:00:00 [error] 7#7: *1 upstream timed out, client: 10.0.0.1, "
        'request: "GET /shop/?token=s3cr3t-tok&add-to-cart=12 HTTP/1.1", host: "a.localhost"',
        ["s3cr3t-tok"],
        ["/shop/?token=", "add-to-cart=12", "upstream timed out"],
    ),
    (  # Apache's combined format: request and referrer
        '10.0.0.1 - - [07/Dec/2026:22:00:00 +0000] "GET /wp-login.php?action=rp&key=ResetK3y'
        '&login=bob HTTP/1.1" 200 5 "http://a.test/?session_id=S3ss10n" "Mozilla/5.0"',
        ["ResetK3y", "login=bob", "S3ss10n"],
        ["action=rp", "Mozilla/5.0"],
    ),
    (  # a plugin that logs the request's headers
        "[07-Dec-2026 22:00:00 UTC] Cookie: wordpress_logged_in_1a2b=admin%7C17%7Cabc; cart=1",
        ["admin%7C17%7Cabc", "cart=1"],
        ["[07-Dec-2026 22:00:00 UTC] Cookie: "],
    ),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.c2lnbmF0dXJl", ["eyJ"], []),
    ("    [HTTP_COOKIE] => wp_woocommerce_session_ab=Ses%7C1; x=1", ["Ses%7C1", "x=1"], []),
    ("    [HTTP_AUTHORIZATION] => Basic YWRtaW46aHVudGVyMg==", ["YWRtaW46aHVudGVyMg"], []),
    ("    [user_pass] => hunter2", ["hunter2"], ["[user_pass] => "]),
    ('{"user":"bob","password":"hunter 2","api_key":"k-123"}', ["hunter 2", "k-123"], ['"bob"']),
    ("log=admin&pwd=hunter2&rememberme=forever", ["hunter2"], ["log=admin"]),
    ("could not reach mysql://wp:Db-Pa55@db:3306/shop", ["Db-Pa55"], ["mysql://wp:"]),
    ("keys ck_" + "a" * 40 + " cs_" + "b" * 40, ["a" * 40, "b" * 40], ["keys"]),
    ("/checkout/order-received/12/?key=wc_order_Ab12Cd34", ["Ab12Cd34"], ["order-received/12"]),
    (  # a PHP warning keeps everything a merchant needs
        '[07-Dec-2026 22:00:00 UTC] PHP Warning:  Undefined array key "password" in '
        "/var/www/html/wp-content/plugins/x/x.php on line 12",
        [],
        ['Undefined array key "password"', "x.php on line 12"],
    ),
]


@pytest.mark.parametrize(("line", "secrets_", "kept"), REDACTIONS)
def test_redaction_takes_out_secrets_and_keeps_what_explains(
    line: str, secrets_: list[str], kept: list[str]
) -> None:
    out = redact(line)
    for secret in secrets_:
        assert secret not in out, out
    for part in kept:
        assert part in out, out
    if secrets_:
        assert REDACTED in out
    assert redact(out) == out  # redacting twice changes nothing


def test_a_php_stack_trace_stays_one_entry_and_entries_come_newest_first() -> None:
    written = [
        "[07-Dec-2026 22:00:00 UTC] PHP Notice:  first",
        "[07-Dec-2026 22:00:01 UTC] PHP Fatal error:  Uncaught Exception: boom in /x.php:3",
        "Stack trace:",
        "#0 {main}",
        "  thrown in /x.php on line 3",
        "[07-Dec-2026 22:00:02 UTC] PHP Warning:  last",
    ]
    got = list(entries([(None, line) for line in reversed(written)], LogSource.php))
    assert [e.text.splitlines()[0].split(":  ")[1] for e in got] == [
        "last", "Uncaught Exception: boom in /x.php:3", "first",
    ]  # fmt: skip
    assert got[1].text.splitlines()[1:] == [
        "Stack trace:",
        "#0 {main}",
        "  thrown in /x.php on line 3",
    ]
    assert got[1].at == dt.datetime(2026, 12, 7, 22, 0, 1, tzinfo=dt.UTC)


def test_since_search_and_limit() -> None:
    lines = [
        (
            None,
            f'10.0.0.{i} [2026-12-07T22:00:{i:02d}+00:00] "GET /p{i}?token=tok{i}" 200 1 0 "" MISS',
        )
        for i in range(10)
    ]
    newest_first = list(reversed(lines))
    since = dt.datetime(2026, 12, 7, 22, 0, 5, tzinfo=dt.UTC)
    page = collect(newest_first, LogQuery(LogSource.access, since=since), "kept")
    assert [e.text.split('"')[1] for e in page.entries] == [
        f"GET /p{i}?token={REDACTED}" for i in range(9, 4, -1)
    ]
    assert page.more is False
    limited = collect(newest_first, LogQuery(LogSource.access, limit=3), "kept")
    assert len(limited.entries) == 3 and limited.more is True
    # The search runs on what is shown: a redacted value is not found.
    assert collect(newest_first, LogQuery(LogSource.access, q="tok3"), "k").entries == []
    found = collect(newest_first, LogQuery(LogSource.access, q="/P3"), "k").entries
    assert [e.at for e in found] == [dt.datetime(2026, 12, 7, 22, 0, 3, tzinfo=dt.UTC)]


# -- a local store's files -----------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env=Environment.test, data_dir=tmp_path, sites_dir=tmp_path / "sites",
                    secret_key="k" * 40, store_log_max_mib=1)  # fmt: skip


def _store(settings: Settings) -> tuple[str, Path]:
    uid = new_store_uid()
    logs = local_logs.store_logs_dir(settings, uid)
    logs.mkdir(parents=True)
    local_logs.access_log_path(settings, uid).parent.mkdir(parents=True, exist_ok=True)
    return uid, logs


def _php(n: int, what: str = "Warning") -> str:
    return f"[07-Dec-2026 22:{n // 60:02d}:{n % 60:02d} UTC] PHP {what}:  message {n}\n"


def test_a_local_log_is_read_newest_first_across_its_rotated_file(settings: Settings) -> None:
    uid, logs = _store(settings)
    (logs / "php-error.log.1").write_text("".join(_php(n) for n in range(0, 5)))
    (logs / "php-error.log").write_text("".join(_php(n) for n in range(5, 8)))
    page = local_logs.read_store_log(settings, uid, LogQuery(LogSource.php, limit=6))
    assert [e.text.rsplit(" ", 1)[1] for e in page.entries] == ["7", "6", "5", "4", "3", "2"]
    assert page.more and "1 MiB" in page.kept
    # Another store's uid reads its own (absent) logs, not these.
    other = local_logs.read_store_log(settings, new_store_uid(), LogQuery(LogSource.php))
    assert other.entries == []


def test_what_a_store_puts_in_its_logs_directory_is_never_followed(
    settings: Settings, tmp_path: Path
) -> None:
    uid, logs = _store(settings)
    private = tmp_path / "platform-secret.txt"
    private.write_text("[07-Dec-2026 22:00:00 UTC] PHP Warning:  the platform's secret\n")
    # A link to a file the store could not read itself.
    (logs / "php-error.log").symlink_to(private)
    assert local_logs.read_store_log(settings, uid, LogQuery(LogSource.php)).entries == []
    # A FIFO would block a reader that opened it plainly.
    (logs / "php-error.log").unlink()
    os.mkfifo(logs / "php-error.log")
    done: list[Any] = []
    reader = threading.Thread(
        target=lambda: done.append(
            local_logs.read_store_log(settings, uid, LogQuery(LogSource.php))
        )
    )
    reader.start()
    reader.join(5)
    assert done and done[0].entries == []
    # A hard link to another file.
    (logs / "php-error.log").unlink()
    os.link(private, logs / "php-error.log")
    assert local_logs.read_store_log(settings, uid, LogQuery(LogSource.php)).entries == []
    if os.geteuid() == 0:  # a file of another owner than the store's
        (logs / "php-error.log").unlink()
        (logs / "php-error.log").write_text(private.read_text())
        os.chown(logs, 64000, 64000)
        assert local_logs.read_store_log(settings, uid, LogQuery(LogSource.php)).entries == []
        os.chown(logs / "php-error.log", 64000, 64000)
        assert len(local_logs.read_store_log(settings, uid, LogQuery(LogSource.php)).entries) == 1


def test_rotation_keeps_one_older_file_and_never_follows_a_link(
    settings: Settings, tmp_path: Path
) -> None:
    uid, logs = _store(settings)
    limit = settings.store_log_max_mib << 20
    log = logs / "php-error.log"
    for round_ in range(3):
        log.write_text(_php(round_) * (limit // len(_php(round_)) + 1))
        assert local_logs.rotate_store(settings, uid) == (False, False)
        assert not log.exists() and (logs / "php-error.log.1").read_text().startswith(_php(round_))
    assert sorted(p.name for p in logs.iterdir()) == ["php-error.log.1"]
    # Below the size: left alone.
    log.write_text(_php(9))
    assert not local_logs.rotate(log, limit) and log.exists()
    # The store puts a directory where the old file goes: the log is emptied.
    (logs / "php-error.log.1").unlink()
    (logs / "php-error.log.1").mkdir()
    log.write_text("x" * (limit + 1))
    assert local_logs.rotate(log, limit) and log.stat().st_size == 0
    # A link is not a log: neither it nor its target is touched.
    target = tmp_path / "big"
    target.write_text("y" * (limit + 1))
    log.unlink()
    log.symlink_to(target)
    assert not local_logs.rotate(log, limit) and target.stat().st_size == limit + 1
    # The access log: nginx must reopen it.
    access = local_logs.access_log_path(settings, uid)
    access.write_text("z" * (limit + 1))
    assert local_logs.rotate_store(settings, uid) == (True, False)
    assert access.with_name(access.name + ".1").stat().st_size == limit + 1


# -- a pod's output -------------------------------------------------------------------------


class _Core:
    """The CoreV1Api calls StoreLogs makes, answering with fixed output."""

    def __init__(self, output: dict[str, str]) -> None:
        self.output = output
        self.asked: list[dict[str, Any]] = []

    def list_namespaced_pod(self, ns: str, label_selector: str) -> Any:
        containers = [SimpleNamespace(name=name) for name in self.output]
        pod = SimpleNamespace(metadata=SimpleNamespace(name="store-abc"),
                              spec=SimpleNamespace(containers=containers))  # fmt: skip
        return SimpleNamespace(items=[pod])

    def read_namespaced_pod_log(self, pod: str, ns: str, container: str, **kw: Any) -> Any:
        self.asked.append({"container": container, **kw})
        data = self.output[container].encode()
        return SimpleNamespace(data=data, release_conn=lambda: None)


def _pod_logs(output: dict[str, str]) -> tuple[StoreLogs, _Core]:
    core = _Core(output)
    settings = Settings(env=Environment.test, secret_key="k" * 40)
    names = SimpleNamespace(namespace=lambda store: "store-shop")
    return StoreLogs(settings, SimpleNamespace(core=core), names), core  # type: ignore[arg-type]


def test_a_pods_output_is_split_into_access_and_php_lines() -> None:
    # Today's image: one container runs nginx and php-fpm; each line has the
    # kubelet's timestamp.
    one = "\n".join([
        '2026-12-07T22:00:00.1Z 10.0.0.1 [2026-12-07T22:00:00+00:00] "GET /a" 200 1 0 "" MISS',
        "2026-12-07T22:00:01.000000001Z [07-Dec-2026 22:00:01 UTC] PHP Fatal error:  Uncaught x",
        "2026-12-07T22:00:01.000000002Z Stack trace:",
        "2026-12-07T22:00:01.000000003Z #0 {main}",
        '2026-12-07T22:00:02.5Z 10.0.0.1 [2026-12-07T22:00:02+00:00] "GET /b?token=t0k" 500 1 0 ""',
        "2026-12-07T22:00:03Z 2026/12/07 22:00:03 [error] 9#9: *3 FastCGI sent in stderr",
    ]) + "\n"  # fmt: skip
    logs, core = _pod_logs({"wordpress": one})
    store: Any = SimpleNamespace(name="shop")
    access = logs.read(store, LogQuery(LogSource.access))
    assert [e.text.split('"')[1] for e in access.entries] == [f"GET /b?token={REDACTED}", "GET /a"]
    assert access.entries[0].at == dt.datetime(2026, 12, 7, 22, 0, 2, 500000, tzinfo=dt.UTC)
    php = logs.read(store, LogQuery(LogSource.php))
    first_lines = [e.text.splitlines()[0] for e in php.entries]
    assert len(first_lines) == 2, first_lines
    assert first_lines[0].endswith("FastCGI sent in stderr") and first_lines[1].endswith(
        "Uncaught x"
    )
    assert php.entries[1].text.splitlines()[1:] == ["Stack trace:", "#0 {main}"]
    asked = core.asked[-1]
    assert asked["timestamps"] is True and asked["tail_lines"] == 5000
    # Containers of their own are read by name and merged newest first.
    logs, core = _pod_logs({
        "nginx": '2026-12-07T22:00:05Z 1.1.1.1 [2026-12-07T22:00:05+00:00] "GET /n" 200 1 0 ""\n',
        "php": "2026-12-07T22:00:04Z [07-Dec-2026 22:00:04 UTC] PHP Warning:  w\n",
    })  # fmt: skip
    since = dt.datetime(2026, 12, 7, 22, 0, 4, 500000, tzinfo=dt.UTC)
    page = logs.read(store, LogQuery(LogSource.access, since=since))
    assert {a["container"] for a in core.asked} == {"nginx", "php"}
    ago = (dt.datetime.now(dt.UTC) - since).total_seconds()
    assert all(ago < a["since_seconds"] <= ago + 3 for a in core.asked)
    assert [e.text.split('"')[1] for e in page.entries] == ["GET /n"]
    assert [LogEntry(e.at, e.text) for e in logs.read(store, LogQuery(LogSource.php)).entries] == [
        LogEntry(dt.datetime(2026, 12, 7, 22, 0, 4, tzinfo=dt.UTC),
                 "[07-Dec-2026 22:00:04 UTC] PHP Warning:  w"),
    ]  # fmt: skip


def test_kubelet_timestamps() -> None:
    assert _kubelet_time("2026-12-07T22:00:00.123456789Z") == dt.datetime(
        2026, 12, 7, 22, 0, 0, 123456, tzinfo=dt.UTC
    )
    assert _kubelet_time("2026-12-07T22:00:00Z") == dt.datetime(2026, 12, 7, 22, tzinfo=dt.UTC)
    assert _kubelet_time("[07-Dec-2026") is None
