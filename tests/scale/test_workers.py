"""Many worker processes on one PostgreSQL database and one Redis: nothing lost, nothing
doubled — through kill -9, Redis going away, a platform that fails at random, and the
same platform event delivered again and again.

Each test starts real ``casebot worker`` processes (tests/scale/worker_main.py) with
leases shortened to seconds, and waits on conditions with deadlines, never blindly.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from storage.db import Database
from tests.scale.cluster import Cluster, FakePlatform, add_probes, effects, prepare, scalar
from tests.scale.conftest import RedisServer, until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


async def settled(db: Database, timers: int, messages: int) -> bool:
    """Every timer fired and every notification delivered."""
    return (
        await scalar(db, "SELECT count(*) FROM timers WHERE state = 'done'") == timers
        and await scalar(db, "SELECT count(*) FROM outbox WHERE state = 'sent'") == messages
    )


@pytest.fixture
async def platform():  # type: ignore[no-untyped-def]
    fake = FakePlatform()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def test_four_workers_fire_a_thousand_timers_exactly_once(
    pg: Database, scale_pg: str, redis_server: RedisServer, platform: FakePlatform, tmp_path: Path
) -> None:
    await prepare(pg)
    # A lease long enough that a starved machine never lets one run out here: lease
    # expiry is the kill -9 test's subject; this one is about four claimers at once.
    cluster = Cluster(scale_pg, platform, tmp_path, redis_server.url, CASEBOT_TIMER_LEASE="60")
    try:
        await cluster.start("w1", "w2", "w3", "w4")
        await add_probes(pg, 1000)
        await until(lambda: settled(pg, 1000, 1000), within=90, what="1000 timers fired")
    finally:
        await cluster.stop()
    fired = await effects(pg)
    assert sorted(fired) == list(range(1000)) and set(fired.values()) == {1}
    assert platform.titles() == {f"probe {i}": 1 for i in range(1000)}
    assert await scalar(pg, "SELECT count(DISTINCT worker) FROM scale_effects") >= 2
    assert await scalar(pg, "SELECT count(*) FROM timers WHERE attempts <> 1") == 0
    assert set(cluster.exit_codes().values()) == {0}


async def test_kill_9_mid_batch_loses_nothing_and_doubles_only_in_the_window(
    pg: Database, scale_pg: str, redis_server: RedisServer, platform: FakePlatform, tmp_path: Path
) -> None:
    """``victim`` is killed while it holds a batch of claimed timers; ``martyr`` kills
    itself right after the platform accepted a message and before the outbox recorded
    it — the one window in which a user can see a message twice."""
    await prepare(pg)
    cluster = Cluster(scale_pg, platform, tmp_path, redis_server.url)
    probes = 600
    try:
        await cluster.start("victim", "w2", "w3", probe_delay=0.02)
        await cluster.start("martyr", probe_delay=0.02, die_after_accepted=20)
        await add_probes(pg, probes)

        async def victim_mid_batch() -> bool:
            return (
                await scalar(
                    pg, "SELECT count(*) FROM timers WHERE state = 'running' AND worker = 'victim'"
                )
                >= 10
            )

        await until(victim_mid_batch, within=30, what="the victim holding a batch")
        await cluster.kill("victim")
        orphans = await scalar(
            pg, "SELECT count(*) FROM timers WHERE state = 'running' AND worker = 'victim'"
        )
        in_flight = {
            "victim": await scalar(
                pg, "SELECT count(*) FROM outbox WHERE state = 'sending' AND worker = 'victim'"
            )
        }

        async def martyr_gone() -> bool:
            return not cluster.running("martyr")

        await until(martyr_gone, within=60, what="the martyr's death in the window")
        in_flight["martyr"] = await scalar(
            pg, "SELECT count(*) FROM outbox WHERE state = 'sending' AND worker = 'martyr'"
        )

        await until(
            lambda: settled(pg, probes, probes),
            within=90,
            what="everything taken over and finished",
        )
    finally:
        await cluster.stop()
    codes = cluster.exit_codes()
    assert codes["victim"] == codes["martyr"] == -9 and codes["w2"] == codes["w3"] == 0
    # Timers: every effect exactly once; the victim's claimed batch was taken over.
    fired = await effects(pg)
    assert sorted(fired) == list(range(probes)) and set(fired.values()) == {1}
    assert orphans >= 1
    assert (
        await scalar(
            pg,
            "SELECT count(*) FROM timers WHERE worker IN ('victim', 'martyr') "
            "AND attempts = 1 AND state = 'running'",
        )
        == 0
    )
    # Notifications: all arrived; doubles only from rows in flight at a death.
    titles = platform.titles()
    assert set(titles) == {f"probe {i}" for i in range(probes)}
    duplicates = platform.duplicates()
    print(
        f"\nkill -9: {orphans} orphaned timers taken over; in flight at death "
        f"{in_flight}; duplicate posts {duplicates}"
    )
    assert 1 <= duplicates <= in_flight["victim"] + in_flight["martyr"]


async def test_redis_stopped_and_restarted_during_a_run(
    pg: Database, scale_pg: str, redis_server: RedisServer, platform: FakePlatform, tmp_path: Path
) -> None:
    await prepare(pg)
    cluster = Cluster(scale_pg, platform, tmp_path, redis_server.url)
    probes = 400
    try:
        await cluster.start("w1", "w2", "w3", inbound=True)
        await add_probes(pg, probes, spread=6.0)

        async def some_done() -> bool:
            return await scalar(pg, "SELECT count(*) FROM scale_effects") >= 50

        await until(some_done, within=30, what="work under way")
        redis_server.stop()

        def logged(word: str) -> bool:
            return all(word in w.log() for w in cluster.workers.values())

        async def all_degraded() -> bool:
            return logged("coordination.degraded")

        await until(all_degraded, within=20, what="every worker noticing Redis is gone")
        # Platform re-deliveries while Redis is away still have one effect.
        replies = await asyncio.gather(
            *(
                post_case(cluster.workers[w].port, "EvOutage", "open Printer on fire")
                for w in ("w1", "w2", "w3", "w1")
            )
        )
        assert sorted(r["duplicate"] for r in replies) == [False, True, True, True]
        in_outage = await scalar(pg, "SELECT count(*) FROM scale_effects")

        redis_server.start()

        async def all_restored() -> bool:
            return logged("coordination.restored")

        await until(all_restored, within=30, what="every worker picking Redis up again")

        async def everything() -> bool:
            return (
                await scalar(
                    pg, "SELECT count(*) FROM timers WHERE kind = 'scale_probe' AND state <> 'done'"
                )
                == 0
                and await scalar(pg, "SELECT count(*) FROM outbox WHERE state <> 'sent'") == 0
            )

        await until(everything, within=60, what="everything done after Redis returned")
    finally:
        await cluster.stop()
    fired = await effects(pg)
    assert sorted(fired) == list(range(probes)) and set(fired.values()) == {1}
    assert in_outage < probes  # some of the work was done without Redis, some after
    assert platform.duplicates() == 0
    assert {f"probe {i}" for i in range(probes)} <= set(platform.titles())
    assert await scalar(pg, "SELECT count(*) FROM cases") == 1
    assert set(cluster.exit_codes().values()) == {0}


async def test_a_platform_answering_429_and_500_at_random_gets_every_notification(
    pg: Database, scale_pg: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    platform = FakePlatform(rate_429=0.2, rate_500=0.2, retry_after=0.05, latency=0.002)
    await platform.start()
    await prepare(pg)
    cluster = Cluster(scale_pg, platform, tmp_path, redis_server.url)
    probes = 300
    try:
        await cluster.start("w1", "w2", "w3")
        await add_probes(pg, probes)
        await until(
            lambda: settled(pg, probes, probes), within=90, what="every notification delivered"
        )
    finally:
        await cluster.stop()
        await platform.stop()
    assert platform.titles() == {f"probe {i}": 1 for i in range(probes)}
    assert platform.answered[429] > 20 and platform.answered[500] > 20
    assert await scalar(pg, "SELECT count(*) FROM outbox WHERE attempts > 1") > 20
    assert await scalar(pg, "SELECT count(*) FROM outbox WHERE state = 'failed'") == 0


async def test_the_same_event_five_times_to_three_workers_has_one_effect(
    pg: Database, scale_pg: str, redis_server: RedisServer, platform: FakePlatform, tmp_path: Path
) -> None:
    await prepare(pg)
    cluster = Cluster(scale_pg, platform, tmp_path, redis_server.url)
    try:
        await cluster.start("w1", "w2", "w3", inbound=True)
        targets = ["w1", "w2", "w3", "w1", "w2"]
        replies = await asyncio.gather(
            *(post_case(cluster.workers[w].port, "Ev5x", "open Webhook API fails") for w in targets)
        )
        # … and once more later, when every worker has long seen it (Redis answers).
        late = [
            await post_case(cluster.workers[w].port, "Ev5x", "open Webhook API fails")
            for w in ("w3", "w1")
        ]

        async def delivered() -> bool:
            return (
                await scalar(pg, "SELECT count(*) FROM outbox") > 0
                and await scalar(pg, "SELECT count(*) FROM outbox WHERE state <> 'sent'") == 0
            )

        await until(delivered, within=30, what="the case's notifications delivered")
    finally:
        await cluster.stop()
    effective = [r for r in replies + late if not r["duplicate"]]
    assert len(effective) == 1 and effective[0]["text"].startswith("Opened CASE-1")
    assert all(r["duplicate"] and r["ok"] for r in replies + late if r is not effective[0])
    assert await scalar(pg, "SELECT count(*) FROM cases") == 1
    assert await scalar(pg, "SELECT count(*) FROM processed_events") == 1
    assert platform.titles()["CASE-1 opened: Webhook API fails"] == 1


async def post_case(port: int, event_id: str, text: str) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/case",
            json={"user": "U0CLEO", "channel": "C0ACME", "event_id": event_id, "text": text},
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())
