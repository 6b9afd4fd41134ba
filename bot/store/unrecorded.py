"""Stars payments the database did not take, kept in an append-only file until it does."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from bot.store.storage import Payment, Storage, database_failure

log = logging.getLogger(__name__)

FILE_NAME = "unrecorded-payments.jsonl"
# A payment is written this many times, a second or so apart, before it is kept in the file.
WRITE_ATTEMPTS = 3

T = TypeVar("T")


class Event(StrEnum):
    PAID = "paid"  # Telegram took the Stars; the payments table did not take the payment
    REFUNDED = "refunded"  # its Stars went back before the table took it: never to be credited


@dataclass(frozen=True, slots=True)
class KeptPayment:
    """A payment waiting for the database, with what is needed to tell its payer once it is
    credited."""

    payment: Payment
    payload: str
    language: str


async def write_retrying(
    write: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`write()`, tried again while the database fails; its last failure is raised."""
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(WRITE_ATTEMPTS),
        wait=wait_exponential(multiplier=0.5, max=2),
        retry=retry_if_exception(database_failure),
        reraise=True,
        sleep=sleep,
    ):
        with attempt:
            return await write()
    raise AssertionError("unreachable: tenacity reraises the last failure")


class UnrecordedPayments:
    """The file DATA_DIR/unrecorded-payments.jsonl: one JSON object a line, only ever appended
    to (one short write each, so replicas sharing DATA_DIR never mix their lines). At each start
    its payments are written to the database (a charge id is credited once however often), so
    the file also stays a record of every time the database failed a payer."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def keep(self, kept: KeptPayment) -> None:
        """Append the payment; OSError if it cannot be written down."""
        payment = asdict(kept.payment)
        del payment["refunded"]  # known from the file's own lines
        self._append(
            {"event": Event.PAID, **payment, "payload": kept.payload, "language": kept.language}
        )

    def refunded(self, charge_id: str) -> None:
        """Its Stars went back: a kept payment with this charge id is never credited."""
        kept = self.find(charge_id)
        if kept is not None and not kept.payment.refunded:
            self._append({"event": Event.REFUNDED, "charge_id": charge_id})

    def kept(self) -> list[KeptPayment]:
        """Every kept payment, oldest first, refunded or not (and recorded since or not: the file
        is not told)."""
        paid: dict[str, Payment] = {}
        extra: dict[str, tuple[str, str]] = {}
        refunded: set[str] = set()
        for line in self._lines():
            charge = line["charge_id"]
            if line["event"] == Event.REFUNDED:
                refunded.add(charge)
            elif charge not in paid:
                paid[charge] = Payment(charge, line["user_id"], line["credits"], line["stars"])
                extra[charge] = (line["payload"], line["language"])
        return [
            KeptPayment(dataclasses.replace(p, refunded=c in refunded), *extra[c])
            for c, p in paid.items()
        ]

    def waiting(self) -> list[KeptPayment]:
        """The kept payments to be credited: not refunded."""
        return [k for k in self.kept() if not k.payment.refunded]

    def find(self, charge_id: str) -> KeptPayment | None:
        return next((k for k in self.kept() if k.payment.charge_id == charge_id), None)

    async def unrecorded(self, storage: Storage) -> list[KeptPayment]:
        """The kept payments the database still lacks."""
        return [k for k in self.waiting() if await storage.payment(k.payment.charge_id) is None]

    async def record(self, storage: Storage) -> list[KeptPayment]:
        """Write the kept payments to the database; those credited now (the others were before,
        or still cannot be, and then wait for the next start)."""
        credited = []
        for kept in self.waiting():
            try:
                if await storage.add_payment(kept.payment):
                    credited.append(kept)
            except Exception as exc:
                log.error(
                    "payment %s of user %s is still not recorded (%s); kept in %s",
                    kept.payment.charge_id,
                    kept.payment.user_id,
                    exc,
                    self.path,
                )
        return credited

    def _append(self, line: dict[str, Any]) -> None:
        data = (json.dumps({"at": datetime.now(UTC).isoformat(), **line}) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _lines(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        lines = []
        for number, raw in enumerate(text.splitlines(), start=1):
            try:
                lines.append(json.loads(raw))
            except ValueError:
                log.error("%s line %d is not JSON; skipped: %r", self.path, number, raw[:200])
        return lines
