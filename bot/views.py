"""Read models: what people look at (``/case list``, ``show`` with its timeline,
``queue``, the home views, autocomplete) and where a thread message belongs; the
reports (``/case stats``, the dashboard) are ``bot.reports``.

Every read the command layer needs lives here, so the command layer never queries the
database; who may see what is the policy table's answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from bot import policy, sla
from bot.actors import Actor, Role
from bot.disclosure import Detail, shown_to_customers
from bot.errors import Refusal
from bot.exchange import CaseLine, HomeView
from bot.keys import normalize_key
from bot.lifecycle import ACTIVE, STATE_WORDS, WAITING_ON_CUSTOMER, State, state_line
from bot.policy import Deed
from bot.routing import pick_or_why
from bot.templates import timeline_text
from bot.work import Work
from storage.models import Case, CaseEvent, Conversation

LIST_LIMIT = 25


def accounts_seen(w: Work, a: Actor) -> list[str] | None:
    """The accounts whose cases ``a`` may see, or None for all (the policy's
    ``can_see`` as a filter on a query)."""
    if a.is_customer:
        return [a.account_key] if a.account_key else []
    if a.role == Role.CSM:
        return [acc.key for acc in w.config.accounts if acc.csm == a.id]
    return None


def _seen(stmt: Select[Any], accounts: list[str] | None) -> Select[Any]:
    return stmt if accounts is None else stmt.where(Case.account_key.in_(accounts))


def state_words(state: str) -> str:
    return STATE_WORDS[State(state)]


async def _line(w: Work, c: Case) -> str:
    who = f", {await w.person_name(c.assignee_id)}" if c.assignee_id else ""
    return f"{c.key} [{c.severity}] {c.title} — {state_words(c.state)}{who}"


async def case_list(w: Work, a: Actor) -> str:
    stmt = _seen(select(Case).order_by(Case.id.desc()).limit(LIST_LIMIT), accounts_seen(w, a))
    if not a.is_customer:
        stmt = stmt.where(Case.state.in_([s.value for s in ACTIVE]))
    rows = (await w.session.scalars(stmt)).all()
    if not rows:
        return "No cases." if a.is_customer else "No open cases."
    head = "Your account's cases:" if a.is_customer else "Open cases:"
    return head + "\n" + "\n".join([await _line(w, c) for c in rows])


async def case_page(w: Work, a: Actor, key: str) -> str:
    """``/case show``: the case, its service level and its timeline (internal entries
    for staff only)."""
    case = await w.case(key, lock=False)
    policy.require_visible(a, w.subject(case))
    events = (
        await w.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    ).all()
    if a.is_customer:
        events = [e for e in events if not e.internal]
    names = {p.id: p.name for p in w.config.people}
    account = w.config.account(case.account_key)
    lines = [
        f"{case.key}: {case.title}",
        f"State: {state_line(case.state, case.close_reason)}",
        f"Severity {case.severity} · area {case.area or 'not set'} · "
        f"account {account.name if account else case.account_key}",
        f"Engineer: {await w.person_name(case.assignee_id)}",
    ]
    if case.escalation_level:
        lines.append(
            f"Escalated: level {case.escalation_level}"
            + (" (acknowledged)" if case.escalation_acked_at else "")
        )
    left = sla.time_left(w.config, case, w.now) if _sees_sla(a) else None
    if left:
        lines.append(left)
    if case.description:
        lines.append(f"Description: {case.description}")
    lines.append("Timeline:")
    lines.append(timeline_text(events, names, limit=50, tz=w.config.support.tz))
    return "\n".join(lines)


def _sees_sla(a: Actor) -> bool:
    return not a.is_customer or shown_to_customers(Detail.SLA)


async def _lines(
    w: Work, stmt: Select[Any], accounts: list[str] | None = None, sla_shown: bool = True
) -> list[CaseLine]:
    cases: Sequence[Case]
    out = []
    stmt = _seen(stmt, accounts)
    cases = (await w.session.scalars(stmt.order_by(Case.severity, Case.id))).all()
    for c in cases:
        account = w.config.account(c.account_key)
        out.append(
            CaseLine(
                c.key,
                c.title,
                c.state,
                c.severity,
                account.name if account else c.account_key,
                await w.person_name(c.assignee_id) if c.assignee_id else None,
                sla.time_left(w.config, c, w.now, short=True) if sla_shown else None,
            )
        )
    return out


async def home(w: Work, a: Actor) -> HomeView:
    """A person's home (Slack's App Home, the console's ``home``): titled sections."""
    active = [s.value for s in ACTIVE]
    if a.is_customer:
        mine = select(Case).where(Case.account_key == a.account_key, Case.state.in_(active))
        lines = await _lines(w, mine, sla_shown=_sees_sla(a))
        return HomeView(f"{a.name}'s cases", [("Open cases", lines)])
    waiting = [s.value for s in WAITING_ON_CUSTOMER]
    seen = accounts_seen(w, a)
    sections = [
        (
            "Assigned to me",
            await _lines(w, select(Case).where(Case.assignee_id == a.id, Case.state.in_(active))),
        ),
        (
            "Waiting for triage",
            await _lines(
                w,
                select(Case).where(Case.state == State.TRIAGED, Case.assignee_id.is_(None)),
                seen,
            ),
        ),
        (
            "Waiting on customers",
            await _lines(w, select(Case).where(Case.assignee_id == a.id, Case.state.in_(waiting))),
        ),
    ]
    if policy.role_may(a.role, Deed.ACK):
        esc = select(Case).where(Case.escalation_level > 0, Case.state.in_(active))
        sections.append(("Escalated", await _lines(w, esc, seen)))
    return HomeView(f"{a.name}'s queue", sections)


