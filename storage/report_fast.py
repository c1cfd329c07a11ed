"""The report from the rollup (``storage.rollup_tables``): the same figures as
:class:`storage.reports.Query`, which stays the exact reference read from the cases
(tests compare the two).

Counts over whole UTC days come from ``report_days`` (a few rows per day); the partial
days at either end of a period, and any filter the day rows are not kept by (two of
team, area, engineer and account/tier at once), are counted from ``report_facts``.
Percentiles count the day rows' histogram buckets and sort only the facts of the bucket
holding each; the backlog, the engineers' load and which low scores to list are read
from ``report_facts`` (narrow rows, integer times, durations already in seconds, the
account in every index), so no figure reads the wide case rows except the keys and
comments of the listed low scores and the ENG issues.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select

from bot.lifecycle import ACTIVE, WAITING_ON_CUSTOMER
from bot.reports.figures import (
    AGE_BUCKETS,
    Backlog,
    Day,
    Deflection,
    EngineerLoad,
    LowScore,
    Report,
    Satisfaction,
    Spread,
    Target,
)
from bot.sla import FIRST_RESPONSE, RESOLUTION
from storage.models import AccountRow, Case, SurveyAnswer
from storage.reports import ARTICLE_LIMIT, LOW_LIMIT, LOW_SCORE, Query
from storage.rollup import DAY_US, bucket_expr, in_bucket, micros
from storage.rollup_tables import BUCKETS
from storage.rollup_tables import ReportDay as D
from storage.rollup_tables import ReportFact as F

EPOCH_DAY = date(1970, 1, 1)
Ranges = list[tuple[int, int]]


def _n(x: Any) -> int:
    return int(x or 0)


class FastQuery(Query):
    # -- which rows count -------------------------------------------------------------

    def fact_scope(self) -> list[ColumnElement[bool]]:
        f = self.filters
        conds: list[ColumnElement[bool]] = []
        if self.accounts is not None:
            conds.append(F.account_key.in_(list(self.accounts)))
        for value, col in (
            (f.team, F.team),
            (f.area, F.area),
            (f.severity, F.severity),
            (f.account, F.account_key),
            (f.engineer, F.assignee_id),
        ):
            if value:
                conds.append(col == value)
        if f.tier:
            conds.append(F.account_key.in_(self.tiered()))
        return conds

    def tiered(self) -> Any:
        """The accounts of the tier filter: their keys once :meth:`report` has read
        them (PostgreSQL's planner reads a literal list through the indexes, where a
        subquery made it scan every account's day rows), else the subquery."""
        keys: list[str] | None = getattr(self, "tier_keys", None)
        if keys is not None:
            return keys
        return select(AccountRow.key).where(AccountRow.tier == self.filters.tier)

    async def report(self) -> Report:
        if self.filters.tier:
            keys = select(AccountRow.key).where(AccountRow.tier == self.filters.tier)
            self.tier_keys = list((await self.s.scalars(keys.order_by(AccountRow.key))).all())
        return await super().report()

    def day_scope(self) -> list[ColumnElement[bool]] | None:
        """Conditions on the day rows that count exactly this scope, or None when no
        one dimension holds it."""
        f = self.filters
        wanted: dict[str, list[ColumnElement[bool]]] = {}
        for dim, value in (("team", f.team), ("area", f.area), ("engineer", f.engineer)):
            if value:
                wanted[dim] = [D.value == value]
        accounts: list[ColumnElement[bool]] = []
        if self.accounts is not None:
            accounts.append(D.value.in_(list(self.accounts)))
        if f.account:
            accounts.append(D.value == f.account)
        if f.tier:
            accounts.append(D.value.in_(self.tiered()))
        if accounts:
            wanted["account"] = accounts
        if len(wanted) > 1:
            return None
        dim, conds = next(iter(wanted.items()), ("all", [D.value == ""]))
        severity = [D.severity == f.severity] if f.severity else []
        return [D.dim == dim, *conds, *severity]

    def split(self) -> tuple[range, Ranges, list[ColumnElement[bool]] | None]:
        """The period as whole days for the day rows and the instants left for the
        facts (both ends, or all of it when the day rows cannot answer)."""
        start, end = micros(self.period.start) or 0, micros(self.period.end) or 0
        scope = self.day_scope()
        first, last = -(-start // DAY_US), end // DAY_US
        if scope is None or first >= last:
            return range(0), [(start, end)], None
        return range(first, last), [(start, first * DAY_US), (last * DAY_US, end)], scope

    def in_ranges(self, col: Any, ranges: Ranges) -> ColumnElement[bool]:
        parts = [and_(col >= a, col < b) for a, b in ranges if a < b]
        return or_(*parts) if parts else false()

    async def day_sums(self, *cols: Any, by_day: bool = False) -> list[Any]:
        days, _, scope = self.split()
        if scope is None or not days:
            return []
        stmt = select(*([D.day] if by_day else []), *cols).where(
            *scope, D.day >= days.start, D.day < days.stop
        )
        if by_day:
            stmt = stmt.group_by(D.day)
        return list((await self.s.execute(stmt)).all())

    async def fact_sums(self, col: Any, *sums: Any) -> tuple[Any, ...]:
        _, edges, _ = self.split()
        stmt = select(*sums).where(self.in_ranges(col, edges), *self.fact_scope())
        return tuple((await self.s.execute(stmt)).one())

    # -- the figures --------------------------------------------------------------------

    async def days(self) -> tuple[Day, ...]:
        counts: dict[int, list[int]] = {}
        for day, *ns in await self.day_sums(
            func.sum(D.opened), func.sum(D.resolved), func.sum(D.closed), by_day=True
        ):
            counts[int(day)] = [_n(n) for n in ns]
        _, edges, _ = self.split()
        for i, col in enumerate((F.opened_us, F.resolved_us, F.closed_us)):
            day = (col // DAY_US).label("day")
            stmt = (
                select(day, func.count())
                .where(self.in_ranges(col, edges), *self.fact_scope())
                .group_by(day)
            )
            for number, n in (await self.s.execute(stmt)).all():
                counts.setdefault(_n(number), [0, 0, 0])[i] += int(n)
        out = []
        for d in self.period.day_list():
            o, r, c = counts.get((d - EPOCH_DAY).days, [0, 0, 0])
            out.append(Day(d, o, r, c))
        return tuple(out)

    async def service_levels(self) -> tuple[Target, ...]:
        names = [n for n in (FIRST_RESPONSE, RESOLUTION) if self.targets.get(n)]
        if not names:
            return ()
        cols = {FIRST_RESPONSE: (D.fr_ok, D.fr_breached), RESOLUTION: (D.res_ok, D.res_breached)}
        facts = {
            FIRST_RESPONSE: (F.fr_secs.is_not(None), F.fr_breached),
            RESOLUTION: (F.resolved_us.is_not(None), F.res_breached),
        }
        day_cols, fact_cols = [], []
        for name in names:
            sevs = list(self.targets[name])
            for col in cols[name]:
                day_cols.append(func.sum(case((D.severity.in_(sevs), col), else_=0)))
            settled, breached = facts[name]
            has = F.severity.in_(sevs)
            fact_cols.append(func.sum(case((and_(has, settled, ~breached), 1), else_=0)))
            fact_cols.append(func.sum(case((and_(has, breached), 1), else_=0)))
        rows = await self.day_sums(*day_cols)
        from_days = rows[0] if rows else [0] * len(day_cols)
        from_facts = await self.fact_sums(F.opened_us, *fact_cols)
        total = [_n(a) + _n(b) for a, b in zip(from_days, from_facts, strict=True)]
        return tuple(Target(n, total[2 * i], total[2 * i + 1]) for i, n in enumerate(names))

    async def satisfaction(self) -> Satisfaction:
        rated = [func.sum(getattr(D, f"rated_{r}")) for r in range(1, 6)]
        rows = await self.day_sums(*rated, func.sum(D.resolved), func.sum(D.answered))
        day = [_n(x) for x in rows[0]] if rows else [0] * 7
        dist = {r: day[r - 1] for r in range(1, 6)}
        _, edges, _ = self.split()
        for r, n in await self.s.execute(
            select(F.rating, func.count())
            .where(self.in_ranges(F.answer_us, edges), *self.fact_scope())
            .group_by(F.rating)
        ):
            if r is not None:
                dist[int(r)] += int(n)
        asked, answered = await self.fact_sums(
            F.resolved_us, func.count(), func.sum(case((F.rating.is_not(None), 1), else_=0))
        )
        total = sum(dist.values())
        return Satisfaction(
            answers=total,
            average=sum(r * n for r, n in dist.items()) / total if total else None,
            distribution=dist,
            asked=day[5] + _n(asked),
            answered=day[6] + _n(answered),
            low=await self.low_scores(),
        )

    async def deflection(self) -> Deflection:
        rows = await self.day_sums(func.sum(D.opened), func.sum(D.deflected))
        opened, n = rows[0] if rows else (0, 0)
        more, more_n = await self.fact_sums(
            F.opened_us, func.count(), func.sum(case((F.deflected, 1), else_=0))
        )
        articles = (
            await self.s.execute(
                select(F.kb_article_key, func.count())
                .where(
                    F.deflected,
                    F.kb_article_key.is_not(None),
                    self.in_ranges(F.opened_us, [self.whole()]),
                    *self.fact_scope(),
                )
                .group_by(F.kb_article_key)
                .order_by(func.count().desc(), F.kb_article_key)
                .limit(ARTICLE_LIMIT)
            )
        ).all()
        return Deflection(
            _n(opened) + _n(more),
            _n(n) + _n(more_n),
            tuple((str(k), int(c)) for k, c in articles),
        )

    def whole(self) -> tuple[int, int]:
        return micros(self.period.start) or 0, micros(self.period.end) or 0

    async def spread(self, end: Any, measured_in: Any) -> Spread:
        """As :meth:`Query.spread` (first response when ``end`` is the first response,
        else resolution): the k-th smallest duration, k = ceil(p * n). The histogram
        buckets count how many fall in each bucket (day rows, and the facts of the
        partial days); only the facts inside the bucket holding the k-th are sorted."""
        is_first = end.key == "first_response_at"
        x, at, name = (
            (F.fr_secs, F.opened_us, "fr") if is_first else (F.res_secs, F.resolved_us, "res")
        )
        table = D.__table__.c
        counts = [0] * BUCKETS
        rows = await self.day_sums(*(func.sum(table[f"{name}_b{i}"]) for i in range(BUCKETS)))
        for i, n in enumerate(rows[0] if rows else ()):
            counts[i] += _n(n)
        _, edges, _ = self.split()
        bucket = bucket_expr(x).label("bucket")
        stmt = (
            select(bucket, func.count())
            .where(x.is_not(None), self.in_ranges(at, edges), *self.fact_scope())
            .group_by(bucket)
        )
        for i, n in (await self.s.execute(stmt)).all():
            counts[int(i)] += int(n)
        n = sum(counts)
        if not n:
            return Spread()
        median, p90 = (n + 1) // 2, -(-9 * n // 10)
        return Spread(n, await self.kth(x, at, counts, median), await self.kth(x, at, counts, p90))

    async def kth(self, x: Any, at: Any, counts: list[int], k: int) -> float:
        """The k-th smallest (from 1) of ``x`` over the facts whose ``at`` is in the
        period, given how many fall in each bucket."""
        i, below = 0, 0
        while below + counts[i] < k:
            below += counts[i]
            i += 1
        stmt = (
            select(x)
            .where(in_bucket(x, i), self.in_ranges(at, [self.whole()]), *self.fact_scope())
            .order_by(x)
            .limit(1)
            .offset(k - below - 1)
        )
        return float((await self.s.execute(stmt)).scalar_one())

    async def low_scores(self) -> tuple[LowScore, ...]:
        """As :meth:`Query.low_scores`: the lowest ratings answered in the period
        (picked from the facts' index), with their case keys and comments."""
        low = (
            select(F.case_id, F.rating, F.answer_us)
            .where(
                self.in_ranges(F.answer_us, [self.whole()]),
                F.rating <= LOW_SCORE,
                *self.fact_scope(),
            )
            .order_by(F.rating, F.answer_us.desc())
            .limit(LOW_LIMIT)
            .subquery()
        )
        rows = (
            await self.s.execute(
                select(Case.key, low.c.rating, SurveyAnswer.comment)
                .select_from(low)
                .join(Case, Case.id == low.c.case_id)
                .join(SurveyAnswer, SurveyAnswer.case_id == low.c.case_id)
                .order_by(low.c.rating, low.c.answer_us.desc())
            )
        ).all()
        return tuple(LowScore(k, int(r), c or "") for k, r, c in rows)

    def active_facts(self) -> ColumnElement[bool]:
        return F.state.in_([s.value for s in ACTIVE])

    async def backlog(self) -> Backlog:
        waiting = {s.value for s in WAITING_ON_CUSTOMER}
        age = (micros(self.now) or 0) - F.opened_us
        whens = [(age < upto * DAY_US, label) for label, upto in AGE_BUCKETS[:-1]]
        bucket = case(*whens, else_=AGE_BUCKETS[-1][0]).label("bucket")
        rows = (
            await self.s.execute(
                select(F.state, bucket, func.count())
                .where(self.active_facts(), *self.fact_scope())
                .group_by(F.state, bucket)
            )
        ).all()
        by_state: dict[str, int] = {}
        by_age = {label: 0 for label, _ in AGE_BUCKETS}
        for state, b, n in rows:
            by_state[str(state)] = by_state.get(str(state), 0) + int(n)
            by_age[str(b)] += int(n)
        on_customer = sum(n for s, n in by_state.items() if s in waiting)
        return Backlog(by_state, on_customer, sum(by_state.values()) - on_customer, by_age)

    async def engineers(self) -> tuple[EngineerLoad, ...]:
        load: dict[str, list[int]] = {}
        resolved = self.in_ranges(F.resolved_us, [self.whole()])
        for i, cond in enumerate((self.active_facts(), resolved)):
            stmt = (
                select(F.assignee_id, func.count())
                .where(cond, F.assignee_id != "", *self.fact_scope())
                .group_by(F.assignee_id)
            )
            for who, n in (await self.s.execute(stmt)).all():
                load.setdefault(str(who), [0, 0])[i] = int(n)
        loads = [EngineerLoad(p, a, r) for p, (a, r) in load.items()]
        return tuple(sorted(loads, key=lambda e: (-e.active, -e.resolved, e.person_id)))


__all__ = ["FastQuery"]
