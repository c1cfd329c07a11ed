"""The case life cycle's use cases: one function each, taking the unit of work, the
actor and the command's arguments, returning what the actor is told."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot import templates as t
from bot.errors import Refusal
from bot.lifecycle import (
    ACTIVE,
    STATE_WORDS,
    TRANSITIONS,
    WAITING_ON_CUSTOMER,
    Act,
    State,
    next_state,
)
from bot.messages import Kind
from bot.policy import (
    require_csm_of,
    require_customer,
    require_engineer,
    require_handler,
    require_visible,
)
from bot.routing import SEVERITIES, pick_engineer, raise_severity
from bot.work import SYSTEM, Actor, Work
from storage.keys import next_key
from storage.models import Case, CaseEvent, EngIssue, PersonRow
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


# -- open and triage ------------------------------------------------------------


async def open_case(w: Work, actor: Actor, new: NewCase) -> Case:
    if not actor.is_customer or not actor.account_key:
        raise Refusal("Cases are opened by customers. Staff can use `/case queue` to see the work.")
    title = " ".join(new.title.split())
    if not title:
        raise Refusal("A case needs a title: `/case open <what is wrong>`.")
    if len(title) > MAX_TITLE:
        raise Refusal(f"The title is {len(title)} characters; keep it under {MAX_TITLE}.")
    config = w.config
    if new.area and config.area(new.area) is None:
        known = ", ".join(a.key for a in config.product_areas)
        raise Refusal(f"There is no product area '{new.area}' (known: {known}).")
    if new.case_type and new.case_type not in config.case_types:
        raise Refusal(
            f"There is no case type '{new.case_type}' (known: {', '.join(config.case_types)})."
        )
    impact = new.impact or _default_impact(w)
    if impact not in config.impacts:
        raise Refusal(f"There is no impact '{impact}' (known: {', '.join(config.impacts)}).")
    account = config.account(actor.account_key)
    key = await next_key(w.session, "CASE")
    case = Case(
        key=key,
        title=title,
        description=new.description.strip(),
        area=new.area,
        case_type=new.case_type,
        impact=impact,
        severity=config.impacts[impact].severity,
        account_key=actor.account_key,
        opener_id=actor.id,
        state=State.OPEN,
        platform=actor.platform,
        origin_channel=new.origin_channel,
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
    case.team = _team_for(w, case.area)
    w.move(
        case,
        SYSTEM,
        State.TRIAGED,
        "triaged",
        f"severity {case.severity}, area {case.area or 'unknown'}, team {case.team}",
    )
    w.notify(t.case_opened(config, case), case)
    # Knowledge first: show the customer the best matches before anyone is assigned.
    hits = await search_articles(w.session, f"{title} {case.description}", limit=3, area=case.area)
    case.kb_suggested = [h.key for h in hits]
    if hits and case.severity != "S1":
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


def _default_impact(w: Work) -> str:
    # The mildest configured impact: a quick open is a question unless told otherwise.
    return max(w.config.impacts, key=lambda k: w.config.impacts[k].severity)


def _team_for(w: Work, area: str | None) -> str | None:
    if area and (a := w.config.area(area)):
        return a.team
    # No area: the first team that owns a product area triages it.
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
    eng_hits = await search_eng_issues(w.session, f"{case.title} {case.description}", limit=3)
    eng_lines = [f"{h.key} — {h.title}" for h in eng_hits]
    w.notify(t.triage_alert(w.config, case, kb_lines, eng_lines), case)
    engineer = await pick_engineer(w.session, w.config, case.area, w.now)
    if engineer is not None:
        await _assign(w, case, engineer.id, SYSTEM, "assigned by skill")


async def knowledge_wait_over(w: Work, case: Case) -> None:
    """Timer: the customer did not answer the KB suggestions in time; route anyway."""
    await route(w, case)


async def kb_accept(w: Work, actor: Actor, key: str, article_key: str) -> str:
    case = await w.case(key)
    require_customer(actor, case, "close with an article")
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
    _survey(w, case)
    return f"Glad {article_key} solved it. {case.key} is resolved."


async def kb_reject(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    require_customer(actor, case, "answer the suggestions for")
    # The suggestions stand while nobody works on the case (as for accepting one).
    if State(case.state) not in TRANSITIONS[Act.ACCEPT_KB]:
        raise Refusal(
            f"{case.key} is {STATE_WORDS[State(case.state)]}: "
            "the suggested articles no longer apply."
        )
    w.event(case, actor, "kb_rejected", ", ".join(case.kb_suggested or []))
    await route(w, case)
    return f"Thanks. An engineer will look at {case.key}."


# -- assignment ---------------------------------------------------------------------


async def claim(w: Work, actor: Actor, key: str) -> str:
    require_engineer(actor, "claim cases")
    case = await w.case(key)
    if case.assignee_id == actor.id and case.state in ACTIVE:
        raise Refusal(f"{case.key} is already yours.")
    if case.assignee_id and case.state in ACTIVE:
        name = await w.person_name(case.assignee_id)
        raise Refusal(f"{case.key} is already claimed by {name}.")
    next_state(case.key, case.state, Act.CLAIM)
    await _assign(w, case, actor.id, actor, "claimed")
    return f"{case.key} is yours."


async def assign(w: Work, actor: Actor, key: str, person_id: str) -> str:
    case = await w.case(key)
    csm = w.config.csm_for(case.account_key)
    if not (actor.is_engineer or (actor.role == "csm" and csm and csm.id == actor.id)):
        raise Refusal("Only engineers, the lead, or the account's CSM can assign cases.")
    person = w.config.person(person_id)
    if person is None or person.role not in ("engineer", "lead"):
        raise Refusal(f"'{person_id}' is not an engineer.")
    if case.assignee_id == person.id:
        raise Refusal(f"{case.key} is already assigned to {person.name}.")
    next_state(case.key, case.state, Act.ASSIGN)
    await _assign(w, case, person.id, actor, "assigned")
    return f"{case.key} is now assigned to {person.name}."


async def _assign(w: Work, case: Case, engineer_id: str, actor: Actor, how: str) -> None:
    to = State.ASSIGNED if case.state == State.TRIAGED else State(case.state)
    previous = case.assignee_id
    case.assignee_id = engineer_id
    # Claimed or assigned before the triage alert went out (during the knowledge
    # wait): the alert is posted now rather than edited, so the case gets its staff thread.
    alert_posted = case.routed_at is not None
    case.routed_at = case.routed_at or w.now
    name = await w.person_name(engineer_id)
    w.move(case, actor, to, how, name)
    if case.assigned_at is None or to != State.ASSIGNED:
        case.assigned_at = case.assigned_at or w.now
    row = await w.session.get(PersonRow, engineer_id)
    if row is not None:
        row.last_assigned_at = w.now
    by = "casebot (best skill match)" if actor.role == "system" else actor.name
    w.notify(t.assignment_ping(w.config, case, engineer_id, by), case)
    w.notify(
        t.triage_alert(
            w.config, case, list(case.kb_suggested or []), [], claimed_by=name, update=alert_posted
        ),
        case,
    )
    w.notify(t.case_status(w.config, case, name, f"{name} is working on your case."), case)
    if previous and previous != engineer_id:
        w.notify(t.to_person(previous, case, f"{case.key} was reassigned to {name}."), case)


async def change_area(w: Work, actor: Actor, key: str, area: str) -> str:
    require_engineer(actor, "change a case's area")
    case = await w.case(key)
    if case.state not in ACTIVE:
        raise Refusal(f"{case.key} is closed; its area can't change.")
    a = w.config.area(area)
    if a is None:
        raise Refusal(
            f"There is no product area '{area}' "
            f"(known: {', '.join(x.key for x in w.config.product_areas)})."
        )
    old_team = case.team
    case.area, case.team = a.key, a.team
    w.event(case, actor, "area_changed", a.key)
    if old_team != a.team and case.routed_at is not None:
        w.notify(t.triage_alert(w.config, case, list(case.kb_suggested or []), []), case)
    return f"{case.key} is now in {a.name} ({a.team})."


async def change_severity(w: Work, actor: Actor, key: str, severity: str) -> str:
    case = await w.case(key)
    csm = w.config.csm_for(case.account_key)
    if not (actor.is_engineer or (actor.role == "csm" and csm and csm.id == actor.id)):
        raise Refusal("Only engineers, the lead, or the account's CSM can change severity.")
    sev = severity.upper()
    if sev not in SEVERITIES:
        raise Refusal(f"'{severity}' is not a severity: use S1 (highest) to S4.")
    if case.state not in ACTIVE:
        raise Refusal(f"{case.key} is closed; its severity can't change.")
    if sev == case.severity:
        raise Refusal(f"{case.key} is already {sev}.")
    old = case.severity
    case.severity = sev
    w.event(case, actor, "severity_changed", f"{old} → {sev}")
    w.notify(t.to_staff(case, f"{case.key} severity {old} → {sev} by {actor.name}"), case)
    return f"{case.key} severity is now {sev}."


# -- working the case -------------------------------------------------------------


async def replicating(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    require_handler(actor, case, "start replicating")
    to = next_state(case.key, case.state, Act.REPLICATE)
    w.move(case, actor, to, "replicating")
    _first_response(w, case)
    w.notify(
        t.case_status(w.config, case, actor.name, f"{actor.name} is reproducing the problem."), case
    )
    return f"{case.key}: replicating."


async def need_info(w: Work, actor: Actor, key: str, question: str) -> str:
    case = await w.case(key)
    require_handler(actor, case, "ask for information")
    if not question.strip():
        raise Refusal(f"Say what you need: `/case need-info {case.key} <question>`.")
    to = next_state(case.key, case.state, Act.NEED_INFO)
    case.info_request = question.strip()
    w.move(case, actor, to, "info_requested", question.strip())
    _first_response(w, case)
    w.notify(t.info_request(case, actor.name, question.strip()), case)
    w.notify(
        t.case_status(
            w.config,
            case,
            await w.person_name(case.assignee_id),
            f"{actor.name} is waiting for your answer.",
        ),
        case,
    )
    await start_chase(w, case)
    return f"Asked the customer on {case.key}; the chase sequence is running."


async def propose(w: Work, actor: Actor, key: str, resolution: str) -> str:
    case = await w.case(key)
    require_handler(actor, case, "propose resolutions")
    if not resolution.strip():
        raise Refusal(f"Say what the resolution is: `/case propose {case.key} <resolution>`.")
    await _propose(w, case, actor, resolution.strip(), Act.PROPOSE)
    return f"Proposed a resolution on {case.key}; waiting for the customer to confirm."


async def _propose(w: Work, case: Case, actor: Actor, resolution: str, act_: Act) -> None:
    to = next_state(case.key, case.state, act_)
    case.proposed_resolution = resolution
    w.move(case, actor, to, "solution_proposed", resolution)
    _first_response(w, case)
    engineer = await w.person_name(case.assignee_id) if actor.role == "system" else actor.name
    w.notify(t.resolution_proposal(case, engineer, resolution), case)
    w.notify(
        t.case_status(
            w.config,
            case,
            await w.person_name(case.assignee_id),
            "A resolution is proposed: please confirm or reject it.",
        ),
        case,
    )
    await start_chase(w, case)


async def confirm(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    require_customer(actor, case, "confirm a resolution of")
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
    from bot.knowledge import draft_from_case

    await draft_from_case(w, case)
    _survey(w, case)
    return f"Thank you! {case.key} is resolved."


async def reject(w: Work, actor: Actor, key: str, reason: str) -> str:
    case = await w.case(key)
    require_customer(actor, case, "reject a resolution of")
    if not reason.strip():
        raise Refusal(f"Please say why it doesn't solve it: `/case reject {case.key} <reason>`.")
    to = next_state(case.key, case.state, Act.REJECT)
    await stop_chase(w, case)
    case.rejection_reason = reason.strip()
    w.move(case, actor, to, "rejected", reason.strip())
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
            "Back with your engineer after your answer.",
        ),
        case,
    )
    return f"Understood. {case.key} is back with its engineer."


async def reply(w: Work, actor: Actor, key: str, text: str) -> str:
    """A message on the case: from the customer it answers an information request and
    stops the chase; from staff it reaches the customer."""
    case = await w.case(key)
    require_visible(actor, case)
    text = text.strip()
    if not text:
        raise Refusal(f"Nothing to send: `/case reply {case.key} <text>`.")
    if case.state not in ACTIVE and case.state != State.RESOLVED:
        raise Refusal(f"{case.key} is closed; open a new case or reopen it if you can.")
    if actor.is_customer:
        await customer_message(w, actor, case, text, echo=True)
        return f"Sent on {case.key}."
    if not actor.is_staff:
        raise Refusal("You can't reply on this case.")
    w.event(case, actor, "reply", text)
    _first_response(w, case)
    w.notify(t.to_customer(case, f"{actor.name} on {case.key}", text), case)
    return f"Sent to the customer on {case.key}."


async def customer_message(w: Work, actor: Actor, case: Case, text: str, echo: bool) -> None:
    w.event(case, actor, "customer_message", text)
    if case.state in WAITING_ON_CUSTOMER:
        await stop_chase(w, case)
    if case.state == State.WAITING_ON_CUSTOMER:
        w.move(case, actor, next_state(case.key, case.state, Act.CUSTOMER_ANSWER), "answered", text)
        w.notify(
            t.case_status(
                w.config,
                case,
                await w.person_name(case.assignee_id),
                "Thanks for the information; your engineer is on it.",
            ),
            case,
        )
    if echo:
        w.notify(t.to_customer(case, f"{actor.name} on {case.key}", text), case)
    if case.assignee_id:
        w.notify(
            t.to_person(
                case.assignee_id, case, f"{actor.name} wrote on {case.key}", text, ping=True
            ),
            case,
        )
    w.notify(t.to_staff(case, f"{actor.name} (customer) wrote", text), case)


async def note(w: Work, actor: Actor, key: str, text: str, post: bool = True) -> str:
    case = await w.case(key)
    if not actor.is_staff:
        raise Refusal("Internal notes are for staff.")
    if not text.strip():
        raise Refusal(f"Nothing to note: `/case note {case.key} <text>`.")
    w.event(case, actor, "note", text.strip(), internal=True)
    if post:
        w.notify(t.to_staff(case, f"Note from {actor.name}", text.strip()), case)
    return f"Noted on {case.key} (internal)."


async def withdraw(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    require_customer(actor, case, "withdraw")
    to = next_state(case.key, case.state, Act.WITHDRAW)
    await _close(w, case, actor, to, "withdrawn")
    return f"{case.key} is withdrawn and closed."


async def duplicate(w: Work, actor: Actor, key: str, other_key: str) -> str:
    require_engineer(actor, "close duplicates")
    case = await w.case(key)
    other = await w.case(other_key)
    if other.id == case.id:
        raise Refusal("A case can't be a duplicate of itself.")
    to = next_state(case.key, case.state, Act.DUPLICATE)
    case.duplicate_of = other.key
    await _close(w, case, actor, to, "duplicate", survey=False, note=f"duplicate of {other.key}")
    w.event(other, actor, "duplicate_linked", case.key)
    return f"{case.key} closed as a duplicate of {other.key}."


async def close_unresponsive(w: Work, case: Case) -> None:
    to = next_state(case.key, case.state, Act.CLOSE_UNRESPONSIVE)
    await _close(w, case, SYSTEM, to, "unresponsive", note="no answer after the chase sequence")


async def _close(
    w: Work, case: Case, actor: Actor, to: State, reason: str, survey: bool = True, note: str = ""
) -> None:
    await stop_chase(w, case)
    await w.cancel_timers(case, "knowledge_wait", "escalation_followup")
    case.close_reason = reason
    case.closed_at = w.now
    w.move(case, actor, to, f"closed_{reason}", note)
    words = {
        "withdrawn": "Withdrawn by the customer.",
        "duplicate": f"Closed as a duplicate of {case.duplicate_of}.",
        "unresponsive": "Closed: we did not hear back after several reminders. "
        "Open a new case whenever you're ready.",
    }
    w.notify(
        t.case_status(
            w.config,
            case,
            await w.person_name(case.assignee_id),
            words.get(reason, f"Closed ({reason})."),
        ),
        case,
    )
    if case.assignee_id and actor.id != case.assignee_id:
        w.notify(t.to_person(case.assignee_id, case, f"{case.key} closed ({reason})", note), case)
    if survey:
        _survey(w, case)


async def reopen(w: Work, actor: Actor, key: str, reason: str) -> str:
    case = await w.case(key)
    require_customer(actor, case, "reopen")
    to = next_state(case.key, case.state, Act.REOPEN)
    window = w.config.support.reopen_window
    resolved_at = case.resolved_at or case.closed_at
    if resolved_at is None or window.after(resolved_at, w.config.support.tz) < w.now:
        raise Refusal(
            f"{case.key} was resolved more than {window} ago and can't be reopened; "
            "please open a new case."
        )
    case.close_reason = None
    case.closed_at = None
    case.resolved_at = None
    case.reopened_at = w.now
    # An article that "solved" it did not after all: the next resolution earns a draft.
    case.kb_article_key = None
    if case.assignee_id is None:
        # Solved by an article, never worked: triage it like a new case.
        w.move(case, actor, State.TRIAGED, "reopened", reason)
        case.routed_at = None
        await route(w, case)
    else:
        w.move(case, actor, to, "reopened", reason)
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


async def called(w: Work, actor: Actor, key: str, outcome: str, text: str) -> str:
    case = await w.case(key)
    require_handler(actor, case, "record calls")
    outcome = outcome.lower()
    if outcome not in ("reached", "not-reached"):
        raise Refusal(f"Say `reached` or `not-reached`: `/case called {case.key} reached [note]`.")
    w.event(case, actor, f"call_{outcome.replace('-', '_')}", text.strip(), internal=True)
    if outcome == "reached":
        if case.state in WAITING_ON_CUSTOMER:
            await stop_chase(w, case)
        return f"Recorded: customer reached on {case.key}; the chase has stopped."
    return f"Recorded: customer not reached on {case.key}; the chase goes on."


def _first_response(w: Work, case: Case) -> None:
    if case.first_response_at is None:
        case.first_response_at = w.now


def _survey(w: Work, case: Case) -> None:
    w.notify(t.survey_prompt(w.config, case), case)


# -- the chase sequence -------------------------------------------------------------


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


# -- escalation ---------------------------------------------------------------------


async def escalate(w: Work, actor: Actor, key: str, reason: str) -> str:
    case = await w.case(key)
    require_customer(actor, case, "escalate")
    if case.state not in ACTIVE:
        raise Refusal(f"{case.key} is closed; reopen it first or open a new case.")
    reason = reason.strip() or "no reason given"
    if case.escalation_level >= 2:
        raise Refusal(f"{case.key} is already escalated to the support lead.")
    if case.escalation_level == 1 and case.escalation_acked_at is None:
        raise Refusal(
            f"{case.key} is already escalated; your CSM has been told and the lead "
            "will be if they don't acknowledge it soon."
        )
    csm = w.config.csm_for(case.account_key)
    level = 1 if case.escalation_level == 0 and csm is not None else 2
    await _escalate_to(w, case, actor, level, reason)
    who = csm.name if level == 1 and csm else "the support lead"
    w.notify(t.to_customer(case, f"{case.key} escalated to {who}", reason), case)
    return f"{case.key} is escalated to {who}."


async def _escalate_to(w: Work, case: Case, actor: Actor, level: int, reason: str) -> None:
    case.escalation_level = level
    case.escalation_reason = reason
    case.escalated_at = w.now
    case.escalation_acked_at = None
    w.event(case, actor, "escalated", f"level {level}: {reason}")
    events = (
        await w.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    ).all()
    names = {p.id: p.name for p in w.config.people}
    timeline = t.timeline_text([e for e in events if not e.internal] or events, names)
    customer = await w.person_name(case.opener_id)
    if level == 1:
        csm = w.config.csm_for(case.account_key)
        assert csm is not None
        recipients = [csm.id]
        w.schedule(
            "escalation_followup",
            w.config.escalation.acknowledge_within.after(w.now, w.config.support.tz),
            case,
            level=1,
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
    await _escalate_to(
        w,
        case,
        SYSTEM,
        2,
        f"not acknowledged by the CSM within {w.config.escalation.acknowledge_within}"
        f" (was: {case.escalation_reason})",
    )


async def ack(w: Work, actor: Actor, key: str, text: str) -> str:
    case = await w.case(key)
    csm = w.config.csm_for(case.account_key)
    require_csm_of(actor, case, csm.id if csm else None, "acknowledge the escalation of")
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


async def raise_case_severity(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key, lock=False)
    require_visible(actor, case)
    return await change_severity(w, actor, key, raise_severity(case.severity))


async def join(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    require_visible(actor, case)
    if not actor.is_staff:
        raise Refusal("Only staff can join a case thread.")
    w.event(case, actor, "joined", internal=True)
    w.notify(t.to_staff(case, f"{actor.name} joined {case.key}"), case)
    # Joining means being in the customer's thread too: the mention lets each platform
    # bring the person in (Discord adds them to the private thread).
    role = "your CSM" if actor.role == "csm" else "from support"
    joined = t.to_customer(case, f"{actor.name} ({role}) joined {case.key}")
    joined.mentions = [actor.id]
    w.notify(joined, case)
    return f"You've joined {case.key}: its customer thread and staff thread."


# -- survey and feedback ------------------------------------------------------------


async def survey(w: Work, actor: Actor, key: str, rating: int, comment: str) -> str:
    from storage.models import SurveyAnswer

    case = await w.case(key)
    require_customer(actor, case, "answer the survey of")
    if case.state not in (State.RESOLVED, State.CLOSED):
        raise Refusal(f"{case.key} is still open; the survey comes when it closes.")
    if not 1 <= rating <= 5:
        raise Refusal("The rating is a number from 1 to 5.")
    existing = (
        await w.session.scalars(select(SurveyAnswer).where(SurveyAnswer.case_id == case.id))
    ).one_or_none()
    if existing is not None:
        if comment.strip() and not existing.comment:
            existing.comment = comment.strip()
            w.event(case, actor, "survey_comment", comment.strip())
            await _low_score_alert(w, case, existing.rating, comment.strip(), actor)
            return "Thanks for the comment."
        raise Refusal(f"You've already rated {case.key} ({existing.rating}/5). Thank you!")
    w.session.add(
        SurveyAnswer(
            case_id=case.id, person_id=actor.id, rating=rating, comment=comment.strip(), at=w.now
        )
    )
    w.event(case, actor, "survey_answered", f"{rating}/5 {comment.strip()}".strip())
    await _low_score_alert(w, case, rating, comment.strip(), actor)
    return f"Thanks for rating {case.key} {rating}/5."


async def _low_score_alert(w: Work, case: Case, rating: int, comment: str, actor: Actor) -> None:
    if rating > w.config.survey.low_score:
        return
    csm = w.config.csm_for(case.account_key)
    targets = [csm.id] if csm else [p.id for p in w.config.leads()]
    for pid in targets:
        w.notify(
            t.to_person(
                pid,
                case,
                f"Low survey score on {case.key}: {rating}/5 from {actor.name}",
                comment or "(no comment)",
                Kind.ALERT,
                ping=True,
            ),
            case,
        )


async def feedback(w: Work, actor: Actor, text: str) -> str:
    from storage.models import Feedback

    if not text.strip():
        raise Refusal("Tell us what you think: `/case feedback <text>`.")
    w.session.add(
        Feedback(person_id=actor.id, account_key=actor.account_key, text=text.strip(), at=w.now)
    )
    for lead in w.config.leads():
        msg = t.to_person(lead.id, None, f"Feedback from {actor.name}", text.strip(), Kind.ALERT)
        msg.platform = actor.platform
        w.notify(msg)
    return "Thank you for your feedback; the support lead reads every message."


async def eng_issue_for(w: Work, eng_key: str) -> EngIssue:
    from bot.work import normalize_key

    key = normalize_key(eng_key, "ENG")
    issue = (
        await w.session.scalars(select(EngIssue).where(EngIssue.key == key).with_for_update())
    ).one_or_none()
    if issue is None:
        raise Refusal(f"There is no engineering issue {key}.")
    return issue
