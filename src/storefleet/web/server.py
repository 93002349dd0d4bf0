"""How uvicorn serves the app, shared by ``storefleet api`` and the tests.

Forwarded headers are believed from ``STOREFLEET_TRUSTED_PROXIES`` only:
there uvicorn sets the client address (from X-Forwarded-For: the nearest
address that is not a trusted proxy) and the scheme (X-Forwarded-Proto), which
the throttle, the rate limit, the audit log, HSTS and the session cookie's
Secure flag all use. The access log never shows the value of a query
parameter that may hold a secret.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from storefleet.config import Settings

_SECRET_PARAMS = re.compile(r"(?i)([?&](?:access_token|token|password|secret|key|code)=)[^&\s]*")


class RedactQuerySecrets(logging.Filter):
    """Blanks the values of secret-looking query parameters in access-log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            redacted = _SECRET_PARAMS.sub(r"\1REDACTED", args[2])
            record.args = (*args[:2], redacted, *args[3:])
        return True


def log_config(json_lines: bool = False) -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": RedactQuerySecrets}}
    config["handlers"]["access"]["filters"] = ["redact"]
    if json_lines:  # STOREFLEET_LOG_FORMAT=json: uvicorn's lines as JSON objects too
        for name in ("default", "access"):
            config["formatters"][name] = {"()": "storefleet.logs.JsonFormatter"}
    return config


def server_options(settings: Settings) -> dict[str, Any]:
    trusted = settings.trusted_proxies
    return {
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "server_header": False,
        "log_config": log_config(settings.log_format == "json"),
    }
