"""Durable timers: disjoint claims, lease take-over, give-up, and a claim that stays on
its indexes (one process; the multi-process proofs are in test_workers.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text

from bot.clock import FakeClock
from bot.config import Config
from bot.delivery import timers
from bot.work import Work
from entrypoints.bootstrap import Casebot
from storage.db import Database
from storage.models import Case, Timer

FIRED: list[tuple[str, int]] = []


async def _probe(w: Work, case: Case | None, p: dict) -> None:
    if p.get("explode"):
        raise RuntimeError("boom")
    FIRED.append((str(p.get("tag", "")), int(p["n"])))


async def _add(db: Database, n: int, due, **payload) -> None:  # type: ignore[no-untyped-def]
    async with db.transaction() as s:
        await s.execute(
            insert(Timer),
            [
                {
                    "kind": "test_probe",
                    "due_at": due,
                    "payload": {"n": i, **payload},
                    "state": "pending",
                    "created_at": due,
                    "attempts": 0,
                }
                for i in range(n)
            ],
        )


async def test_concurrent_claimers_take_disjoint_sets(sdb: Database) -> None:
    now = FakeClock().now()
    await _add(sdb, 300, now)

    async def claimer(name: str) -> list[int]:
        got: list[int] = []
        while ids := await timers.claim_due(sdb, now, name, limit=17):
            got += ids
        return got

    results = await asyncio.gather(*(claimer(f"w{i}") for i in range(6)))
    everything = [i for r in results for i in r]
    assert len(everything) == len(set(everything)) == 300


async def test_a_dead_workers_timer_is_taken_over_after_its_lease(
    sdb: Database, config: Config
) -> None:
    clock = FakeClock()
    a = Casebot(config, sdb, clock=clock, worker_id="a")
    b = Casebot(config, sdb, clock=clock, worker_id="b")
    for x in (a, b):
        x.runtime.timer_handlers["test_probe"] = _probe
    a.runtime.timer_lease = b.runtime.timer_lease = timedelta(seconds=30)
    FIRED.clear()
    await _add(sdb, 1, clock.now(), tag="lease")
    claimed = await timers.claim(sdb, clock.now(), "a", lease=a.runtime.timer_lease)
    assert len(claimed) == 1
    # "a" dies. Before the lease ends nobody else may take the timer …
    clock.advance(timedelta(seconds=29))
    assert await b.runtime.fire_due() == 0
    # … after it, "b" does, and fires it once.
    clock.advance(timedelta(seconds=2))
    assert await b.runtime.fire_due() == 1
    assert FIRED == [("lease", 0)]
    # "a" was only slow, not dead: it finds the timer no longer its own.
    assert await timers.fire(a.units, a.runtime.timer_handlers, claimed[0].id, "a") is False
    assert FIRED == [("lease", 0)]
    async with sdb.read() as s:
        timer = (await s.scalars(select(Timer))).one()
    assert (timer.state, timer.worker, timer.attempts) == ("done", "b", 2)


async def test_a_failing_handler_is_retried_then_given_up(sdb: Database, config: Config) -> None:
    clock = FakeClock()
    bot = Casebot(config, sdb, clock=clock, worker_id="w")
    bot.runtime.timer_handlers["test_probe"] = _probe
    bot.runtime.timer_lease = timedelta(seconds=10)
    await _add(sdb, 1, clock.now(), explode=True)
    for _ in range(timers.MAX_ATTEMPTS):
        assert await bot.runtime.fire_due() == 1  # claimed, the handler fails, it rolls back
        clock.advance(timedelta(seconds=11))
    assert await bot.runtime.fire_due() == 0
    async with sdb.read() as s:
        timer = (await s.scalars(select(Timer))).one()
    assert (timer.state, timer.attempts) == ("failed", timers.MAX_ATTEMPTS)


@pytest.mark.postgres
async def test_claiming_reads_indexes_not_the_table(pg: Database) -> None:
    """With many timers pending (almost all in the future) and many done, the planner
    walks the partial indexes: no sequential scan, no sort of everything due."""
    now = FakeClock().now()
    async with pg.transaction() as s:
        await s.execute(
            text(
                "INSERT INTO timers (kind, due_at, payload, state, created_at, attempts) "
                "SELECT 'test_probe', :now + (g || ' seconds')::interval, '{}', "
                "CASE WHEN g % 3 = 0 THEN 'done' ELSE 'pending' END, :now, 0 "
                "FROM generate_series(1, 60000) g"
            ),
            {"now": now},
        )
        await s.execute(text("ANALYZE timers"))
    async with pg.read() as s:
        for state, column in (("pending", "due_at"), ("running", "lease_until")):
            plan = "\n".join(
                (
                    await s.execute(
                        text(
                            f"EXPLAIN SELECT timers.id, cases.key FROM timers "
                            f"LEFT OUTER JOIN cases ON cases.id = timers.case_id "
                            f"WHERE timers.state = '{state}' AND timers.{column} <= :t "
                            f"ORDER BY timers.{column} LIMIT 50 FOR UPDATE OF timers SKIP LOCKED"
                        ),
                        {"t": now + timedelta(seconds=100)},
                    )
                ).scalars()
            )
            assert "Seq Scan on timers" not in plan and "ix_timers_" in plan, plan
            if state == "pending":  # (no running timers: nothing to sort there either way)
                assert "Sort" not in plan, plan
        count = await s.scalar(select(func.count()).select_from(Timer))
    assert count == 60000
    claimed = await timers.claim_due(pg, now + timedelta(seconds=100), "w", limit=50)
    assert len(claimed) == 50