async def queue(w: Work, a: Actor) -> str:
    view = await home(w, a)
    lines = []
    for title, items in view.sections:
        lines.append(f"{title} ({len(items)}):")
        lines.extend(
            f"  {c.key} [{c.severity}] {c.title} — {state_words(c.state)}"
            + (f" · {c.time_left}" if c.time_left else "")
            for c in items
        )
    stuck = await nobody_can_take(w, a)
    if stuck:
        lines.append(f"Nobody can take ({len(stuck)}):")
        lines.extend(f"  {key}: {why}" for key, why in stuck)
    return "\n".join(lines)


async def nobody_can_take(w: Work, a: Actor) -> list[tuple[str, str]]:
    """Cases automatic assignment gave up on that are still unassigned, with why nobody
    can take them as things are now (a shift may have started since)."""
    stmt = _seen(
        select(Case).where(
            Case.state == State.TRIAGED, Case.assignee_id.is_(None), Case.routed_at.is_not(None)
        ),
        accounts_seen(w, a),
    )
    out = []
    for c in (await w.session.scalars(stmt.order_by(Case.severity, Case.id))).all():
        engineer, why = await pick_or_why(w.session, w.config, c.area, w.now)
        out.append((c.key, why if engineer is None else f"{engineer.name} could take it now"))
    return out


async def case_choices(w: Work, a: Actor, prefix: str) -> list[tuple[str, str]]:
    """Cases ``a`` can see whose key or title holds ``prefix`` (autocomplete)."""
    stmt = _seen(select(Case).order_by(Case.id.desc()).limit(LIST_LIMIT), accounts_seen(w, a))
    p = prefix.strip().upper()
    if p:
        stmt = stmt.where(or_(Case.key.like(f"%{p}%"), func.upper(Case.title).like(f"%{p}%")))
    rows = (await w.session.scalars(stmt)).all()
    return [(c.key, f"{c.key} · {c.title}"[:100]) for c in rows]


async def conversation_at(
    w: Work, platform: str, channel_id: str | None, thread_id: str | None
) -> tuple[str, str] | None:
    """The case and purpose (``customer`` / ``staff``) of the conversation a message
    was written in, or None outside every case conversation."""
    conds: list[ColumnElement[bool]] = []
    if thread_id:
        conds.append(
            (Conversation.channel == (channel_id or "")) & (Conversation.thread == thread_id)
        )
        conds.append(Conversation.thread == thread_id)
    if channel_id:
        conds.append(Conversation.thread == channel_id)
    if not conds:
        return None
    conv = (
        await w.session.scalars(
            select(Conversation).where(Conversation.platform == platform, or_(*conds))
        )
    ).first()
    if conv is None:
        return None
    case = await w.session.get(Case, conv.case_id)
    return (case.key, conv.purpose) if case is not None else None


def lenient_case_key(text: str | None) -> str | None:
    """A case key if ``text`` is one, else None (for locking before parsing)."""
    if not text:
        return None
    try:
        return normalize_key(str(text), "CASE")
    except Refusal:  # not a key: nothing to lock
        return None
