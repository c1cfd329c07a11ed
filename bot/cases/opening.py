"""Opening a case: triage, the knowledge-base suggestions shown before anyone is
assigned, and routing to the best engineer."""

from __future__ import annotations

from dataclasses import dataclass

from bot import intake
from bot import templates as t
from bot.actors import SYSTEM, Actor
from bot.cases.assignment import assign_to, triage_card
from bot.cases.survey import ask_survey
from bot.config import Person
from bot.errors import Refusal
from bot.lifecycle import STATE_WORDS, TRANSITIONS, Act, State, next_state
from bot.messages import Target
from bot.policy import Deed, rule
from bot.routing import pick_or_why
from bot.search import settings_for
from bot.terms import HIGHEST
from bot.work import Work
from storage.keys import next_key
from storage.models import Case
from storage.search import search_articles

MAX_TITLE = 200


@dataclass
class NewCase:
    title: str
    description: str = ""
    area: str | None = None
    case_type: str | None = None
    impact: str | None = None
    origin_channel: str | None = None


def problems(w: Work, new: NewCase) -> dict[str, str]:
    """What is wrong with a new case, by form field (empty when nothing is)."""
    config = w.config
    out: dict[str, str] = {}
    title = " ".join(new.title.split())
    if not title:
        out["title"] = "Give the case a title."
    elif len(title) > MAX_TITLE:
        out["title"] = f"The title is {len(title)} characters; keep it under {MAX_TITLE}."
    if new.area and config.area(new.area) is None:
        known = ", ".join(a.key for a in config.product_areas)
        out["area"] = f"There is no product area '{new.area}' (known: {known})."
    if new.case_type and new.case_type not in config.case_types:
        out["type"] = (
            f"There is no case type '{new.case_type}' (known: {', '.join(config.case_types)})."
        )
    if new.impact and new.impact not in config.impacts:
        out["impact"] = f"There is no impact '{new.impact}' (known: {', '.join(config.impacts)})."
    return out


async def open_case(w: Work, actor: Actor, new: NewCase) -> Case:
    w.require(actor, Deed.OPEN)
    account_key = actor.account_key
    if not account_key:  # a customer we can't place in an account opens nothing
        raise Refusal(rule(Deed.OPEN).refusal)
    config = w.config
    title = " ".join(new.title.split())
    wrong = problems(w, new)
    if wrong:
        # One owner for these rules: the form shows each problem by its field, the
        # typed command the same words.
        raise Refusal(" ".join(wrong.values()), errors=wrong)
    # The customer's impact when they chose one; else what the text says, else a question.
    read = None if new.impact else config.suggest_impact(f"{title} {new.description}")
    impact = new.impact or read or default_impact(w)
    how = "chosen" if new.impact else ("read" if read else "assumed")
    account = config.account(account_key)
    key = await next_key(w.session, "CASE")
    case = Case(
        key=key,
        title=title,
        description=new.description.strip(),
        area=new.area,
        case_type=new.case_type,
        impact=impact,
        severity=config.impacts[impact].severity,
        account_key=account_key,
        opener_id=actor.id,
        state=State.OPEN,
        platform=actor.platform,
        origin_channel=new.origin_channel or w.origin_channel,
        created_at=w.now,
        updated_at=w.now,
        kb_suggested=[],
        # The SLA clocks' own fields, given so they stay loaded: the service levels then
        # schedule a case this unit inserted without reading it back.
        first_response_at=None,
        sla_paused_at=None,
        sla_basis=None,
    )
    w.session.add(case)
    await w.session.flush()
    w.event(case, actor, "opened", title, to_state=State.OPEN)
    # Triage: severity from impact and tier, team from the product area.
    case.severity = config.severity_for(impact, account.tier if account else "")
    if not case.area:
        suggested = config.suggest_area(f"{title} {case.description}")
        case.area = suggested.key if suggested else None
    case.team = team_for(w, case.area)
    w.move(
        case,
        SYSTEM,
        State.TRIAGED,
        "triaged",
        f"severity {case.severity}, area {case.area or 'unknown'}, team {case.team}"
        + (f", impact {impact} ({how})" if how != "chosen" else ""),
    )
    w.notify(t.case_opened(config, case, how), case)
    # Knowledge first: show the customer the best matches; only automatic assignment
    # waits for their answer (S1 never waits). The team sees the case at once.
    hits = await search_articles(
        w.session,
        f"{title} {case.description}",
        limit=3,
        area=case.area,
        settings=settings_for(w.config),
    )
    case.kb_suggested = [h.key for h in hits]
    if hits:
        w.notify(t.kb_suggestions(case, [(h.key, h.title, h.snippet) for h in hits]), case)
        w.event(case, SYSTEM, "kb_suggested", ", ".join(h.key for h in hits))
    waits = bool(hits) and case.severity != HIGHEST
    if waits:
        w.schedule(
            "knowledge_wait", config.support.knowledge_wait.after(w.now, config.support.tz), case
        )
    if waits:
        await triage_card(w, case)
    else:
        # The card says at once when nobody can take the case (route says it to the lead).
        pick = await pick_or_why(w.session, config, case.area, w.now)
        await triage_card(w, case, nobody=pick[1] if pick[0] is None else None)
        await route(w, case, waited=False, pick=pick)
    return case


