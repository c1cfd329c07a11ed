"""Coordination in one process and through Redis: de-duplication, case locks, shared rate
windows, wake-ups, and serving on without Redis until it returns."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from bot.delivery.pacing import COLD, DEFAULT_LIMITS, MARGIN, MARGIN_SECONDS, Pacer
from storage.coordination import LocalCoordination, RedisCoordination, Window
from tests.scale.conftest import RedisServer, until

pytestmark = pytest.mark.redis


class Ticks:
    """A settable clock for LocalCoordination."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_a_window_log_allows_bursts_then_the_rate() -> None:
    ticks = Ticks()
    local = LocalCoordination(now=ticks)
    w = [Window("ch", 3, 3.0)]
    delays = [round((await local.reserve(w, max_wait=100)).delay, 6) for _ in range(7)]
    assert delays == [0, 0, 0, 3, 3, 3, 6]
    refused = await local.reserve(w, max_wait=5)
    assert not refused.granted and refused.delay == 6
    ticks.t += 6  # the 7th send's moment: two more fit beside it, then none
    assert [(await local.reserve(w, max_wait=0)).granted for _ in range(3)] == [True, True, False]


async def test_the_first_window_after_a_pause_is_counted_late() -> None:
    """Its first request may open a connection and reach the platform late, starting
    the platform's window late: the next window waits for that."""
    ticks = Ticks()
    local = LocalCoordination(now=ticks)
    log = [Window("route", 2, 5.0, cold=0.25)]
    assert [(await local.reserve(log, 100)).delay for _ in range(3)] == [0, 0, 5.25]
    bucket = [Window("ch", 1, 1.0, burst=2, cold=0.25)]
    assert [(await local.reserve(bucket, 100)).delay for _ in range(4)] == [0, 0, 1.25, 2.25]
    ticks.t += 60  # idle again: cold again
    assert [(await local.reserve(bucket, 100)).delay for _ in range(4)] == [0, 0, 1.25, 2.25]


async def test_a_token_bucket_allows_its_burst_then_its_rate() -> None:
    ticks = Ticks()
    local = LocalCoordination(now=ticks)
    w = [Window("ch", 1, 1.0, burst=3)]
    delays = [round((await local.reserve(w, max_wait=100)).delay, 6) for _ in range(6)]
    assert delays == [0, 0, 0, 1, 2, 3]
    ticks.t += 10  # idle: the bucket refills to its burst, no more
    delays = [round((await local.reserve(w, max_wait=100)).delay, 6) for _ in range(4)]
    assert delays == [0, 0, 0, 1]
    await local.block(w[0], 5.0)
    assert not (slot := await local.reserve(w, max_wait=0)).granted and slot.delay >= 5


def test_paced_sends_never_trip_slacks_or_discords_limiters() -> None:
    """Send as fast as the pacer allows (with network jitter) into model limiters: a
    token bucket (Slack's 1/s per channel with a burst) and fixed windows (Discord's 5
    per 5 s per route, 50 per second globally): no send is ever refused, and the rate
    reaches >= 90 % of what each limiter allows."""
    import random

    rng = random.Random(7)

    async def run() -> None:
        ticks = Ticks()
        local = LocalCoordination(now=ticks)
        pacer = Pacer(lambda: local, max_wait=1e9)
        # Slack: one channel, 200 messages; bucket of 3, refilled at 1/s.
        start, tokens, last = ticks.t, 3.0, ticks.t
        arrivals = []
        for _ in range(200):
            slot = await pacer.reserve("slack", "C1", max_wait=1e9)
            arrivals.append(ticks.t + slot.delay + rng.uniform(0, 0.015))  # with jitter
        for at in sorted(arrivals):
            tokens = min(3.0, tokens + (at - last))
            last = at
            assert tokens >= 1.0 - 1e-9, "a send found the bucket empty (429)"
            tokens -= 1
        slack_rate = 200 / (at - start)
        assert slack_rate >= 0.9 * (200 / (197 + 0))  # 3 at once, then 1/s
        # The first 3 go at once, then one a second (plus the margins).
        assert sorted(arrivals)[3] - start < 1.1 + COLD
        # Discord: 60 channels x 10 messages; fixed windows starting at each first send.
        ticks.t += 100
        route: dict[str, list[float]] = {}
        glob: list[float] = []
        start = ticks.t
        sends = []
        for i in range(600):
            ch = f"D{i % 60}"
            slot = await pacer.reserve("discord", ch, max_wait=1e9)
            sends.append((ticks.t + slot.delay + rng.uniform(0, 0.015), ch))
        sends.sort()
        for at, ch in sends:
            for log_, limit, seconds in ((route.setdefault(ch, []), 5, 5.0), (glob, 50, 1.0)):
                if log_ and at - log_[0] >= seconds:
                    log_.clear()  # the window that began with log_[0] has reset
                assert len(log_) < limit, "a send found the window used up (429)"
                log_.append(at)
        elapsed = sends[-1][0] - start
        assert 600 / elapsed >= 0.9 * 50  # the global limit is the binding one

    asyncio.run(run())
    assert DEFAULT_LIMITS["slack"][0].burst == 3 and MARGIN < 0.05 and MARGIN_SECONDS < 0.05


async def test_a_missed_slot_is_given_back() -> None:
    ticks = Ticks()
    local = LocalCoordination(now=ticks)
    w = [Window("route", 2, 5.0)]
    first = await local.reserve(w, 10)
    await local.reserve(w, 10)
    await local.release(first)
    assert (await local.reserve(w, 0)).granted  # the given-back slot is free again
    assert not (await local.reserve(w, 0)).granted
    b = [Window("ch", 1, 1.0, burst=1)]
    taken = await local.reserve(b, 10)
    assert (await local.reserve(b, 10)).delay == 1
    missed = await local.reserve(b, 10)
    await local.release(missed)  # the latest slot: rolled back
    assert (await local.reserve(b, 10)).delay == 2
    await local.release(taken)  # slots were taken after it: kept
    assert (await local.reserve(b, 10)).delay == 3


