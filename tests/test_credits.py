"""Credit balances in the database: a payment credited once, a credit taken with its job and
given back only by the job's first closing without a picture, a refund taking back what is left;
and the packs on sale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import credits
from bot.config import StarPack, StarsSettings
from bot.domain import Funding, Order, Outcome
from bot.jobs.model import Closing, NewJob, Requester
from bot.store.drivers import DatabaseError
from bot.store.storage import CreditsExhausted, Payment
from bot.store.unrecorded import KeptPayment, UnrecordedPayments, write_retrying
from tests.conftest import OpenStore

ORDER = Order("a fox", "google/gemini-3.1-flash-image", "1:1", "1K")


def _job(user_id: int, funding: Funding) -> NewJob:
    return NewJob(
        Requester(user_id, user_id), ORDER, "photo", (), 0.067, datetime.now(UTC), funding=funding
    )


async def test_balances_move_with_payments_jobs_and_refunds(open_store: OpenStore) -> None:
    storage = await open_store()
    assert await storage.add_payment(Payment("c1", 5, credits=2, stars=50))
    assert not await storage.add_payment(Payment("c1", 5, credits=2, stars=50))
    assert await storage.credits(5) == 2

    failed = await storage.open_job(_job(5, Funding.CREDIT))
    delivered = await storage.open_job(_job(5, Funding.CREDIT))
    assert await storage.credits(5) == 0
    with pytest.raises(CreditsExhausted, match="no credits left"):
        await storage.open_job(_job(5, Funding.CREDIT))
    await storage.open_job(_job(5, Funding.FREE))  # the free allowance needs no credit

    await storage.close_request(Closing(failed, Outcome.PROVIDER_ERROR, 0.0, False, 10))
    # The same closing written again (the ledger retries) gives nothing back twice.
    await storage.close_request(Closing(failed, Outcome.PROVIDER_ERROR, 0.0, False, 10))
    await storage.close_request(Closing(delivered, Outcome.OK, 0.067, False, 10))
    assert await storage.credits(5) == 1

    assert await storage.refund_payment("c1")
    assert not await storage.refund_payment("c1")
    assert await storage.credits(5) == 0  # one credit left of two: never below zero
    payment = await storage.payment("c1")
    assert payment is not None and payment.refunded
    await storage.close()


def test_packs_on_sale() -> None:
    per_image = StarsSettings.model_validate({"per_image": 8})
    assert per_image.offers == (StarPack(10, 80), StarPack(50, 400), StarPack(200, 1600))
    packs = StarsSettings.model_validate({"per_image": 8, "packs": "50:600, 10:150"})
    assert packs.offers == (StarPack(10, 150), StarPack(50, 600))
    assert not StarsSettings.model_validate({}).enabled
    with pytest.raises(ValueError, match="images:stars"):
        StarsSettings.model_validate({"packs": "ten"})

    offers = packs.offers
    assert credits.on_sale("pack:10:150", "XTR", 150, offers) == StarPack(10, 150)
    assert credits.on_sale("pack:10:150", "USD", 150, offers) is None
    assert credits.on_sale("pack:10:150", "XTR", 1, offers) is None
    assert credits.on_sale("pack:10:80", "XTR", 80, offers) is None  # no longer sold so
    assert credits.on_sale("anything", "XTR", 150, offers) is None


async def test_kept_payments_are_credited_once_and_refunded_ones_never(
    open_store: OpenStore, tmp_path: Path
) -> None:
    storage = await open_store()
    unrecorded = UnrecordedPayments(tmp_path / "kept")
    assert unrecorded.waiting() == []  # no file yet
    kept = KeptPayment(Payment("k1", 5, credits=2, stars=50), "pack:2:50", "ru")
    unrecorded.keep(kept)
    unrecorded.keep(KeptPayment(Payment("k2", 5, credits=10, stars=200), "pack:10:200", "en"))
    unrecorded.refunded("k2")  # its Stars went back before the database took it
    unrecorded.refunded("k9")  # a charge never kept: nothing to write down
    assert [k.payment.charge_id for k in await unrecorded.unrecorded(storage)] == ["k1"]
    refunded = unrecorded.find("k2")
    assert refunded is not None and refunded.payment.refunded

    assert await unrecorded.record(storage) == [kept]
    assert await unrecorded.record(storage) == []  # the next start: credited already
    assert await storage.credits(5) == 2
    assert await unrecorded.unrecorded(storage) == []
    assert len(unrecorded.path.read_text().splitlines()) == 3  # only ever appended to


async def test_a_write_is_tried_again_while_the_database_fails() -> None:
    attempts: list[int] = []
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    async def flaky() -> bool:
        attempts.append(1)
        if len(attempts) < 3:
            raise DatabaseError("database or disk is full")
        return True

    assert await write_retrying(flaky, sleep=pause)
    assert len(attempts) == 3 and len(pauses) == 2

    async def broken() -> bool:
        attempts.append(1)
        raise DatabaseError("still full")

    attempts.clear()
    with pytest.raises(DatabaseError, match="still full"):
        await write_retrying(broken, sleep=pause)
    assert len(attempts) == 3

    async def wrong() -> bool:
        attempts.append(1)
        raise ValueError("not the database")

    attempts.clear()
    with pytest.raises(ValueError, match="not the database"):
        await write_retrying(wrong, sleep=pause)
    assert len(attempts) == 1


async def test_a_refund_takes_back_the_credits_open_jobs_hold(open_store: OpenStore) -> None:
    """Credits a refund cannot take from the balance, because open jobs hold them, are taken
    from those jobs: ending without a picture, they give nothing back."""
    storage = await open_store()
    await storage.add_payment(Payment("c1", 5, credits=2, stars=50))
    held = [await storage.open_job(_job(5, Funding.CREDIT)) for _ in range(2)]
    await storage.add_payment(Payment("c2", 5, credits=1, stars=25))
    assert await storage.credits(5) == 1
    assert await storage.refund_payment("c1")  # 1 from the balance, 1 from an open job
    assert await storage.credits(5) == 0
    for job_id in held:
        await storage.close_request(Closing(job_id, Outcome.PROVIDER_ERROR, 0.0, False, 10))
    assert await storage.credits(5) == 1  # only the credit c2 bought, back from the other job
    await storage.close()


async def test_a_credit_job_cancelled_once_sent_upstream_is_paid(open_store: OpenStore) -> None:
    """Cancelled while queued, a job gives its credit back; cancelled once its upstream call was
    made (the upstream bills it), it keeps it and counts at its estimate."""
    storage = await open_store()
    await storage.add_payment(Payment("c1", 6, credits=2, stars=50))
    queued = await storage.open_job(_job(6, Funding.CREDIT))
    sent = await storage.open_job(_job(6, Funding.CREDIT))
    taken = await storage.take_queued(queued, "w")
    assert taken is not None
    await storage.close_request(Closing(queued, Outcome.CANCELLED, 0.0, False, 10, taken.attempt))
    [running] = await storage.claim("w", datetime.now(UTC) + timedelta(minutes=1), 5)
    assert (running.id, running.upstream_sent) == (sent, True)
    await storage.close_request(Closing(sent, Outcome.CANCELLED, 0.067, True, 10, running.attempt))
    assert await storage.credits(6) == 1
    spent = await storage.spend(6, datetime.now(UTC) - timedelta(days=1))
    assert spent.images == 1
    assert spent.cost_usd == pytest.approx(0.067)
    await storage.close()
