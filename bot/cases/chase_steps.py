"""The chase sequence's steps as they fall due: remind, ask for a phone call, close
the case as unresponsive (the configured ``chase`` list, one timer at a time)."""

from __future__ import annotations

from bot import templates as t
from bot.actors import SYSTEM
from bot.cases.closing import close_unresponsive
from bot.lifecycle import WAITING_ON_CUSTOMER
from bot.work import Work
from storage.models import Case


async def chase_step(w: Work, case: Case, step: int, generation: int) -> None:
    """Timer: one step of the chase, if the case is still waiting in this generation."""
    if generation != case.chase_generation or case.state not in WAITING_ON_CUSTOMER:
        return
    steps = w.config.chase
    if step >= len(steps):
        return
    action = steps[step].action
    case.chase_step = step + 1
    if action == "remind":
        n = sum(1 for s in steps[: step + 1] if s.action == "remind")
        w.notify(t.chase_reminder(case, n), case)
        w.event(case, SYSTEM, "chase_reminder", f"reminder {n}")
    elif action == "phone":
        opener = w.config.person(case.opener_id)
        account = w.config.account(case.account_key)
        phone = (opener.identities.get("phone") if opener else None) or (
            account.phone if account else None
        )
        target = case.assignee_id or (w.config.leads()[0].id if w.config.leads() else None)
        if target:
            w.notify(
                t.phone_task(w.config, case, target, await w.person_name(case.opener_id), phone),
                case,
            )
        w.event(case, SYSTEM, "phone_task", phone or "")
    elif action == "close_unresponsive":
        await close_unresponsive(w, case)
        return
    if step + 1 < len(steps):
        w.schedule(
            "chase",
            steps[step + 1].after.after(w.now, w.config.support.tz),
            case,
            step=step + 1,
            generation=generation,
        )
