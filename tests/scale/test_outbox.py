"""The outbox under failure: backoff with jitter, Retry-After, the horizon, the failed
list and retry, message ids for edits, pacing that queues instead of tripping 429s."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Config
from bot.delivery import outbox
from bot.delivery.pacing import Limit, Pacer
from bot.delivery.records import listing as outbox_list
from bot.delivery.records import requeue
from bot.messages import Kind, Message, Target
from bot.ports import DeliveryContext, DeliveryError, PlatformRef
from entrypoints.bootstrap import Casebot
from storage.db import Database
from storage.models import MessageRef, OutboxRow


class Scripted:
    """A platform that answers from a script: ``ok``, ``429:<seconds>``, ``500``,
    ``gone`` (permanent); then ``ok`` forever."""

    name = "fake"

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.accepted: list[tuple[str, PlatformRef | None]] = []
        self.previous: list[PlatformRef | None] = []
        self._ids = itertools.count(1)

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        self.previous.append(ctx.previous)
        step = self.script.pop(0) if self.script else "ok"
        if step.startswith("429"):
            raise DeliveryError("rate limited", retry_after=float(step.split(":")[1]))
        if step == "500":
            raise DeliveryError("server error")
        if step == "gone":
            raise DeliveryError("channel_not_found", permanent=True)
        ref = (
            ctx.previous
            if message.update and ctx.previous
            else PlatformRef("C1", f"m{next(self._ids)}")
        )
        self.accepted.append((message.title, ref))
        return ref


def note(
    title: str,
    ref: str | None = None,
    update: bool = False,
    channel: str = "ops",
    case_key: str | None = None,
) -> Message:
    m = Message(
        kind=Kind.ALERT,
        target=Target.team(channel),
        title=title,
        ref=ref,
        update=update,
        case_key=case_key,
    )
    m.platform = "fake"
    return m


async def queue(bot: Casebot, *messages: Message) -> None:
    async with bot.units.work() as w:
        w.messages.extend(messages)


async def rows(db: Database) -> list[OutboxRow]:
    async with db.read() as s:
        return list((await s.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def make(
    db: Database, config: Config, clock: FakeClock, *script: str
) -> tuple[Casebot, Scripted]:
    bot = Casebot(config, db, clock=clock, worker_id="w1")
    platform = Scripted(*script)
    bot.register_adapter(platform)
    return bot, platform


async def test_retry_after_is_honoured_exactly_and_5xx_backs_off_with_jitter(
    sdb: Database, config: Config, clock: FakeClock
) -> None:
    bot, platform = await make(sdb, config, clock, "429:7", "500", "500")
    await queue(bot, note("hello"))
    await bot.drain()
    [row] = await rows(sdb)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=7)
    clock.advance(timedelta(seconds=7))
    await bot.drain()
    [row] = await rows(sdb)
    assert row.attempts == 2
    assert (
        clock.now()
        <= row.next_attempt_at
        <= clock.now() + timedelta(seconds=bot.runtime.retry.base * 2)
    )
    clock.advance(timedelta(seconds=4))
    await bot.drain()
    [row] = await rows(sdb)
    assert row.attempts == 3 and row.state == "pending"
    clock.advance(timedelta(seconds=8))
    await bot.drain()
    [row] = await rows(sdb)
    assert (row.state, row.attempts, row.platform_message_id) == ("sent", 4, "m1")
    assert [t for t, _ in platform.accepted] == ["hello"]


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = outbox.RetryPolicy(base=2.0, cap=60.0)
    for attempts, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0), (6, 60.0), (30, 60.0)):
        delays = [policy.delay(attempts, None) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.7 and min(delays) < ceiling * 0.3  # jitter spreads
    assert policy.delay(3, 12.5) == 12.5


async def test_given_up_after_the_horizon_listed_and_retried(
    sdb: Database, config: Config, clock: FakeClock
) -> None:
    bot, platform = await make(sdb, config, clock, *(["500"] * 50))
    bot.runtime.retry = outbox.RetryPolicy(base=1.0, cap=1.0, horizon=timedelta(minutes=5))
    await queue(bot, note("will fail"), note("gone for good"))
    platform.script.insert(1, "gone")
    for _ in range(12):
        await bot.drain()
        clock.advance(timedelta(seconds=30))
    first, second = await rows(sdb)
    assert second.state == "failed" and second.attempts == 1  # permanent: at once
    assert first.state == "failed" and first.attempts >= 10
    listed = await outbox_list(sdb, failed=True)
    assert [line.split()[0] for line in listed] == [f"#{first.id}", f"#{second.id}"]
    assert "server error" in listed[0] and "channel_not_found" in listed[1]
    assert await outbox_list(sdb, failed=False) == []

    platform.script.clear()
    assert await requeue(sdb, [second.id], clock.now()) == 1
    await bot.drain()
    assert [t for t, _ in platform.accepted] == ["gone for good"]
    assert await requeue(sdb, None, clock.now()) == 1
    await bot.drain()
    assert {r.state for r in await rows(sdb)} == {"sent"}


async def test_the_platform_message_id_is_kept_so_updates_edit_the_same_message(
    sdb: Database, config: Config, clock: FakeClock
) -> None:
    bot, platform = await make(sdb, config, clock)
    await queue(bot, note("v1", ref="status:1"))
    await bot.drain()
    await queue(bot, note("v2", ref="status:1", update=True))
    await bot.drain()
    assert platform.previous == [None, PlatformRef("C1", "m1")]
    async with sdb.read() as s:
        refs = (await s.scalars(select(MessageRef))).all()
    assert [(r.ref, r.message_id) for r in refs] == [("status:1", "m1")]
    assert [r.platform_message_id for r in await rows(sdb)] == ["m1", "m1"]


async def test_a_burst_queues_within_the_channels_limit(
    sdb: Database, config: Config, clock: FakeClock
) -> None:
    bot, platform = await make(sdb, config, clock)
    bot.runtime.pacer = Pacer(
        lambda: bot.runtime.coordination, limits={"fake": (Limit(2, 60.0),)}, max_wait=1.0
    )
    await queue(bot, *(note(f"n{i}") for i in range(5)), note("elsewhere", channel="billing"))
    await bot.drain()
    assert sorted(t for t, _ in platform.accepted) == ["elsewhere", "n0", "n1"]
    waiting = [r for r in await rows(sdb) if r.state == "pending"]
    assert len(waiting) == 3 and all(r.attempts == 0 for r in waiting)  # no attempt spent
    assert all(r.next_attempt_at > clock.now() + timedelta(seconds=50) for r in waiting)


async def test_a_429_blocks_the_channel_for_every_worker(
    sdb: Database, config: Config, clock: FakeClock
) -> None:
    bot, platform = await make(sdb, config, clock, "429:30")
    bot.runtime.pacer = Pacer(
        lambda: bot.runtime.coordination, limits={"fake": (Limit(100, 1.0),)}, max_wait=1.0
    )
    await queue(bot, note("first"))
    await bot.drain()
    slot = await bot.runtime.pacer.reserve("fake", "team:ops", max_wait=0)
    assert not slot.granted and 29 < slot.delay <= 31
    assert bot.runtime.pacer.blocked == 1


async def test_one_message_per_case_at_a_time(
    sdb: Database, config: Config, clock: FakeClock
) -> None:
    """Later messages of a case wait for earlier ones, even across claim batches."""
    bot, platform = await make(sdb, config, clock, "500")
    await queue(
        bot, *(note(f"c{i}", case_key="CASE-1") for i in range(3)), note("other", case_key="CASE-2")
    )
    ids = await outbox.claim(sdb, clock.now(), "w1", ["fake"], bot.runtime.retry)
    assert len(ids) == 2  # CASE-1's first and CASE-2's only
    await bot.runtime.dispatch().deliver_claimed(ids)
    await bot.drain()  # CASE-1's first failed: its others wait behind it
    assert [t for t, _ in platform.accepted] == ["other"]
    clock.advance(timedelta(seconds=5))
    await bot.drain()
    assert [t for t, _ in platform.accepted] == ["other", "c0", "c1", "c2"]