def default_impact(w: Work) -> str:
    """The mildest configured impact: a quick open is a question unless told otherwise."""
    return max(w.config.impacts, key=lambda k: w.config.impacts[k].severity)


def team_for(w: Work, area: str | None) -> str | None:
    """The team that owns ``area``; without one, the first team that owns an area."""
    if area and (a := w.config.area(area)):
        return a.team
    return (
        w.config.product_areas[0].team
        if w.config.product_areas
        else (w.config.teams[0].key if w.config.teams else None)
    )


async def route(
    w: Work, case: Case, waited: bool = True, pick: tuple[Person | None, str] | None = None
) -> None:
    """Assign the best engineer, once; when nobody can take the case, say so, once, on
    the team's card and to the lead. (The triage card went out when the case opened; ``waited``:
    it says the assignment waits for the customer, which is over now, and a knowledge
    wait timer may be pending. ``pick``: :func:`pick_or_why`'s answer, when the caller
    has just asked it in this unit of work — every open asks it once, not twice.)"""
    if case.routed_at is not None or case.state != State.TRIAGED:
        return
    case.routed_at = w.now
    if waited:
        await w.cancel_timers(case, "knowledge_wait")
    engineer, why = pick or await pick_or_why(w.session, w.config, case.area, w.now)
    if engineer is not None:
        await assign_to(w, case, engineer.id, SYSTEM, "assigned by skill")
        return
    if waited:  # the card no longer waits for the customer, and says why nobody has it
        await triage_card(w, case, update=True, nobody=why)
    w.event(case, SYSTEM, "nobody_can_take", why, internal=True)
    for lead in w.config.leads():
        w.notify(intake.nobody_can_take(case, Target.person(lead.id), why), case)


async def knowledge_wait_over(w: Work, case: Case) -> None:
    """Timer: the customer did not answer the KB suggestions in time; route anyway."""
    await route(w, case)


async def kb_accept(w: Work, actor: Actor, key: str, article_key: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.ANSWER_KB, case)
    article_key = article_key.upper()
    if article_key not in (case.kb_suggested or []):
        raise Refusal(f"{article_key} was not suggested for {case.key}.")
    to = next_state(case.key, case.state, Act.ACCEPT_KB)
    case.kb_article_key = article_key
    case.close_reason = "deflected"
    case.closed_at = w.now
    await w.cancel_timers(case, "knowledge_wait", "chase")
    w.move(case, actor, to, "resolved_by_article", article_key)
    w.notify(t.case_status(w.config, case, None, f"Resolved by {article_key}."), case)
    # The team saw the case from the start: its card and thread say it needs no work.
    w.notify(t.to_staff(case, f"{case.key} was solved by {article_key}; no work needed."), case)
    await triage_card(
        w,
        case,
        claimed_by="the customer",
        update=True,
        status=f"Solved by {article_key}: no work needed",
    )
    ask_survey(w, case)
    return f"Glad {article_key} solved it. {case.key} is resolved."


async def kb_reject(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.ANSWER_KB, case)
    # The suggestions stand while nobody works on the case (as for accepting one).
    if State(case.state) not in TRANSITIONS[Act.ACCEPT_KB]:
        raise Refusal(
            f"{case.key} is {STATE_WORDS[State(case.state)]}: "
            "the suggested articles no longer apply."
        )
    w.event(case, actor, "kb_rejected", ", ".join(case.kb_suggested or []))
    await route(w, case)
    return f"Thanks. An engineer will look at {case.key}."


async def change_impact(w: Work, actor: Actor, key: str, impact: str) -> str:
    """The customer corrects the business impact casebot gave (or they chose) while the
    case waits for an engineer; severity follows it as triage would have set it."""
    case = await w.case(key)
    w.require(actor, Deed.IMPACT, case)
    config = w.config
    if impact not in config.impacts:
        raise Refusal(f"There is no impact '{impact}' (known: {', '.join(config.impacts)}).")
    if case.state not in intake.IMPACT_STATES:
        raise Refusal(
            f"{case.key} is already being worked on; tell your engineer in the thread, "
            f"or escalate it (`/case escalate {case.key} <reason>`)."
        )
    label = intake.impact_label(config, impact)
    if impact == case.impact:
        raise Refusal(f"{case.key}'s impact is already {label}.")
    old_label = intake.impact_label(config, case.impact)
    account = config.account(case.account_key)
    old_sev, sev = case.severity, config.severity_for(impact, account.tier if account else "")
    case.impact, case.severity = impact, sev
    w.event(case, actor, "impact_changed", f"{old_label} → {label}")
    moved = f"; severity {old_sev} → {sev}" if sev != old_sev else ""
    w.notify(
        t.to_staff(case, f"{actor.name} changed the impact of {case.key}: {label}{moved}"), case
    )
    who = await w.person_name(case.assignee_id) if case.assignee_id else None
    w.notify(t.case_status(config, case, who, f"Impact: {label}."), case)
    if sev != old_sev:
        await triage_card(w, case, update=True)
    if sev == HIGHEST:
        await route(w, case)  # an S1 does not wait for the knowledge base
    return f"{case.key}'s impact is now {label}" + (f" (severity {sev})." if moved else ".")
