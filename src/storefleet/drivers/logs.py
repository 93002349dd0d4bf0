"""A store's logs, the same for both drivers: what a merchant asks for (PHP's
errors or the access log, since when, a search, how many), what a line is
(an entry: a time and its text, a PHP stack trace kept with its message),
and what is taken out of every line before anyone sees it (:func:`redact`).

The drivers only say where the lines come from — local stores' files
(``local/logs.py``), a Kubernetes store's pod (``kubernetes/logs.py``) — and
hand them here newest first; :func:`collect` groups, redacts, filters and
stops at the limit. A line is only found by a search that its redacted
text matches too, so that a search cannot be used to guess a redacted value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class LogSource(StrEnum):
    #: PHP's errors (warnings, notices, fatal errors, uncaught exceptions,
    #: error_log()) and the messages of the store's serving processes.
    php = "php"
    #: The web server's access log: one line a request.
    access = "access"


@dataclass(frozen=True)
class LogQuery:
    source: LogSource
    #: Only entries at or after this time (aware, UTC).
    since: dt.datetime | None = None
    #: Only entries whose (redacted) text holds this, in any case.
    q: str | None = None
    limit: int = 200


@dataclass(frozen=True)
class LogEntry:
    #: None when the line carries no time the platform can read.
    at: dt.datetime | None
    text: str


@dataclass(frozen=True)
class LogPage:
    entries: list[LogEntry]
    #: The limit was reached: older entries may match too.
    more: bool
    #: What the platform keeps of this log and for how long, in words.
    kept: str


#: An entry longer than this is cut (a runaway print_r of a whole request).
MAX_ENTRY_CHARS = 4000
REDACTED = "[redacted]"

# -- what a line is -------------------------------------------------------------------

#: Lines of a PHP message that follow its first: a stack trace, "thrown in",
#: a chained exception. Anything else starts an entry of its own.
_CONTINUATION = re.compile(r"^(?:\s|#\d+ |Stack trace:|PHP Stack trace:|PHP\s+\d+\.|Next )")
#: An access-log line: a client (or X-Forwarded-For's list), its time in
#: brackets — nginx's ISO 8601 (StoreFleet's format) or Apache's common
#: log format — then the quoted request.
_ACCESS = re.compile(
    r"^.{0,400}? (?:\S+ \S+ )?\[(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[^\]]*"
    r"|\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] \""
)
_ISO_TIME = re.compile(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)\]")
#: PHP's error log: "[12-Jun-2026 10:00:00 UTC] PHP Warning:  ..." (php-fpm's
#: own log: the same without the zone, in the machine's time).
_PHP_TIME = re.compile(r"^\[(\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d)(?: ([A-Za-z_/+\-0-9]+))?\]")


def is_access_line(text: str) -> bool:
    """Whether a line of a web server's output is an access-log line (a pod
    whose one container runs nginx and php-fpm mixes both in its output)."""
    return _ACCESS.match(text) is not None


def continues_entry(text: str) -> bool:
    return _CONTINUATION.match(text) is not None


def line_time(text: str) -> dt.datetime | None:
    """The time a local log line carries (nginx's ISO 8601, PHP's error log)."""
    if m := _PHP_TIME.match(text):
        try:
            at = dt.datetime.strptime(m.group(1), "%d-%b-%Y %H:%M:%S")
        except ValueError:
            return None
        return at.replace(tzinfo=_zone(m.group(2))).astimezone(dt.UTC)
    if m := _ISO_TIME.search(text[:450]):
        try:
            at = dt.datetime.fromisoformat(m.group(1))
        except ValueError:
            return None
        return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    return None


def _zone(name: str | None) -> dt.tzinfo | None:
    if not name or name == "UTC":
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


# -- what nobody sees -----------------------------------------------------------------

#: Query arguments whose values are kept (they say what was asked for and are
#: nobody's secret); every other argument's value is redacted.
KEPT_QUERY_ARGUMENTS = frozenset(
    {
        "action", "add-to-cart", "currency", "lang", "order", "orderby", "p", "page",
        "page_id", "paged", "per_page", "post", "post_type", "product_cat", "product_tag",
        "rest_route", "section", "tab", "taxonomy", "v", "ver", "wc-ajax", "wc-api",
    }
)  # fmt: skip
_QUOTED = r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
#: Headers (and PHP's $_SERVER names of them) whose whole value is a secret.
_HEADER = re.compile(
    r"(?im)(?P<name>\b(?:HTTP_)?(?:SET[-_])?COOKIE|\b(?:HTTP_)?(?:PROXY[-_])?AUTHORIZATION"
    r"|\bPHP_AUTH_(?:PW|USER)|\bX[-_](?:WP[-_]NONCE|API[-_]KEY|AUTH[-_]TOKEN|CSRF[-_]TOKEN))"
    r"(?P<close>[\"'\]]?)(?P<sep>\s*(?:=>|:|=)\s*)(?P<value>" + _QUOTED + r"|[^\n]*)"
)
#: Names whose values are secrets wherever they appear: name=value,
#: name: value, "name": "value", [name] => value.
_SECRET_NAME = (
    r"pass(?:word|wd|phrase)?|pwd|secret|token|nonce|cookie|session|sessid|signature"
    r"|auth|api_?key|apikey|private_?key|credential|logged_in|wordpress_sec|otp"
)
# (A name starts where no name character precedes it, and its parts are
# taken possessively: a long run of word characters costs one pass, not a
# pass from each of its characters.)
_NAMED = re.compile(
    r"(?i)(?<![\w\-\[\]])(?P<name>[\w\-\[]*?(?:" + _SECRET_NAME + r")[\w\-\]]*+)"
    r"(?P<close>[\"']?)(?P<sep>\s*(?:=>|=|:)\s*)"
    r"(?P<value>(?![\"']?\[redacted\])(?:" + _QUOTED + r"|[^\s,;&)}\]\"'<>]++))"
)
_QUERY = re.compile(r"\?(?P<query>[^\s\"'<>`]+)")
_PAIR = re.compile(r"(?P<name>[^&=;#]+)=(?P<value>[^&;#]*)")
_BEARER = re.compile(r"(?i)\b(?P<scheme>bearer|basic|digest)\s+[A-Za-z0-9\-._~+/]{8,}=*")
_USERINFO = re.compile(
    r"(?i)(?<![a-z0-9+.\-])(?P<scheme>[a-z][a-z0-9+.\-]*+://)"
    r"(?P<user>[^\s:/@\"']++):[^\s@/\"']++@"
)
_TOKENS = re.compile(
    r"\b(?:ck|cs)_[0-9a-f]{40}\b"  # WooCommerce REST API keys
    r"|\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]+"  # JWTs (a platform or plugin token)
    r"|\bwc_order_[A-Za-z0-9]{6,}"  # an order key: a guest's way into their order
)


def _quoted(value: str) -> str:
    return f"{value[0]}{REDACTED}{value[0]}" if value[:1] in ("'", '"') else REDACTED


def _header(m: re.Match[str]) -> str:
    return m["name"] + m["close"] + m["sep"] + _quoted(m["value"])


def _named(m: re.Match[str]) -> str:
    return m["name"] + m["close"] + m["sep"] + _quoted(m["value"])


def _query(m: re.Match[str]) -> str:
    def pair(p: re.Match[str]) -> str:
        name = p["name"]
        keep = name.lower() in KEPT_QUERY_ARGUMENTS or not p["value"]
        return p[0] if keep else f"{name}={REDACTED}"

    return "?" + _PAIR.sub(pair, m["query"])


def redact(text: str) -> str:
    """The line without what must never be shown: cookies, Authorization
    and other credential headers, query arguments' values (but a few that
    only say what was asked for), anything named like a password, token,
    nonce, session or key, passwords in URLs, WooCommerce API keys and
    order keys, and JWTs."""
    text = _HEADER.sub(_header, text)
    text = _BEARER.sub(lambda m: f"{m['scheme']} {REDACTED}", text)
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    text = _QUERY.sub(_query, text)
    text = _NAMED.sub(_named, text)
    return _TOKENS.sub(REDACTED, text)


# -- from lines to a page ----------------------------------------------------------------

#: A raw line, newest first: its time if the transport knows it (the
#: kubelet's), else None (read from the text), and its text.
RawLine = tuple[dt.datetime | None, str]


def entries(lines: Iterable[RawLine], source: LogSource) -> Iterator[LogEntry]:
    """Lines (newest first) as entries (newest first): a PHP message's
    continuation lines (they come first, read backwards) join the line that
    began it."""
    tail: list[str] = []
    for at, text in lines:
        text = text.rstrip("\r\n")
        if not text:
            continue
        if source is LogSource.php and continues_entry(text):
            tail.append(text)
            if len(tail) > 200:  # no start in sight: let the oldest go on its own
                yield LogEntry(None, tail.pop(0))
            continue
        full = "\n".join([text, *reversed(tail)]) if tail else text
        tail = []
        yield LogEntry(at or line_time(text), full)
    if tail:  # the oldest lines, whose start was not read
        yield LogEntry(None, "\n".join(reversed(tail)))


def collect(lines: Iterable[RawLine], query: LogQuery, kept: str) -> LogPage:
    """The page the merchant asked for: redacted entries, newest first,
    since ``query.since``, matching ``query.q``, at most ``query.limit``."""
    needle = query.q.casefold() if query.q else None
    found: list[LogEntry] = []
    for entry in entries(lines, query.source):
        if query.since is not None and entry.at is not None and entry.at < query.since:
            break  # the rest is older still
        if len(found) == query.limit:
            return LogPage(found, more=True, kept=kept)
        # Cut before redacting too: a runaway entry costs no more than a long one.
        raw = entry.text[: 2 * MAX_ENTRY_CHARS]
        if needle is not None and needle not in raw.casefold():
            continue  # (a search that only a redacted value matches finds nothing)
        text = redact(raw)
        if len(text) > MAX_ENTRY_CHARS:
            text = text[:MAX_ENTRY_CHARS] + " …"
        if needle is not None and needle not in text.casefold():
            continue
        found.append(LogEntry(entry.at, text))
    return LogPage(found, more=False, kept=kept)
