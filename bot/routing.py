"""Triage and routing: severity, product area, and the engineer with the most
appropriate knowledge who is on shift and has room."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.actors import Role
from bot.config import Config, Person
from bot.lifecycle import ACTIVE
from storage.models import Case, PersonRow


async def active_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Case.assignee_id, func.count())
        .where(Case.assignee_id.is_not(None), Case.state.in_([s.value for s in ACTIVE]))
        .group_by(Case.assignee_id)
    )
    return {str(pid): int(n) for pid, n in rows.all()}


async def pick_engineer(
    session: AsyncSession, config: Config, area: str | None, now: datetime
) -> Person | None:
    """Highest skill in the area, then fewest active cases, among engineers on shift
    and under capacity; ties go round-robin (whoever was assigned least recently)."""
    if not area:
        return None
    counts = await active_counts(session)
    last = {
        r.id: r.last_assigned_at
        for r in (
            await session.scalars(select(PersonRow).where(PersonRow.role == Role.ENGINEER.value))
        )
    }
    candidates = [
        p
        for p in config.engineers()
        if p.skills.get(area, 0) > 0
        and p.on_shift(now, config.support.tz)
        and counts.get(p.id, 0) < p.capacity
    ]
    if not candidates:
        return None
    order = {p.id: i for i, p in enumerate(config.people)}
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    candidates.sort(
        key=lambda p: (
            -p.skills.get(area, 0),
            counts.get(p.id, 0),
            last.get(p.id) or epoch,
            order[p.id],
        )
    )
    return candidates[0]
