"""Durable timers: rows with a due time, claimed atomically with a lease.

A worker claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one
writer), marks them running until ``lease_until``, then fires each in its own
transaction that locks the case and re-checks the handler's guard. A timer whose worker
died is claimable again once its lease has expired; because firing and marking done
commit together, a fired timer never fires again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select

from bot import cases
from bot.work import Work
from storage.models import Case, Timer

log = structlog.get_logger(__name__)

LEASE = timedelta(minutes=2)

Handler = Callable[[Work, Case | None, dict], Awaitable[None]]


async def _chase(w: Work, case: Case | None, p: dict) -> None:
    if case is not None:
        await cases.chase_step(w, case, int(p["step"]), int(p["generation"]))


async def _knowledge_wait(w: Work, case: Case | None, p: dict) -> None:
    if case is not None:
        await cases.knowledge_wait_over(w, case)


async def _escalation(w: Work, case: Case | None, p: dict) -> None:
    if case is not None:
        await cases.escalation_followup(w, case, int(p["level"]), str(p["escalated_at"]))


HANDLERS: dict[str, Handler] = {
    "chase": _chase,
    "knowledge_wait": _knowledge_wait,
    "escalation_followup": _escalation,
}


def register(kind: str, handler: Handler) -> None:
    """Other modules (service levels) add their timer kinds here."""
    HANDLERS[kind] = handler


def due_clause(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(Timer.state == "pending", Timer.due_at <= now),
        and_(Timer.state == "running", Timer.lease_until < now),
    )


async def claim_due(db, now: datetime, worker: str, limit: int = 50) -> list[int]:  # type: ignore[no-untyped-def]
    """Claim up to ``limit`` due timers for ``worker``; returns their ids."""
    async with db.transaction() as s:
        stmt = (
            select(Timer)
            .where(due_clause(now))
            .order_by(Timer.due_at, Timer.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await s.scalars(stmt)).all()
        for r in rows:
            r.state = "running"
            r.lease_until = now + LEASE
            r.worker = worker
            r.attempts += 1
        return [r.id for r in rows]


async def fire(app, timer_id: int, worker: str) -> bool:  # type: ignore[no-untyped-def]
    """Fire one claimed timer; returns True if it ran its handler."""
    async with app.work() as w:
        timer = await w.session.get(Timer, timer_id, with_for_update=True)
        if timer is None or timer.state != "running" or timer.worker != worker:
            return False  # taken over by another worker after our lease ran out
        case = None
        if timer.case_id is not None:
            case = (await w.session.scalars(
                select(Case).where(Case.id == timer.case_id).with_for_update())).one_or_none()
        handler = HANDLERS.get(timer.kind)
        if handler is None:
            log.warning("timer.unknown_kind", kind=timer.kind, id=timer.id)
        else:
            await handler(w, case, dict(timer.payload or {}))
        timer.state = "done"
        timer.fired_at = w.now
        return True
