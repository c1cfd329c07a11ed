"""Ending a case, and bringing it back: the customer confirms or rejects a resolution
or withdraws, engineers close duplicates, the chase closes the unresponsive, and a
resolved, withdrawn or unresponsive case reopens within the reopen window (a duplicate
stays closed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot import templates as t
from bot.actors import SYSTEM, Actor
from bot.cases.chase import stop_chase
from bot.cases.opening import route
from bot.cases.survey import ask_survey
from bot.errors import Refusal
from bot.keys import normalize_key
from bot.lifecycle import (
    ACTIVE,
    REOPENABLE_CLOSES,
    STATE_WORDS,
    TRANSITIONS,
    Act,
    State,
    next_state,
    state_line,
)
from bot.policy import Deed
from bot.terms import OPEN_ENG_STATUSES
from bot.work import Work
from storage.models import Case, EngIssue, EngLink

CLOSE_WORDS = {
    "withdrawn": "Withdrawn by the customer.",
    "unresponsive": "Closed: we did not hear back after several reminders.",
}
# The word that confirms a withdraw (`/case withdraw CASE-n yes`).
YES = "yes"


def reopen_until(w: Work, case: Case) -> datetime | None:
    """Until when ``case`` can be reopened, or None if it cannot (still open, closed for
    good, or the window has passed): the one answer to "can this case come back?"."""
    if case.state == State.CLOSED and case.close_reason not in REOPENABLE_CLOSES:
        return None
    if case.state not in (State.RESOLVED, State.CLOSED):
        return None
    ended = case.resolved_at or case.closed_at
    if ended is None:
        return None
    until = w.config.support.reopen_window.after(ended, w.config.support.tz)
    return until if until >= w.now else None


def when(w: Work, at: datetime) -> str:
    """A moment as customers read it: in the support time zone, labelled."""
    local = at.astimezone(w.config.support.tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def reopen_hint(w: Work, case: Case) -> str:
    """What a customer can do about a case that is over: reopen it (until when), or
    open a new case."""
    until = reopen_until(w, case)
    if until is None:
        if case.close_reason == "duplicate" and case.duplicate_of:
            return f"Write on {case.duplicate_of}, or open a new case."
        return "Open a new case whenever you need us."
    return f"You can reopen it until {when(w, until)}: `/case reopen {case.key} <reason>`."


async def back_on_engineering(w: Work, case: Case) -> EngIssue | None:
    """A case back with its engineer (rejected, reopened) that is still linked to an
    open engineering issue waits on it again, so the fix proposes to it as to every
    other linked case. Returns the issue it waits on, if any."""
    issue = (
        await w.session.scalars(
            select(EngIssue)
            .join(EngLink, EngLink.eng_id == EngIssue.id)
            .where(EngLink.case_id == case.id, EngIssue.status.in_(OPEN_ENG_STATUSES))
            .order_by(EngLink.id.desc())
        )
    ).first()
    if issue is None or State(case.state) not in TRANSITIONS[Act.LINK_ENG]:
        return None
    to = next_state(case.key, case.state, Act.LINK_ENG)
    w.move(case, SYSTEM, to, "back_on_engineering", f"{issue.key}: {issue.title}")
    return issue


async def confirm(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.CONFIRM, case)
    to = next_state(case.key, case.state, Act.CONFIRM)
    await stop_chase(w, case)
    case.close_reason = "resolved"
    case.closed_at = w.now
    w.move(case, actor, to, "confirmed", case.proposed_resolution or "")
    w.notify(
        t.case_status(
            w.config,
            case,
            await w.person_name(case.assignee_id),
            "Resolved: confirmed by the customer.",
        ),
        case,
    )
    if case.assignee_id:
        w.notify(
            t.to_person(
                case.assignee_id,
                case,
                f"{actor.name} confirmed the resolution: {case.key} is resolved.",
            ),
            case,
        )
    # The knowledge base (an observer) drafts an article from it before the commit.
    w.tell("resolved", case)
    ask_survey(w, case)
    return f"Thank you! {case.key} is resolved."


async def reject(w: Work, actor: Actor, key: str, reason: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.REJECT, case)
    if not reason.strip():
        raise Refusal(f"Please say why it doesn't solve it: `/case reject {case.key} <reason>`.")
    to = next_state(case.key, case.state, Act.REJECT)
    await stop_chase(w, case)
    case.rejection_reason = reason.strip()
    w.move(case, actor, to, "rejected", reason.strip())
    waiting_on = await back_on_engineering(w, case)
    if case.assignee_id:
        w.notify(
            t.to_person(
                case.assignee_id,
                case,
                f"{actor.name} rejected the resolution of {case.key}",
                reason.strip(),
                ping=True,
            ),
            case,
        )
    w.notify(t.to_staff(case, f"Resolution rejected by {actor.name}", reason.strip()), case)
    w.notify(
        t.case_status(
            w.config,
            case,
            await w.person_name(case.assignee_id),
            f"Back with your engineer after your answer; still waiting on {waiting_on.key}."
            if waiting_on
            else "Back with your engineer after your answer.",
        ),
        case,
    )
    return f"Understood. {case.key} is back with its engineer."


async def withdraw(w: Work, actor: Actor, key: str, confirm: str = "") -> str:
    """Close the case at the customer's word: asked first, done on ``yes``, and taken
    back with ``reopen`` within the reopen window."""
    case = await w.case(key)
    w.require(actor, Deed.WITHDRAW, case)
    to = next_state(case.key, case.state, Act.WITHDRAW)
    window = w.config.support.reopen_window
    if confirm.strip().lower() != YES:
        return (
            f"Withdraw {case.key} ({case.title})? It closes the case; you can reopen it "
            f"within {window}. To go ahead: `/case withdraw {case.key} {YES}`."
        )
    await close(w, case, actor, to, "withdrawn", survey=False)
    return f"{case.key} is withdrawn and closed. Changed your mind? " + reopen_hint(w, case)


async def duplicate(w: Work, actor: Actor, key: str, other_key: str) -> str:
    # Both rows are locked in one order (by key), whichever way round they were named,
    # so "A of B" and "B of A" at once take turns instead of deadlocking.
    locked = {}
    for k in sorted({normalize_key(key, "CASE"), normalize_key(other_key, "CASE")}):
        locked[k] = await w.case(k)
    case, other = locked[normalize_key(key, "CASE")], locked[normalize_key(other_key, "CASE")]
    w.require(actor, Deed.DUPLICATE, case)
    if other.id == case.id:
        raise Refusal("A case can't be a duplicate of itself.")
    if other.account_key != case.account_key:
        # The customer would be pointed at a case they cannot open.
        raise Refusal(
            f"{case.key} and {other.key} belong to different accounts: a duplicate stays "
            "within one account. Link both to one engineering issue instead "
            f"(`/case link {case.key} ENG-n`)."
        )
    if other.state not in ACTIVE:
        raise Refusal(
            f"{other.key} is {STATE_WORDS[State(other.state)]}: a case can only duplicate "
            "an open one."
        )
    to = next_state(case.key, case.state, Act.DUPLICATE)
    case.duplicate_of = other.key
    await close(w, case, actor, to, "duplicate", survey=False, note=f"duplicate of {other.key}")
    w.event(other, actor, "duplicate_linked", case.key)
    return f"{case.key} closed as a duplicate of {other.key}."


async def close_unresponsive(w: Work, case: Case) -> None:
    to = next_state(case.key, case.state, Act.CLOSE_UNRESPONSIVE)
    # No survey: the customer was not there to judge the work (see ask_survey).
    await close(
        w,
        case,
        SYSTEM,
        to,
        "unresponsive",
        survey=False,
        note="no answer after the chase sequence",
    )


async def close(
    w: Work, case: Case, actor: Actor, to: State, reason: str, survey: bool = True, note: str = ""
) -> None:
    """Close ``case`` for ``reason`` (no checks: the callers made them): timers stop,
    the customer and the engineer hear of it, and the survey goes out."""
    await stop_chase(w, case)
    await w.cancel_timers(case, "knowledge_wait", "escalation_followup")
    case.close_reason = reason
    case.closed_at = w.now
    w.move(case, actor, to, f"closed_{reason}", note)
    words = (
        f"Closed as a duplicate of {case.duplicate_of}."
        if reason == "duplicate"
        else CLOSE_WORDS.get(reason, f"Closed ({reason}).")
    )
    words += " " + reopen_hint(w, case)
    w.notify(
        t.case_status(w.config, case, await w.person_name(case.assignee_id), words),
        case,
    )
    if case.assignee_id and actor.id != case.assignee_id:
        w.notify(
            t.to_person(
                case.assignee_id,
                case,
                f"{case.key} is {state_line(case.state, case.close_reason)}",
                note,
            ),
            case,
        )
    if survey:
        ask_survey(w, case)


async def reopen(w: Work, actor: Actor, key: str, reason: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.REOPEN, case)
    if case.state == State.CLOSED and case.close_reason not in REOPENABLE_CLOSES:
        raise Refusal(
            f"{case.key} is closed as a duplicate of {case.duplicate_of}: it can't "
            f"be reopened. {reopen_hint(w, case)}"
        )
    to = next_state(case.key, case.state, Act.REOPEN)
    window = w.config.support.reopen_window
    if reopen_until(w, case) is None:
        ended = "resolved" if case.state == State.RESOLVED else "closed"
        raise Refusal(
            f"{case.key} was {ended} more than {window} ago and can't be reopened; "
            "please open a new case."
        )
    case.close_reason = None
    case.closed_at = None
    case.resolved_at = None
    case.reopened_at = w.now
    # An article that "solved" it did not after all: the next resolution earns a draft.
    case.kb_article_key = None
    if case.assignee_id is None:
        # Solved by an article or withdrawn before anyone worked on it: triage it like
        # a new case.
        w.move(case, actor, State.TRIAGED, "reopened", reason)
        case.routed_at = None
        await route(w, case)
    else:
        w.move(case, actor, to, "reopened", reason)
        await back_on_engineering(w, case)
        w.notify(
            t.to_person(
                case.assignee_id, case, f"{actor.name} reopened {case.key}", reason, ping=True
            ),
            case,
        )
        w.notify(
            t.case_status(
                w.config,
                case,
                await w.person_name(case.assignee_id),
                "Reopened: back with your engineer.",
            ),
            case,
        )
    return f"{case.key} is reopened."
