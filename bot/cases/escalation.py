"""Escalation: the customer escalates to the account's CSM (or the support lead), an
escalation nobody acknowledges goes up to the lead, and staff join the case."""

from __future__ import annotations

from sqlalchemy import select

from bot import templates as t
from bot.actors import SYSTEM, Actor, Role
from bot.errors import Refusal
from bot.lifecycle import ACTIVE
from bot.policy import Deed
from bot.work import Work
from storage.models import Case, CaseEvent

TO_CSM, TO_LEAD = 1, 2  # the escalation levels


async def escalate(w: Work, actor: Actor, key: str, reason: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.ESCALATE, case)
    if case.state not in ACTIVE:
        raise Refusal(f"{case.key} is closed; reopen it first or open a new case.")
    reason = reason.strip() or "no reason given"
    if case.escalation_level >= TO_LEAD:
        raise Refusal(f"{case.key} is already escalated to the support lead.")
    if case.escalation_level == TO_CSM and case.escalation_acked_at is None:
        raise Refusal(
            f"{case.key} is already escalated; your CSM has been told and the lead "
            "will be if they don't acknowledge it soon."
        )
    csm = w.config.csm_for(case.account_key)
    level = TO_CSM if case.escalation_level == 0 and csm is not None else TO_LEAD
    await escalate_to(w, case, actor, level, reason)
    who = csm.name if level == TO_CSM and csm else "the support lead"
    w.notify(t.to_customer(case, f"{case.key} escalated to {who}", reason), case)
    return f"{case.key} is escalated to {who}."


async def escalate_to(w: Work, case: Case, actor: Actor, level: int, reason: str) -> None:
    """Escalate ``case`` to ``level`` (1: the account's CSM, 2: the support leads) with
    its timeline; no checks (the callers made them). A level-1 escalation goes up by
    itself if the CSM does not acknowledge it in time."""
    case.escalation_level = level
    case.escalation_reason = reason
    case.escalated_at = w.now
    case.escalation_acked_at = None
    # casebot's own reasons (a breached target) are for staff (bot.disclosure).
    w.event(case, actor, "escalated", f"level {level}: {reason}", internal=actor.is_system)
    events = (
        await w.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    ).all()
    names = {p.id: p.name for p in w.config.people}
    timeline = t.timeline_text(
        [e for e in events if not e.internal] or events, names, tz=w.config.support.tz
    )
    # Raised by casebot itself (a breached target, an unacknowledged escalation): the
    # message says so instead of naming the customer as its source.
    customer = None if actor.is_system else actor.name
    if level == TO_CSM:
        csm = w.config.csm_for(case.account_key)
        assert csm is not None
        recipients = [csm.id]
        w.schedule(
            "escalation_followup",
            w.config.escalation.acknowledge_within.after(w.now, w.config.support.tz),
            case,
            level=TO_CSM,
            escalated_at=w.now.isoformat(),
        )
    else:
        recipients = [p.id for p in w.config.leads()]
    for pid in recipients:
        w.notify(t.escalation_dm(w.config, case, pid, customer, reason, timeline, level), case)
    w.notify(t.to_staff(case, f"{case.key} escalated (level {level})", reason), case)


async def escalation_followup(w: Work, case: Case, level: int, escalated_at: str) -> None:
    """Timer: an escalation the CSM has not acknowledged goes up to the lead."""
    if (
        case.escalation_level != level
        or case.escalation_acked_at is not None
        or case.escalated_at is None
        or case.escalated_at.isoformat() != escalated_at
        or case.state not in ACTIVE
    ):
        return
    await escalate_to(
        w,
        case,
        SYSTEM,
        TO_LEAD,
        f"not acknowledged by the CSM within {w.config.escalation.acknowledge_within}"
        f" (was: {case.escalation_reason})",
    )


async def ack(w: Work, actor: Actor, key: str, text: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.ACK, case)
    if case.escalation_level == 0:
        raise Refusal(f"{case.key} is not escalated.")
    if case.escalation_acked_at is not None:
        raise Refusal(f"The escalation of {case.key} is already acknowledged.")
    case.escalation_acked_at = w.now
    await w.cancel_timers(case, "escalation_followup")
    w.event(case, actor, "escalation_acknowledged", text.strip())
    w.notify(
        t.to_customer(case, f"{actor.name} has your escalation on {case.key}", text.strip()), case
    )
    w.notify(t.to_staff(case, f"{actor.name} acknowledged the escalation", text.strip()), case)
    return f"Acknowledged the escalation of {case.key}."


async def join(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.JOIN, case)
    w.event(case, actor, "joined", internal=True)
    w.notify(t.to_staff(case, f"{actor.name} joined {case.key}"), case)
    # Joining means being in the customer's thread too: the mention lets each platform
    # bring the person in (Discord adds them to the private thread).
    role = "your CSM" if actor.role == Role.CSM else "from support"
    joined = t.to_customer(case, f"{actor.name} ({role}) joined {case.key}")
    joined.mentions = [actor.id]
    w.notify(joined, case)
    return f"You've joined {case.key}: its customer thread and staff thread."