async def test_under_two_windows_slots_are_taken_about_one_window_ahead() -> None:
    local = LocalCoordination(now=Ticks())
    pacer = Pacer(lambda: local, max_wait=10)
    assert pacer.lookahead("discord", "D1") == pytest.approx(1.0 * (1 + MARGIN) + MARGIN_SECONDS)
    assert pacer.lookahead("slack", "C1") == 10
    for _ in range(5):
        assert (await pacer.reserve("discord", "D1")).granted
    later = await pacer.reserve("discord", "D1")  # the route is full for 5 s
    assert not later.granted and later.delay > 5


async def test_locks_are_exclusive_in_one_process() -> None:
    local = LocalCoordination()
    order: list[str] = []

    async def hold(name: str) -> None:
        async with local.lock("case:CASE-1"):
            order.append(f"{name}+")
            await asyncio.sleep(0.01)
            order.append(f"{name}-")

    await asyncio.gather(hold("a"), hold("b"), hold("c"))
    assert [order[i][1] for i in range(6)] == ["+", "-"] * 3
    async with local.lock("x"), local.lock("x", wait=0.05) as got:
        assert got is False


@pytest.fixture
async def pair(redis_server: RedisServer):  # type: ignore[no-untyped-def]
    a = RedisCoordination(redis_server.url, prefix="t:", retry_every=0.1)
    b = RedisCoordination(redis_server.url, prefix="t:", retry_every=0.1)
    woken: dict[str, int] = {"a": 0, "b": 0}
    await a.start(lambda: woken.__setitem__("a", woken["a"] + 1))
    await b.start(lambda: woken.__setitem__("b", woken["b"] + 1))
    try:
        yield a, b, woken
    finally:
        await a.close()
        await b.close()


async def test_redis_shares_dedupe_locks_windows_and_wakeups(pair) -> None:  # type: ignore[no-untyped-def]
    a, b, woken = pair
    assert a.available and b.available
    assert not await b.seen("slack:Ev1")
    await a.remember("slack:Ev1")
    assert await b.seen("slack:Ev1")

    async with a.lock("case:CASE-7") as got:
        assert got
        async with b.lock("case:CASE-7", wait=0.1) as other:
            assert other is False
    async with b.lock("case:CASE-7", wait=0.5) as other:
        assert other

    w = [Window("C1", 5, 5.0)]
    for _ in range(5):
        assert (await a.reserve(w, max_wait=0)).delay == 0
    late = await b.reserve(w, max_wait=1.0)
    assert not late.granted and 4.5 < late.delay <= 5.0
    bucket = [Window("S1", 1, 1.0, burst=2, cold=0.5)]
    assert [
        round((await (a if i % 2 else b).reserve(bucket, max_wait=10)).delay, 1) for i in range(5)
    ] == [0, 0, 1.5, 2.5, 3.5]
    await b.block(Window("C2", 5, 5.0), 3.0)
    blocked = await a.reserve([Window("C2", 5, 5.0)], max_wait=0)
    assert not blocked.granted and 2.5 < blocked.delay <= 3.0

    taken = await a.reserve([Window("C3", 1, 5.0)], max_wait=0)
    assert taken.granted and not (await b.reserve([Window("C3", 1, 5.0)], max_wait=0)).granted
    await a.release(taken)
    assert (await b.reserve([Window("C3", 1, 5.0)], max_wait=0)).granted
    s4 = [Window("S4", 1, 1.0, burst=1)]
    assert (await a.reserve(s4, 10)).delay == 0
    missed = await b.reserve(s4, 10)
    await b.release(missed)
    assert round((await a.reserve(s4, 10)).delay, 1) == 1.0

    before = woken["b"]

    async def b_heard_a() -> bool:
        a.notify_nowait()  # (again, until b's subscription is listening)
        return woken["b"] > before

    await until(b_heard_a, within=5, what="b woken by a")


async def _true(value: bool) -> bool:
    return value


async def test_serving_on_without_redis_and_picking_it_up_again(redis_server: RedisServer) -> None:
    events: list[str] = []

    def capture(_logger, _name, event_dict):  # type: ignore[no-untyped-def]
        events.append(event_dict["event"])
        return event_dict

    structlog.configure(processors=[capture, structlog.processors.KeyValueRenderer()])
    try:
        coord = RedisCoordination(redis_server.url, prefix="t2:", retry_every=0.1)
        await coord.start()
        await coord.remember("ev-before")
        redis_server.stop()
        # Nothing hangs and nothing is refused: the local twin answers.
        assert await asyncio.wait_for(coord.seen("ev-before"), 3)  # remembered locally too
        await coord.remember("ev-during")
        assert await coord.seen("ev-during")
        async with coord.lock("case:CASE-1", wait=1) as got:
            assert got
        assert (await coord.reserve([Window("C", 2, 1.0)], max_wait=0)).granted
        await until(lambda: _true(not coord.available), within=5, what="degraded")
        assert "coordination.degraded" in events
        redis_server.start()
        await until(lambda: _true(coord.available), within=10, what="Redis picked up again")
        assert "coordination.restored" in events
        await coord.remember("ev-after")
        other = RedisCoordination(redis_server.url, prefix="t2:")
        await other.start()
        assert await other.seen("ev-after")
        await other.close()
        await coord.close()
    finally:
        structlog.reset_defaults()
