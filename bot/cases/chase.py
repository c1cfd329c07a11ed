"""The chase sequence: reminders, a phone task and, at the end, closing a case whose
customer never answered. It runs while the customer owes us an answer."""

from __future__ import annotations

from sqlalchemy import select

from bot.work import Work
from storage.models import Case, Timer


async def start_chase(w: Work, case: Case) -> None:
    """(Re)start the chase: a new generation, so old timers find themselves stale."""
    await stop_chase(w, case)
    if not w.config.chase:
        return
    case.chase_step = 0
    first = w.config.chase[0]
    w.schedule(
        "chase",
        first.after.after(w.now, w.config.support.tz),
        case,
        step=0,
        generation=case.chase_generation,
    )


async def stop_chase(w: Work, case: Case) -> None:
    case.chase_generation += 1
    await w.cancel_timers(case, "chase")


async def chasing(w: Work, case: Case) -> bool:
    """Whether a chase step is still to come for ``case``."""
    pending = await w.session.scalars(
        select(Timer.id).where(
            Timer.case_id == case.id, Timer.kind == "chase", Timer.state == "pending"
        )
    )
    return pending.first() is not None
