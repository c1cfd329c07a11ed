"""Opening a case: triage, the knowledge-base suggestions shown before anyone is
assigned, and routing to the best engineer."""

from __future__ import annotations

from dataclasses import dataclass

from bot import templates as t
from bot.actors import SYSTEM, Actor
from bot.cases.assignment import assign_to
from bot.cases.survey import ask_survey
from bot.errors import Refusal
from bot.lifecycle import STATE_WORDS, TRANSITIONS, Act, State, next_state
from bot.policy import Deed, rule
from bot.routing import pick_engineer
from bot.search import settings_for
from bot.terms import HIGHEST
from bot.work import Work
from storage.keys import next_key
from storage.models import Case
from storage.search import search_articles, search_eng_issues

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
    impact = new.impact or default_impact(w)
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
        f"severity {case.severity}, area {case.area or 'unknown'}, team {case.team}",
    )
    w.notify(t.case_opened(config, case), case)
    # Knowledge first: show the customer the best matches before anyone is assigned.
    hits = await search_articles(
        w.session,
        f"{title} {case.description}",
        limit=3,
        area=case.area,
        settings=settings_for(w.config),
    )
    case.kb_suggested = [h.key for h in hits]
    if hits and case.severity != HIGHEST:
        w.notify(t.kb_suggestions(case, [(h.key, h.title, h.snippet) for h in hits]), case)
        w.event(case, SYSTEM, "kb_suggested", ", ".join(h.key for h in hits))
        w.schedule(
            "knowledge_wait", config.support.knowledge_wait.after(w.now, config.support.tz), case
        )
    else:
        if hits:
            w.notify(t.kb_suggestions(case, [(h.key, h.title, h.snippet) for h in hits]), case)
        await route(w, case)
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


async def route(w: Work, case: Case) -> None:
    """Post the triage alert and assign the best engineer, once."""
    if case.routed_at is not None or case.state != State.TRIAGED:
        return
    case.routed_at = w.now
    await w.cancel_timers(case, "knowledge_wait")
    kb_lines = [f"{k}" for k in case.kb_suggested]
    eng_hits = await search_eng_issues(
        w.session, f"{case.title} {case.description}", limit=3, settings=settings_for(w.config)
    )
    eng_lines = [f"{h.key} — {h.title}" for h in eng_hits]
    w.notify(t.triage_alert(w.config, case, kb_lines, eng_lines), case)
    engineer = await pick_engineer(w.session, w.config, case.area, w.now)
    if engineer is not None:
        await assign_to(w, case, engineer.id, SYSTEM, "assigned by skill")


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
    if case.routed_at is not None:
        w.notify(t.to_staff(case, f"{case.key} was solved by {article_key}; no work needed."), case)
        w.notify(
            t.triage_alert(
                w.config, case, [], [], claimed_by=f"the customer ({article_key})", update=True
            ),
            case,
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
