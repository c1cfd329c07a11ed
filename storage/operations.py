"""What an operator watches, read from the database in a few aggregate queries: cases
by state, the outbox (depth, age of the oldest pending row, failures by platform) and
the timers (how many are overdue and by how much)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, OutboxRow, Timer


@dataclass(frozen=True)
class Figures:
    cases_by_state: dict[str, int] = field(default_factory=dict)
    outbox_by_state: dict[tuple[str, str], int] = field(default_factory=dict)  # (platform, state)
    outbox_oldest_pending_seconds: float = 0.0
    timers_overdue: int = 0
    timer_lag_seconds: float = 0.0  # how late the most overdue pending timer is


async def figures(session: AsyncSession, now: datetime) -> Figures:
    cases = (await session.execute(select(Case.state, func.count()).group_by(Case.state))).all()
    outbox = (
        await session.execute(
            select(OutboxRow.platform, OutboxRow.state, func.count()).group_by(
                OutboxRow.platform, OutboxRow.state
            )
        )
    ).all()
    oldest = (
        await session.execute(
            select(func.min(OutboxRow.created_at)).where(OutboxRow.state == "pending")
        )
    ).scalar()
    overdue, earliest = (
        await session.execute(
            select(func.count(), func.min(Timer.due_at)).where(
                Timer.state == "pending", Timer.due_at <= now
            )
        )
    ).one()
    return Figures(
        cases_by_state={str(s): int(n) for s, n in cases},
        outbox_by_state={(str(p), str(s)): int(n) for p, s, n in outbox},
        outbox_oldest_pending_seconds=_age(now, oldest),
        timers_overdue=int(overdue),
        timer_lag_seconds=_age(now, earliest),
    )


def _age(now: datetime, then: datetime | str | None) -> float:
    if then is None:
        return 0.0
    if isinstance(then, str):  # SQLite hands aggregates back as text
        then = datetime.fromisoformat(then).replace(tzinfo=now.tzinfo)
    if then.tzinfo is None:
        then = then.replace(tzinfo=now.tzinfo)
    return max((now - then).total_seconds(), 0.0)
