"""The policy on its own, over a real SQLite ledger, with injected clocks instead of sleeps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import AccessSettings
from bot.domain import Order, Outcome
from bot.jobs.model import Closing, JobOptions, NewJob, Requester
from bot.jobs.policy import (
    CoolingDown,
    DailyImagesReached,
    MonthlyBudgetReached,
    Policy,
    TooManyInFlight,
)
from bot.store.storage import Payment, Storage
from tests.conftest import OpenStore

ORDER = Order("a fox", "google/gemini-3.1-flash-image", "1:1", "1K")


class Clocks:
    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)


async def _policy(
    open_store: OpenStore,
    clocks: Clocks,
    selling: bool = False,
    storage: Storage | None = None,
    **access: object,
) -> tuple[Policy, Storage]:
    storage = storage or await open_store()
    # model_validate reads no environment: only what the test says.
    settings = AccessSettings.model_validate({"allow_everyone": True, **access})
    return Policy(settings, storage, clock=lambda: clocks.wall, selling=selling), storage


async def _submit(policy: Policy, storage: Storage, who: Requester, images: int = 1) -> int:
    job = NewJob(who, ORDER, "photo", (), 0.067 * images, policy.now())
    job = dataclasses.replace(job, options=JobOptions(images=images))
    return await policy.admit(
        who,
        lambda store, funding: store.open_job(dataclasses.replace(job, funding=funding)),
        images,
        cost_usd=job.estimated_cost_usd,
    )


async def test_requests_in_flight_per_user_are_capped_until_their_picture_is_made(
    open_store: OpenStore,
) -> None:
    policy, storage = await _policy(open_store, Clocks(), user_max_in_flight=2)
    alice = Requester(1, chat_id=1)
    first = await _submit(policy, storage, alice)
    await _submit(policy, storage, alice)
    with pytest.raises(TooManyInFlight):
        await _submit(policy, storage, alice)
    await _submit(policy, storage, Requester(2, chat_id=2))  # others are not held up
    # The first one's picture is made: its upload does not hold Alice's next request.
    [claimed, *_] = await storage.claim("w", datetime.now(UTC) + timedelta(minutes=1), 5)
    assert claimed.id == first
    await storage.slot_released(first, claimed.attempt)
    await _submit(policy, storage, alice)
    await storage.close()


async def test_the_group_cooldown_runs_on_the_clock_and_holds_across_replicas(
    open_store: OpenStore,
) -> None:
    clocks = Clocks()
    policy, storage = await _policy(
        open_store, clocks, group_cooldown_seconds=5, user_max_in_flight=10
    )
    # Another replica: its own policy, and (PostgreSQL) its own connections.
    other, other_storage = await _policy(
        open_store,
        clocks,
        storage=storage if storage.exclusive else None,
        group_cooldown_seconds=5,
        user_max_in_flight=10,
    )
    member = Requester(1, chat_id=-100, in_group=True)
    await _submit(policy, storage, member)
    clocks.advance(2)
    with pytest.raises(CoolingDown) as caught:
        await _submit(other, other_storage, member)
    assert round(caught.value.wait_seconds) == 3
    await _submit(policy, storage, Requester(1, chat_id=1))  # a private chat has none
    await _submit(policy, storage, Requester(2, chat_id=-100, in_group=True))  # nor another
    clocks.advance(3)
    await _submit(other, other_storage, member)
    with pytest.raises(CoolingDown):
        await _submit(policy, storage, member)
    for opened in {storage, other_storage}:
        await opened.close()


async def test_a_monthly_budget_must_hold_the_new_requests_own_cost(
    open_store: OpenStore,
) -> None:
    policy, storage = await _policy(
        open_store, Clocks(), user_monthly_budget_usd=0.2, user_max_in_flight=9
    )
    erin = Requester(6, chat_id=6)
    first = await _submit(policy, storage, erin)
    await storage.close_request(Closing(first, Outcome.OK, 0.067, False, 1))
    with pytest.raises(MonthlyBudgetReached) as caught:
        await _submit(policy, storage, erin, images=4)  # $0.067 + $0.268 would pass $0.20
    assert caught.value.spent_usd == pytest.approx(0.067)
    await _submit(policy, storage, erin)  # $0.134 in all: within the budget
    with pytest.raises(MonthlyBudgetReached):
        await _submit(policy, storage, erin)  # $0.201 would not be
    await storage.close()


async def test_the_daily_quota_counts_open_jobs_and_resets_at_midnight_utc(
    open_store: OpenStore,
) -> None:
    clocks = Clocks()
    policy, storage = await _policy(open_store, clocks, user_daily_images=2, user_max_in_flight=9)
    bob = Requester(3, chat_id=3)
    first = await _submit(policy, storage, bob)
    await storage.close_request(Closing(first, Outcome.OK, 0.067, False, 1))
    await _submit(policy, storage, bob)  # still queued: it counts
    with pytest.raises(DailyImagesReached) as caught:
        await _submit(policy, storage, bob)
    assert caught.value.resets_at == datetime(2026, 11, 26, tzinfo=UTC)
    clocks.advance(3600)  # past midnight UTC
    await _submit(policy, storage, bob)
    await storage.close()


async def test_a_x4_request_must_fit_the_days_images_whole_and_credits_pay_for_none(
    open_store: OpenStore,
) -> None:
    policy, storage = await _policy(
        open_store, Clocks(), selling=True, user_daily_images=5, user_max_in_flight=1
    )
    dave = Requester(5, chat_id=5)

    async def ask(who: Requester, images: int) -> int:
        return await _submit(policy, storage, who, images)

    first = await ask(dave, 4)
    # One request in flight, though four images: USER_MAX_IN_FLIGHT counts requests.
    with pytest.raises(TooManyInFlight):
        await _submit(policy, storage, dave)
    await storage.close_request(Closing(first, Outcome.OK, 0.268, False, 1))
    assert (await storage.spend(5, policy.now())).images == 4
    await storage.add_payment(Payment("c1", 5, credits=9, stars=100))
    with pytest.raises(DailyImagesReached) as caught:
        await ask(dave, 4)  # 1 of 5 left, and a credit pays for one picture only
    assert (caught.value.asked, caught.value.left, caught.value.limit) == (4, 1, 5)
    assert await storage.credits(5) == 9
    last = await ask(dave, 1)  # the last free one
    await storage.close_request(Closing(last, Outcome.OK, 0.067, False, 1))
    await ask(dave, 1)  # then a credit
    assert await storage.credits(5) == 8
    await storage.close()


async def test_admins_have_no_limits(open_store: OpenStore) -> None:
    policy, storage = await _policy(
        open_store, Clocks(), admin_user_ids="9", user_daily_images=1, user_max_in_flight=1
    )
    admin = Requester(9, chat_id=9)
    for _ in range(3):
        await _submit(policy, storage, admin)
    await storage.close()


async def test_a_failed_write_does_not_hold_the_users_place(open_store: OpenStore) -> None:
    policy, storage = await _policy(open_store, Clocks(), user_max_in_flight=1)
    carol = Requester(4, chat_id=4)

    async def refused(_store: object, _funding: object) -> int:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await policy.admit(carol, refused, cost_usd=0.067)
    await _submit(policy, storage, carol)
    await storage.close()
