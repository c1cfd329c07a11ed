"""Triage and routing: severity, product area, and the engineer with the most
appropriate knowledge who is on shift and has room."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.actors import Role
from bot.config import Config, Person
from bot.lifecycle import ACTIVE
from storage.models import Case, PersonRow

if TYPE_CHECKING:
    from bot.work import Work

# Engineers given a case in this unit of work, and when: the round-robin's stamps, kept
# on the session and written by :class:`RoundRobin` as the last statements before the
# unit commits (``Work.at_commit``). An engineer's row is the one every open for that
# engineer touches; updated earlier it stayed locked for the rest of the unit, and opens
# on other workers queued on it.
ASSIGNED = "routing_assigned_at"


def note_assigned(session: AsyncSession, engineer_id: str, now: datetime) -> None:
    """Record that ``engineer_id`` was given a case (the round-robin's tie-break)."""
    session.info.setdefault(ASSIGNED, {})[engineer_id] = now


class RoundRobin:
    """The unit-of-work observer that writes the stamps of :func:`note_assigned`."""

    def begin(self, w: Work) -> None:
        return None

    async def finish(self, w: Work) -> None:
        stamps = sorted(w.session.info.pop(ASSIGNED, {}).items())
        if stamps:
            w.at_commit(lambda: _stamp(w.session, stamps))


async def _stamp(session: AsyncSession, stamps: list[tuple[str, datetime]]) -> None:
    for pid, at in stamps:
        await session.execute(
            update(PersonRow).where(PersonRow.id == pid).values(last_assigned_at=at)
        )


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
    engineer, _ = await pick_or_why(session, config, area, now)
    return engineer


async def pick_or_why(
    session: AsyncSession, config: Config, area: str | None, now: datetime
) -> tuple[Person | None, str]:
    """The engineer :func:`pick_engineer` would choose, or None and why nobody can take
    a case in ``area`` now (no one has the skill, no one is on shift, all are full)."""
    area_name = (a.name if (a := config.area(area)) else area) if area else None
    if not area:
        return None, "Its product area is not known, so nobody is matched by skill"
    skilled = [p for p in config.engineers() if p.skills.get(area, 0) > 0]
    if not skilled:
        return None, f"No engineer has a skill in {area_name}"
    on_shift = [p for p in skilled if p.on_shift(now, config.support.tz)]
    if not on_shift:
        return None, f"No engineer with a skill in {area_name} is on shift now"
    counts = await active_counts(session)
    candidates = [p for p in on_shift if counts.get(p.id, 0) < p.capacity]
    if not candidates:
        return None, f"Every engineer on shift with a skill in {area_name} is at capacity"
    last = {
        r.id: r.last_assigned_at
        for r in (
            await session.scalars(select(PersonRow).where(PersonRow.role == Role.ENGINEER.value))
        )
    }
    last.update(session.info.get(ASSIGNED, {}))
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
    return candidates[0], ""
