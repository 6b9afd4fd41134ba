"""Logging set-up: plain text or JSON lines, quiet HTTP libraries, and no secret written out."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

REDACTED = "[REDACTED]"


class RedactingFormatter(logging.Formatter):
    """Replaces every secret in the finished line, traceback included, wherever it came from."""

    def __init__(self, secrets: Iterable[str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        # Real tokens and keys are long; masking a one-letter test value would mangle every line.
        self._secrets = tuple(s for s in secrets if len(s) >= 6)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))

    def redact(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        return line


class JsonFormatter(RedactingFormatter):
    """One JSON object per line; a record's `fields` (given as `extra`) become its keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, default=str))


def configure_logging(
    level: str, secrets: Iterable[str], log_format: Literal["text", "json"] = "text"
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(secrets)
        if log_format == "json"
        else RedactingFormatter(secrets, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram URLs carry the bot token.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access", "tornado.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
