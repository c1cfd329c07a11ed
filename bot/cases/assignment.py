"""Who works a case: claiming, assigning, and the case's area and severity."""

from __future__ import annotations

from sqlalchemy import select

from bot import intake
from bot import templates as t
from bot.actors import ENGINEERING, Actor, Role
from bot.errors import Refusal
from bot.lifecycle import ACTIVE, Act, State, next_state
from bot.policy import Deed
from bot.routing import note_assigned, pick_or_why
from bot.search import look_alike_settings
from bot.terms import SEVERITIES, raise_severity
from bot.work import Work
from storage.models import Case, CaseEvent
from storage.search import search_eng_issues

# The timeline kinds of taking a case, and whether the card says claimed or assigned.
TAKEN = {"claimed": "claimed", "assigned": "assigned", "assigned by skill": "assigned"}


async def claim(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.CLAIM, case)
    if case.assignee_id == actor.id and case.state in ACTIVE:
        raise Refusal(f"{case.key} is already yours.")
    if case.assignee_id and case.state in ACTIVE:
        name = await w.person_name(case.assignee_id)
        raise Refusal(f"{case.key} is already claimed by {name}.")
    next_state(case.key, case.state, Act.CLAIM)
    await assign_to(w, case, actor.id, actor, "claimed")
    return f"{case.key} is yours."


async def assign(w: Work, actor: Actor, key: str, person_id: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.ASSIGN, case)
    person = w.config.person(person_id)
    if person is None or Role(person.role) not in ENGINEERING:
        raise Refusal(f"'{person_id}' is not an engineer.")
    if case.assignee_id == person.id:
        raise Refusal(f"{case.key} is already assigned to {person.name}.")
    next_state(case.key, case.state, Act.ASSIGN)
    await assign_to(w, case, person.id, actor, "assigned")
    return f"{case.key} is now assigned to {person.name}."


async def assign_to(w: Work, case: Case, engineer_id: str, actor: Actor, how: str) -> None:
    """Give ``case`` to ``engineer_id`` (no checks: the callers made them) and tell
    the engineer, the team, the customer and whoever had it before."""
    to = State.ASSIGNED if case.state == State.TRIAGED else State(case.state)
    previous = case.assignee_id
    case.assignee_id = engineer_id
    # Claimed during the knowledge wait: automatic assignment has nothing left to do.
    case.routed_at = case.routed_at or w.now
    name = await w.person_name(engineer_id)
    w.move(case, actor, to, how, name)
    if case.assigned_at is None or to != State.ASSIGNED:
        case.assigned_at = case.assigned_at or w.now
    note_assigned(w.session, engineer_id, w.now)
    by = "casebot (best skill match)" if actor.is_system else actor.name
    w.notify(t.assignment_ping(w.config, case, engineer_id, by), case)
    await w.session.flush()
    await triage_card(w, case, update=True)  # the card exists from the open on
    w.notify(t.case_status(w.config, case, name, f"{name} is working on your case."), case)
    if previous and previous != engineer_id:
        w.notify(t.to_person(previous, case, f"{case.key} was reassigned to {name}."), case)


async def triage_card(
    w: Work,
    case: Case,
    *,
    update: bool = False,
    claimed_by: str | None = None,
    nobody: str | None = None,
    team: str | None = None,
    status: str = "",
) -> None:
    """Post (or, with ``update``, edit) the team's card for ``case`` as it is now: its
    severity and area, who has it and how (claimed or assigned), what the customer was
    shown from the knowledge base, the look-alike engineering issues, and ``nobody``:
    why automatic assignment found no one. ``team``: the channel whose card this is
    (the case's team unless told); ``status`` replaces the status line (a move)."""
    if nobody is None and claimed_by is None and _given_up(case):
        engineer, why = await pick_or_why(w.session, w.config, case.area, w.now)
        nobody = why if engineer is None else None
    eng_hits = await search_eng_issues(
        w.session,
        f"{case.title} {case.description}",
        limit=3,
        settings=look_alike_settings(w.config),
    )
    how = "claimed"
    if claimed_by is None and case.assignee_id:
        claimed_by = await w.person_name(case.assignee_id)
        last = (
            await w.session.scalars(
                select(CaseEvent.kind)
                .where(CaseEvent.case_id == case.id, CaseEvent.kind.in_(list(TAKEN)))
                .order_by(CaseEvent.id.desc())
            )
        ).first()
        how = TAKEN.get(last or "", "assigned")
    w.notify(
        t.triage_alert(
            w.config,
            case,
            intake.knowledge_lines(w.config, case),
            [f"{h.key} — {h.title}" for h in eng_hits],
            claimed_by=claimed_by,
            update=update,
            how=how,
            team=team,
            status=status or None,
            nobody=nobody,
        ),
        case,
    )


def _given_up(case: Case) -> bool:
    """Automatic assignment ran and found nobody; nobody has claimed it since."""
    return case.routed_at is not None and case.assignee_id is None and case.state == State.TRIAGED


async def change_area(w: Work, actor: Actor, key: str, area: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.AREA, case)
    if case.state not in ACTIVE:
        raise Refusal(f"{case.key} is closed; its area can't change.")
    a = w.config.area(area)
    if a is None:
        raise Refusal(
            f"There is no product area '{area}' "
            f"(known: {', '.join(x.key for x in w.config.product_areas)})."
        )
    if a.key == case.area:
        raise Refusal(f"{case.key} is already in {a.name}.")
    old_team = case.team
    case.area, case.team = a.key, a.team
    w.event(case, actor, "area_changed", a.key)
    if old_team == a.team:
        await triage_card(w, case, update=True)
    else:
        # The old team's card says where the case went (and can no longer be claimed
        # there); the new team gets the case's card, claimable only if nobody has it.
        await w.session.flush()
        await triage_card(
            w,
            case,
            update=True,
            team=old_team or "",
            status=f"Moved to {a.name} ({a.team}) by {actor.name}",
        )
        await triage_card(w, case)
    return f"{case.key} is now in {a.name} ({a.team})."


async def change_severity(w: Work, actor: Actor, key: str, severity: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.SEVERITY, case)
    sev = severity.upper()
    if sev not in SEVERITIES:
        raise Refusal(
            f"'{severity}' is not a severity: use {SEVERITIES[0]} (highest) to {SEVERITIES[-1]}."
        )
    if case.state not in ACTIVE:
        raise Refusal(f"{case.key} is closed; its severity can't change.")
    if sev == case.severity:
        raise Refusal(f"{case.key} is already {sev}.")
    old = case.severity
    case.severity = sev
    w.event(case, actor, "severity_changed", f"{old} → {sev}")
    w.notify(t.to_staff(case, f"{case.key} severity {old} → {sev} by {actor.name}"), case)
    # Every card that shows the severity shows the new one.
    await triage_card(w, case, update=True)
    w.notify(
        t.case_status(
            w.config, case, await w.person_name(case.assignee_id), f"Severity is now {sev}."
        ),
        case,
    )
    return f"{case.key} severity is now {sev}."


async def raise_case_severity(w: Work, actor: Actor, key: str) -> str:
    """One level up (the escalation message's button)."""
    case = await w.case(key, lock=False)
    w.require(actor, Deed.SEVERITY, case)
    return await change_severity(w, actor, key, raise_severity(case.severity))
