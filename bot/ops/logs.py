"""Logging set-up: plain text or JSON lines, quiet HTTP libraries, and no secret or prompt
written out."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

REDACTED = "[REDACTED]"
WITHHELD = "[contents not logged: LOG_PROMPTS=false]"


class RedactingFormatter(logging.Formatter):
    """Replaces every secret in the finished line, traceback included, wherever it came from."""

    def __init__(self, secrets: Iterable[str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._secrets: tuple[str, ...] = ()
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        # Real tokens and keys are long; masking a one-letter test value would mangle every line.
        if len(secret) >= 6:
            self._secrets += (secret,)

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


@runtime_checkable
class Summarized(Protocol):
    """A value whose text may quote what a user wrote (an upstream error echoing the prompt),
    and that can say what it is without it."""

    def log_summary(self) -> str: ...


class WithholdContents(logging.Filter):
    """python-telegram-bot logs whole updates and API calls, texts and captions included, at
    DEBUG (and an update it cannot read at CRITICAL). Without LOG_PROMPTS the line stays (which
    endpoint was called, that an update arrived), and what users wrote is left out; so are the
    upstream's words in an error logged by the bot (it gets the error's summary instead)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.args, tuple):
            return True
        if record.name.startswith("telegram"):
            record.args = tuple(a if _cannot_hold_text(a) else WITHHELD for a in record.args)
        else:
            record.args = tuple(
                a.log_summary() if isinstance(a, Summarized) else a for a in record.args
            )
        return True


def _cannot_hold_text(value: object) -> bool:
    """A number, a name, a type or an error, but not an update, a message, API parameters or a
    results list, nor raw JSON."""
    if value is None or isinstance(value, int | float | type | BaseException):
        return True
    if isinstance(value, str):
        return not value.lstrip().startswith(("{", "["))
    if isinstance(value, list | tuple):
        return all(isinstance(item, int) for item in value)  # update ids
    return False


class QuietFailedStart(logging.Filter):
    """PTB logs a failed start (no network, a refused token) with its whole traceback, then
    raises it; the command line reports the reason in one line, which the traceback would bury."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Network Retry Loop (Bootstrap") and "Aborting" in message)


def configure_logging(
    level: str,
    secrets: Iterable[str],
    log_format: Literal["text", "json"] = "text",
    log_prompts: bool = False,
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(secrets)
        if log_format == "json"
        else RedactingFormatter(secrets, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    if not log_prompts:
        handler.addFilter(WithholdContents())
    # PTB's retry loops log through the `telegram.ext` logger itself.
    logging.getLogger("telegram.ext").addFilter(QuietFailedStart())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram URLs carry the bot token.
    # aiosqlite logs every statement with its parameters at DEBUG, prompts included.
    for noisy in ("httpx", "httpcore", "aiosqlite", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def mask(secret: str) -> None:
    """Mask `secret` in every log line from now on: for a value made after logging was set up
    (the random webhook secret)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, RedactingFormatter):
            handler.formatter.add_secret(secret)
