"""The processes' logs: lines for people, or one JSON object a line for log
collectors (``STOREFLEET_LOG_FORMAT=json``), uvicorn's own loggers included."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from storefleet.config import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, process,
    thread, and the exception's traceback when there is one."""

    converter = time.gmtime  # type: ignore[assignment]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for noisy in ("huey", "httpx", "alembic", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
