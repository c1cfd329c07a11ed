"""The report queries: every figure of :class:`bot.reports.figures.Report` computed by the
database (counts, sums, ``cume_dist()`` windows for percentiles), never by loading cases
into Python. The same statements run on SQLite and PostgreSQL; only the two things the
dialects spell differently (seconds between two instants, the UTC day of an instant)
are chosen by dialect here.

Percentiles are the discrete kind (PostgreSQL's ``percentile_disc``): the smallest
value whose cumulative share reaches p, so the figure is always one case's real time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lifecycle import ACTIVE, WAITING_ON_CUSTOMER
from bot.reports.figures import (
    AGE_BUCKETS,
    Backlog,
    Day,
    Deflection,
    EngImpact,
    EngineerLoad,
    LowScore,
    Report,
    Satisfaction,
    Spread,
    Target,
)
from bot.reports.period import Filters, Period
from bot.sla import BREACHED, ELAPSED, FIRST_RESPONSE, RESOLUTION, Clock
from bot.terms import OPEN_ENG_STATUSES
from storage.models import AccountRow, Case, CaseEvent, EngIssue, EngLink, SurveyAnswer

LOW_SCORE = 2  # ratings at or under this are listed
LOW_LIMIT = 20
ENG_LIMIT = 15
ARTICLE_LIMIT = 10


def seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    """Whole seconds from ``earlier`` to ``later``, floored (julianday() is off by
    microseconds). On SQLite, the whole seconds of each (its stored text cut before the
    fraction: strftime() would round it to milliseconds, so xx:59.9996 into the next
    minute), less one when the later instant's microseconds are under the earlier's."""
    if dialect == "sqlite":
        borrow = case((func.substr(later, 21, 6) < func.substr(earlier, 21, 6), 1), else_=0)
        whole = cast(func.strftime("%s", func.substr(later, 1, 19)), Integer) - cast(
            func.strftime("%s", func.substr(earlier, 1, 19)), Integer
        )
        return whole - borrow
    return func.floor(func.extract("epoch", later - earlier))


def utc_day(dialect: str, col: Any) -> ColumnElement[str]:
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d", col)
    return func.to_char(func.timezone("UTC", col), "YYYY-MM-DD")


class Query:
    """The report for one period, filters and set of visible accounts (None: all)."""

    def __init__(
        self,
        session: AsyncSession,
        period: Period,
        filters: Filters,
        accounts: Sequence[str] | None,
        now: datetime,
        targets: Mapping[str, Sequence[str]],
        clock: Clock = ELAPSED,
    ) -> None:
        self.s = session
        self.period = period
        self.filters = filters
        self.accounts = accounts
        self.now = now
        self.targets = targets  # target name -> severities that have it
        self.clock = clock  # how durations are measured (business time where the SLA is)
        bind = session.get_bind()
        self.dialect = bind.dialect.name

    # -- which cases count ------------------------------------------------------------

    def scope(self) -> list[ColumnElement[bool]]:
        f = self.filters
        conds: list[ColumnElement[bool]] = []
        if self.accounts is not None:
            conds.append(Case.account_key.in_(list(self.accounts)))
        if f.team:
            conds.append(Case.team == f.team)
        if f.area:
            conds.append(Case.area == f.area)
        if f.severity:
            conds.append(Case.severity == f.severity)
        if f.account:
            conds.append(Case.account_key == f.account)
        if f.engineer:
            conds.append(Case.assignee_id == f.engineer)
        if f.tier:
            tiered = select(AccountRow.key).where(AccountRow.tier == f.tier)
            conds.append(Case.account_key.in_(tiered))
        return conds

    def active(self) -> ColumnElement[bool]:
        """The cases still open. Most cases are done, which SQLite's planner cannot
        know from its statistics: ``unlikely()`` tells it to use the state index."""
        cond = Case.state.in_([s.value for s in ACTIVE])
        return func.unlikely(cond, type_=Boolean) if self.dialect == "sqlite" else cond

    def within(self, col: Any) -> ColumnElement[bool]:
        return and_(col >= self.period.start, col < self.period.end)

    # -- the figures --------------------------------------------------------------------

    async def report(self) -> Report:
        return Report(
            period=self.period,
            filters=self.filters,
            days=await self.days(),
            first_response=await self.measured(FIRST_RESPONSE),
            resolution=await self.measured(RESOLUTION),
            targets=await self.service_levels(),
            backlog=await self.backlog(),
            satisfaction=await self.satisfaction(),
            deflection=await self.deflection(),
            eng=await self.eng(),
            engineers=await self.engineers(),
        )

    async def days(self) -> tuple[Day, ...]:
        counts: dict[str, dict[str, int]] = {}
        for name, col in (
            ("opened", Case.created_at),
            ("resolved", Case.resolved_at),
            ("closed", Case.closed_at),
        ):
            day = utc_day(self.dialect, col).label("day")
            stmt = select(day, func.count()).where(self.within(col), *self.scope()).group_by(day)
            for d, n in (await self.s.execute(stmt)).all():
                counts.setdefault(str(d), {})[name] = int(n)
        return tuple(Day(d, **counts.get(d.isoformat(), {})) for d in self.period.day_list())

    async def measured(self, target: str) -> Spread:
        """The spread of a target's durations, saying which severities count business
        time."""
        if target == FIRST_RESPONSE:
            spread = await self.spread(Case.first_response_at, Case.created_at)
        else:
            spread = await self.spread(Case.resolved_at, Case.resolved_at)
        return replace(spread, business=self.clock.in_business_time(target))

    async def spread(self, end: Any, measured_in: Any) -> Spread:
        """Median and p90 of ``end - created_at`` over the cases whose
        ``measured_in`` falls in the period (first response: cases opened in it;
        resolution: cases resolved in it)."""
        target = FIRST_RESPONSE if end.key == "first_response_at" else RESOLUTION
        if self.clock.in_business_time(target):
            return await self.spread_by_clock(target, end, measured_in)
        x = seconds_between(self.dialect, end, Case.created_at)
        inner = (
            select(x.label("x"), func.cume_dist().over(order_by=x).label("cd"))
            .where(end.is_not(None), self.within(measured_in), *self.scope())
            .subquery()
        )
        stmt = select(
            func.count(),
            func.min(case((inner.c.cd >= 0.5, inner.c.x))),
            func.min(case((inner.c.cd >= 0.9, inner.c.x))),
        )
        n, median, p90 = (await self.s.execute(stmt.select_from(inner))).one()
        if not n:
            return Spread()
        return Spread(int(n), float(median), float(p90))

    async def spread_by_clock(self, target: str, end: Any, measured_in: Any) -> Spread:
        """:meth:`spread` where some severities count business time: SQLite cannot
        convert time zones, so this reference reads the instants of the cases in scope
        and measures them by :attr:`clock` (the rollup stores what the same clock
        measured when the case changed, and the reports read that)."""
        stmt = select(Case.severity, Case.created_at, end).where(
            end.is_not(None), self.within(measured_in), *self.scope()
        )
        xs = sorted(
            x
            for sev, opened, at in (await self.s.execute(stmt)).all()
            if (x := self.clock.seconds(target, sev, opened, at)) is not None
        )
        n = len(xs)
        if not n:
            return Spread()
        return Spread(n, float(xs[(n + 1) // 2 - 1]), float(xs[-(-9 * n // 10) - 1]))

    async def service_levels(self) -> tuple[Target, ...]:
        """Per target, over the cases opened in the period whose severity has it: met
        (settled, never breached) and breached (the service-level clock said so, so
        business hours count where the target is in business days). One pass."""
        sums: list[Any] = []
        names = []
        for name, settled in (
            (FIRST_RESPONSE, Case.first_response_at),
            (RESOLUTION, Case.resolved_at),
        ):
            severities = list(self.targets.get(name, ()))
            if not severities:
                continue
            names.append(name)
            has = Case.severity.in_(severities)
            breach = exists().where(
                CaseEvent.case_id == Case.id,
                CaseEvent.kind == BREACHED,
                CaseEvent.text.like(f"{name}:%"),
            )
            sums.append(func.sum(case((and_(has, settled.is_not(None), ~breach), 1), else_=0)))
            sums.append(func.sum(case((and_(has, breach), 1), else_=0)))
        if not names:
            return ()
        stmt = select(*sums).where(self.within(Case.created_at), *self.scope())
        row = (await self.s.execute(stmt)).one()
        return tuple(
            Target(name, int(row[2 * i] or 0), int(row[2 * i + 1] or 0))
            for i, name in enumerate(names)
        )

    async def backlog(self) -> Backlog:
        """The active cases now (whatever the period): by state, by who owes the next
        move, by age since opening (one grouped pass)."""
        waiting = [s.value for s in WAITING_ON_CUSTOMER]
        now = literal(self.now, Case.created_at.type)
        age = seconds_between(self.dialect, now, Case.created_at)
        whens = [(age < upto * 86400, label) for label, upto in AGE_BUCKETS[:-1]]
        bucket = case(*whens, else_=AGE_BUCKETS[-1][0]).label("bucket")
        rows = (
            await self.s.execute(
                select(Case.state, bucket, func.count())
                .where(self.active(), *self.scope())
                .group_by(Case.state, bucket)
            )
        ).all()
        by_state: dict[str, int] = {}
        by_age = {label: 0 for label, _ in AGE_BUCKETS}
        for state, b, n in rows:
            by_state[str(state)] = by_state.get(str(state), 0) + int(n)
            by_age[str(b)] += int(n)
        on_customer = sum(n for s, n in by_state.items() if s in waiting)
        return Backlog(by_state, on_customer, sum(by_state.values()) - on_customer, by_age)

    async def satisfaction(self) -> Satisfaction:
        answered_in = and_(
            SurveyAnswer.case_id == Case.id, self.within(SurveyAnswer.at), *self.scope()
        )
        dist = dict(
            (int(r), int(n))
            for r, n in (
                await self.s.execute(
                    select(SurveyAnswer.rating, func.count())
                    .select_from(SurveyAnswer)
                    .join(Case, Case.id == SurveyAnswer.case_id)
                    .where(answered_in)
                    .group_by(SurveyAnswer.rating)
                )
            ).all()
        )
        total = sum(dist.values())
        avg = sum(r * n for r, n in dist.items()) / total if total else None
        has_answer = exists().where(SurveyAnswer.case_id == Case.id)
        asked, answered = (
            await self.s.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(case((has_answer, 1), else_=0)), 0),
                ).where(self.within(Case.resolved_at), *self.scope())
            )
        ).one()
        return Satisfaction(
            answers=total,
            average=avg,
            distribution={r: dist.get(r, 0) for r in range(1, 6)},
            asked=int(asked),
            answered=int(answered),
            low=await self.low_scores(),
        )

    async def low_scores(self) -> tuple[LowScore, ...]:
        answered_in = and_(
            SurveyAnswer.case_id == Case.id, self.within(SurveyAnswer.at), *self.scope()
        )
        low = (
            await self.s.execute(
                select(Case.key, SurveyAnswer.rating, SurveyAnswer.comment)
                .select_from(SurveyAnswer)
                .join(Case, Case.id == SurveyAnswer.case_id)
                .where(answered_in, SurveyAnswer.rating <= LOW_SCORE)
                .order_by(SurveyAnswer.rating, SurveyAnswer.at.desc())
                .limit(LOW_LIMIT)
            )
        ).all()
        return tuple(LowScore(k, int(r), c or "") for k, r, c in low)

    async def deflection(self) -> Deflection:
        deflected = Case.close_reason == "deflected"
        opened, n = (
            await self.s.execute(
                select(
                    func.count(), func.coalesce(func.sum(case((deflected, 1), else_=0)), 0)
                ).where(self.within(Case.created_at), *self.scope())
            )
        ).one()
        articles = (
            await self.s.execute(
                select(Case.kb_article_key, func.count().label("n"))
                .where(
                    deflected,
                    Case.kb_article_key.is_not(None),
                    self.within(Case.created_at),
                    *self.scope(),
                )
                .group_by(Case.kb_article_key)
                .order_by(func.count().desc(), Case.kb_article_key)
                .limit(ARTICLE_LIMIT)
            )
        ).all()
        return Deflection(int(opened), int(n), tuple((str(k), int(c)) for k, c in articles))

    async def eng(self) -> tuple[EngImpact, ...]:
        """Open ENG issues with linked cases in scope, by priority score (customer
        impact), with those cases."""
        rows = (
            await self.s.execute(
                select(
                    EngIssue.key, EngIssue.title, EngIssue.status, EngIssue.priority_score, Case.key
                )
                .join(EngLink, EngLink.eng_id == EngIssue.id)
                .join(Case, Case.id == EngLink.case_id)
                .where(EngIssue.status.in_(OPEN_ENG_STATUSES), *self.scope())
                .order_by(EngIssue.priority_score.desc(), EngIssue.id, Case.id)
            )
        ).all()
        issues: dict[str, tuple[str, str, int, list[str]]] = {}
        for key, title, status, score, case_key in rows:
            if key not in issues and len(issues) >= ENG_LIMIT:
                continue
            issues.setdefault(key, (title, status, int(score), []))[3].append(case_key)
        return tuple(EngImpact(k, t, s, sc, tuple(cs)) for k, (t, s, sc, cs) in issues.items())

    async def engineers(self) -> tuple[EngineerLoad, ...]:
        """Active cases per engineer now, and cases they resolved in the period."""
        load: dict[str, list[int]] = {}
        for i, cond in enumerate((self.active(), self.within(Case.resolved_at))):
            # Grouped by an expression, not the column, and no "IS NOT NULL": else SQLite
            # walks the whole assignee index instead of the few rows the condition picks.
            person = (Case.assignee_id + literal("")).label("person")
            stmt = select(person, func.count()).where(cond, *self.scope()).group_by(person)
            for who, n in (await self.s.execute(stmt)).all():
                if who is not None:
                    load.setdefault(str(who), [0, 0])[i] = int(n)
        loads = [EngineerLoad(p, a, r) for p, (a, r) in load.items()]
        return tuple(sorted(loads, key=lambda e: (-e.active, -e.resolved, e.person_id)))
