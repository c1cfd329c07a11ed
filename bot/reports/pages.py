"""What the web dashboard and the customer transcript read, as plain rows.

Each read runs in its own unit of work and starts by deciding who is asking (from the
person id a signed cookie or link carries, looked up again on every request) and
whether the policy table lets them: staff for the dashboard (a CSM sees only the
accounts they look after), a customer of the case's own account for a transcript
(internal notes left out). Nothing here knows HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from bot import engineering, policy, sla
from bot.actors import STAFF, Actor, Role
from bot.eng_issues import linked_cases
from bot.errors import Refusal
from bot.identity import platform_of
from bot.lifecycle import ACTIVE, State
from bot.policy import Deed
from bot.reports import words
from bot.reports.figures import Report
from bot.reports.period import FILTER_NAMES, Filters, parse_filters
from bot.reports.read import report
from bot.terms import OPEN_ENG_STATUSES, SEVERITIES, ArticleStatus
from bot.units import Units
from bot.views import accounts_seen
from bot.work import Work
from storage.models import (
    AccountRow,
    Case,
    CaseEvent,
    EngIssue,
    EngLink,
    KbArticle,
    PersonRow,
    SpentLink,
)

LIST_LIMIT = 200
NOT_STAFF = "This page is for staff. Ask for a new link with `/case dashboard`."


@dataclass(frozen=True)
class CaseRow:
    key: str
    title: str
    state: str  # the state's words
    severity: str
    account: str
    engineer: str
    opened: datetime
    updated: datetime


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str
    kind: str
    moved: str  # "from → to" or ""
    text: str
    internal: bool


@dataclass(frozen=True)
class CaseDetail:
    key: str
    title: str
    state: str
    severity: str
    account: str
    engineer: str
    area: str
    opened: datetime
    description: str
    facts: tuple[tuple[str, str], ...]  # staff only: escalation, service level, ENG links
    timeline: tuple[Entry, ...]


@dataclass(frozen=True)
class EngRow:
    key: str
    kind: str
    status: str
    title: str
    score: int
    accounts: int
    cases: tuple[str, ...]


@dataclass(frozen=True)
class ArticleRow:
    key: str
    title: str
    status: str
    area: str
    source_case: str
    updated: datetime


CASE_STATES = ("active", "all", *(s.value for s in State))


class Pages:
    def __init__(self, units: Units) -> None:
        self.units = units

    @property
    def config(self) -> Any:
        return self.units.config

    # -- who is asking ------------------------------------------------------------------

    async def _actor(self, w: Work, person_id: str) -> Actor:
        person = w.config.person(person_id)
        if person is not None:
            return Actor(person.id, person.name, Role(person.role), person.account, "web")
        row = await w.session.get(PersonRow, person_id)
        if row is None or not row.account_key or w.config.account(row.account_key) is None:
            raise Refusal("This link is not for anyone casebot knows.")
        return Actor(row.id, row.name, Role.CUSTOMER, row.account_key, platform_of(row.id) or "web")

    async def _staff(self, w: Work, person_id: str) -> Actor:
        a = await self._actor(w, person_id)
        if a.role not in STAFF:
            raise Refusal(NOT_STAFF)
        w.require(a, Deed.DASHBOARD)
        return a

    async def who(self, person_id: str) -> Actor:
        """The staff member a session belongs to (refused if no longer staff)."""
        async with self.units.work() as w:
            return await self._staff(w, person_id)

    def filter_choices(self) -> dict[str, list[tuple[str, str]]]:
        c = self.config
        return {
            "team": [(t.key, t.name) for t in c.teams],
            "area": [(a.key, a.name) for a in c.product_areas],
            "severity": [(s, s) for s in SEVERITIES],
            "account": [(a.key, a.name) for a in c.accounts],
            "tier": [(t, t) for t in sorted({a.tier for a in c.accounts})],
            "engineer": [(p.id, p.name) for p in c.people if p.role in (Role.ENGINEER, Role.LEAD)],
        }

    def filters(self, values: Mapping[str, str]) -> Filters:
        known = {k: {v for v, _ in vs} for k, vs in self.filter_choices().items()}
        return parse_filters(values, known)

    # -- the pages ----------------------------------------------------------------------

    async def overview(self, person_id: str, period: str | None, filters: Filters) -> Report:
        async with self.units.work() as w:
            a = await self._staff(w, person_id)
            return await report(w, a, period, filters, Deed.DASHBOARD)

    async def cases(
        self, person_id: str, filters: Filters, state: str = "active", query: str = ""
    ) -> list[CaseRow]:
        if state not in CASE_STATES:
            raise Refusal(f"There is no state '{state[:40]}'.")
        async with self.units.work() as w:
            a = await self._staff(w, person_id)
            stmt = select(Case).order_by(Case.id.desc()).limit(LIST_LIMIT)
            seen = accounts_seen(w, a)
            if seen is not None:
                stmt = stmt.where(Case.account_key.in_(seen))
            if state == "active":
                stmt = stmt.where(Case.state.in_([s.value for s in ACTIVE]))
            elif state != "all":
                stmt = stmt.where(Case.state == state)
            stmt = _filtered(stmt, filters)
            q = query.strip().lower()[:200]
            if q:
                like = f"%{q}%"
                stmt = stmt.where(
                    or_(
                        func.lower(Case.key) == q,
                        func.lower(Case.title).like(like),
                        func.lower(Case.description).like(like),
                    )
                )
            rows = (await w.session.scalars(stmt)).all()
            return [await _row(w, c) for c in rows]

    async def case(self, person_id: str, key: str) -> CaseDetail:
        async with self.units.work() as w:
            a = await self._staff(w, person_id)
            return await _detail(w, a, key, staff=True)

    async def transcript(self, person_id: str, key: str) -> CaseDetail:
        """A customer's read-only transcript of their own account's case."""
        async with self.units.work() as w:
            a = await self._actor(w, person_id)
            return await _detail(w, a, key, staff=False)

    async def eng(self, person_id: str) -> list[EngRow]:
        async with self.units.work() as w:
            a = await self._staff(w, person_id)
            seen = accounts_seen(w, a)
            issues = (
                await w.session.scalars(
                    select(EngIssue).where(EngIssue.status.in_(OPEN_ENG_STATUSES))
                )
            ).all()
            out = []
            for issue in issues:
                score, accounts, _ = await engineering.priority(w, issue)
                linked = await linked_cases(w, issue)
                keys = tuple(c.key for c in linked if seen is None or c.account_key in seen)
                if seen is not None and not keys:
                    continue  # a CSM sees the issues of their accounts' cases
                out.append(
                    EngRow(issue.key, issue.kind, issue.status, issue.title, score, accounts, keys)
                )
            return sorted(out, key=lambda r: (-r.score, r.key))

    async def kb(self, person_id: str) -> list[ArticleRow]:
        async with self.units.work() as w:
            await self._staff(w, person_id)
            rows = (
                await w.session.scalars(
                    select(KbArticle)
                    .where(KbArticle.status != ArticleStatus.DISCARDED.value)
                    .order_by(KbArticle.status, KbArticle.id)
                )
            ).all()
            return [
                ArticleRow(
                    r.key, r.title, r.status, r.area or "", r.source_case or "", r.updated_at
                )
                for r in rows
            ]

    # -- single-use links ---------------------------------------------------------------

    async def spend(self, nonce: str, purpose: str) -> None:
        """Record a single-use link as used; refused if it was used before (here or at
        another worker: the row is the proof)."""
        try:
            async with self.units.work() as w:
                w.session.add(SpentLink(nonce=nonce[:64], purpose=purpose[:32], at=w.now))
        except IntegrityError:
            raise Refusal("This link has been used already: ask for a new one.") from None


def _filtered(stmt: Any, f: Filters) -> Any:
    for name in FILTER_NAMES:
        value = getattr(f, name)
        if not value:
            continue
        if name == "tier":
            stmt = stmt.where(
                Case.account_key.in_(select(AccountRow.key).where(AccountRow.tier == value))
            )
        else:
            column = {
                "team": Case.team,
                "area": Case.area,
                "severity": Case.severity,
                "account": Case.account_key,
                "engineer": Case.assignee_id,
            }[name]
            stmt = stmt.where(column == value)
    return stmt


async def _row(w: Work, c: Case) -> CaseRow:
    account = w.config.account(c.account_key)
    return CaseRow(
        c.key,
        c.title,
        words.state_label(c.state),
        c.severity,
        account.name if account else c.account_key,
        await w.person_name(c.assignee_id) if c.assignee_id else "",
        c.created_at,
        c.updated_at,
    )


async def _detail(w: Work, a: Actor, key: str, *, staff: bool) -> CaseDetail:
    case = await w.case(key, lock=False)
    # Visibility first: a case of another account does not exist for a customer.
    policy.require_visible(a, w.subject(case))
    w.require(a, Deed.DASHBOARD if staff else Deed.TRANSCRIPT, case)
    events = (
        await w.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    ).all()
    if not staff:
        events = [e for e in events if not e.internal]
    names = {p.id: p.name for p in w.config.people}
    timeline = tuple(
        Entry(
            e.at,
            names.get(e.actor_id or "", e.actor_id or "casebot"),
            e.kind,
            f"{words.state_label(e.from_state)} → {words.state_label(e.to_state)}"
            if e.from_state and e.to_state
            else "",
            e.text,
            e.internal,
        )
        for e in events
    )
    facts: list[tuple[str, str]] = []
    if staff:
        if case.escalation_level:
            facts.append(("Escalated", f"level {case.escalation_level}"))
        left = sla.time_left(w.config, case, w.now)
        if left:
            facts.append(("Service level", left))
        links = (
            await w.session.scalars(
                select(EngIssue.key)
                .join(EngLink, EngLink.eng_id == EngIssue.id)
                .where(EngLink.case_id == case.id)
            )
        ).all()
        if links:
            facts.append(("Engineering", ", ".join(links)))
    account = w.config.account(case.account_key)
    return CaseDetail(
        key=case.key,
        title=case.title,
        state=words.state_label(case.state)
        + (f" ({case.close_reason})" if case.close_reason else ""),
        severity=case.severity,
        account=account.name if account else case.account_key,
        engineer=await w.person_name(case.assignee_id) if case.assignee_id else "",
        area=case.area or "",
        opened=case.created_at,
        description=case.description,
        facts=tuple(facts),
        timeline=timeline,
    )
