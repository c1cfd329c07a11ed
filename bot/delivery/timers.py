"""Durable timers: rows with a due time, claimed atomically with a lease.

A worker claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent
workers take disjoint sets; SQLite has one writer), marks them running until
``lease_until``, then fires each in its own transaction that locks the case and
re-checks the handler's guard. A timer whose worker died is claimable again once its
lease has expired; because firing and marking done commit together, and a worker that
lost its lease finds the row no longer its own, each timer fires exactly once in effect.

Claiming walks partial indexes (pending timers by due time, running ones by lease), so
it costs the same with ten thousand or a million timers pending. A timer whose handler
keeps failing is retried after each lease and marked ``failed`` after ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, or_, select

from bot.units import Units
from bot.work import Work
from storage.db import Database
from storage.models import Case, Timer

log = structlog.get_logger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5

# What a timer kind does when it fires (the case is locked, or None for a timer
# without one); the bootstrap gathers them (``bot.cases``, ``bot.sla``) for fire().
Handler = Callable[[Work, Case | None, dict], Awaitable[None]]


def due_clause(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Timer.state == "pending", Timer.due_at <= now),
        and_(Timer.state == "running", Timer.lease_until < now),
    )


@dataclass(frozen=True)
class Claimed:
    id: int
    case_key: str | None


async def claim(
    db: Database,
    now: datetime,
    worker: str,
    limit: int = 50,
    lease: timedelta = LEASE,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[Claimed]:
    """Claim up to ``limit`` due timers for ``worker``: first those whose worker's lease
    ran out, then pending ones by due time. Two index range scans, never a sort of
    everything due."""
    async with db.transaction() as s:

        def pick(*where: ColumnElement[bool], order: tuple[Any, ...]) -> Any:
            return (
                select(Timer, Case.key)
                .outerjoin(Case, Case.id == Timer.case_id)
                .where(*where)
                .order_by(*order)
                .with_for_update(of=Timer, skip_locked=True)
            )

        running = pick(
            Timer.state == "running", Timer.lease_until < now, order=(Timer.lease_until,)
        )
        rows: list[Any] = list((await s.execute(running.limit(limit))).all())
        if len(rows) < limit:
            rows += (
                await s.execute(
                    pick(
                        Timer.state == "pending",
                        Timer.due_at <= now,
                        order=(Timer.due_at, Timer.id),
                    ).limit(limit - len(rows))
                )
            ).all()
        claimed = []
        for timer, case_key in rows:
            if timer.attempts >= max_attempts:
                timer.state = "failed"
                log.error("timer.gave_up", id=timer.id, kind=timer.kind, attempts=timer.attempts)
                continue
            timer.state = "running"
            timer.lease_until = now + lease
            timer.worker = worker
            timer.attempts += 1
            claimed.append(Claimed(timer.id, case_key))
        return claimed


async def claim_due(
    db: Database,
    now: datetime,
    worker: str,
    limit: int = 50,
    lease: timedelta = LEASE,
) -> list[int]:
    """Claim up to ``limit`` due timers for ``worker``; returns their ids."""
    return [c.id for c in await claim(db, now, worker, limit, lease)]


async def fire(
    units: Units,
    handlers: Mapping[str, Handler],
    timer_id: int,
    worker: str,
    case_key: str | None = None,
) -> bool:
    """Fire one claimed timer with the handler ``handlers`` has for its kind; returns
    True if it ran one. With ``case_key`` the case is also locked across workers while
    the handler runs."""
    async with units.work(case_key=case_key) as w:
        timer = await w.session.get(Timer, timer_id, with_for_update=True)
        if timer is None or timer.state != "running" or timer.worker != worker:
            return False  # taken over by another worker after our lease ran out
        case = None
        if timer.case_id is not None:
            case = (
                await w.session.scalars(
                    select(Case).where(Case.id == timer.case_id).with_for_update()
                )
            ).one_or_none()
        handler = handlers.get(timer.kind)
        if handler is None:
            log.warning("timer.unknown_kind", kind=timer.kind, id=timer.id)
        else:
            await handler(w, case, dict(timer.payload or {}))
        timer.state = "done"
        timer.fired_at = w.now
        return True
