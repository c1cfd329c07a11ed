"""Keeping the report rollup (``storage.rollup_tables``) in step with the cases.

A case's *fact* is what the reports count of it; its *contributions* are the
``report_days`` sums it adds to (per UTC day it was opened, resolved, closed or rated,
for each dimension, under its severity). When a unit of work changes cases,
:func:`refresh` recomputes their facts and what the day sums change by (the
contributions of the new fact less those of the old), and :func:`add_sums` adds that, in
that transaction (``bot.reports.rollup`` calls both).
:func:`rebuild` (``casebot reports rebuild``, migration 0010) computes all of it from
the cases again.

Increments are applied as upserts in key order, so two transactions touching the same
day rows take their row locks in the same order.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.sla import BREACHED, ELAPSED, FIRST_RESPONSE, RESOLUTION, Clock
from storage.models import Case, CaseEvent, SurveyAnswer
from storage.rollup_tables import BUCKET_EDGES, BUCKETS, DAY_SUMS, ReportDay, ReportFact

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
DAY_US = 86_400 * 1_000_000
DIMS = ("all", "team", "area", "account", "engineer")
Key = tuple[str, str, int, str]  # dim, value, day, severity


def micros(at: datetime | None) -> int | None:
    if at is None:
        return None
    return ((at if at.tzinfo else at.replace(tzinfo=UTC)) - EPOCH) // US


def day_of(us: int) -> int:
    return us // DAY_US


def bucket_of(secs: int) -> int:
    """The histogram bucket of a duration (``storage.rollup_tables.BUCKET_EDGES``)."""
    return bisect_right(BUCKET_EDGES, secs)


def in_bucket(x: Any, i: int) -> Any:
    """SQL: the duration ``x`` (not null) falls in bucket ``i``, as :func:`bucket_of`."""
    conds = [x.is_not(None)]
    if i > 0:
        conds.append(x >= BUCKET_EDGES[i - 1])
    if i < BUCKETS - 1:
        conds.append(x < BUCKET_EDGES[i])
    return and_(*conds)


def bucket_expr(x: Any) -> Any:
    """SQL: the bucket of the duration ``x`` (not null), as :func:`bucket_of`."""
    return case(*((x < edge, i) for i, edge in enumerate(BUCKET_EDGES)), else_=BUCKETS - 1)


@dataclass(frozen=True)
class Fact:
    case_id: int
    team: str
    area: str
    severity: str
    account_key: str
    assignee_id: str
    state: str
    deflected: bool
    kb_article_key: str | None
    opened_us: int
    fr_secs: int | None
    fr_breached: bool
    resolved_us: int | None
    res_secs: int | None
    res_breached: bool
    closed_us: int | None
    answer_us: int | None
    rating: int | None

    def row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


FACT_COLUMNS = tuple(f.name for f in fields(Fact))

# What a fact is computed from: these case columns, its breach texts, its answer.
CASE_COLUMNS = tuple(
    getattr(Case, c)
    for c in "id team area severity account_key assignee_id state close_reason "
    "kb_article_key created_at first_response_at resolved_at closed_at".split()
)


def fact_of(
    case: Any,
    breaches: Iterable[str],
    answer: tuple[int, datetime] | None,
    clock: Clock = ELAPSED,
) -> Fact:
    """The fact of a case (a row or object with ``CASE_COLUMNS``' names); its durations
    measured by ``clock`` (business time where the target is in business days)."""
    texts = list(breaches)
    deflected = case.close_reason == "deflected"
    return Fact(
        case_id=int(case.id),
        team=case.team or "",
        area=case.area or "",
        severity=case.severity,
        account_key=case.account_key,
        assignee_id=case.assignee_id or "",
        state=case.state,
        deflected=deflected,
        kb_article_key=case.kb_article_key if deflected else None,
        opened_us=micros(case.created_at) or 0,
        fr_secs=clock.seconds(
            FIRST_RESPONSE, case.severity, case.created_at, case.first_response_at
        ),
        fr_breached=any(t.startswith(f"{FIRST_RESPONSE}:") for t in texts),
        resolved_us=micros(case.resolved_at),
        res_secs=clock.seconds(RESOLUTION, case.severity, case.created_at, case.resolved_at),
        res_breached=any(t.startswith(f"{RESOLUTION}:") for t in texts),
        closed_us=micros(case.closed_at),
        answer_us=micros(answer[1]) if answer else None,
        rating=answer[0] if answer else None,
    )


def contributions(f: Fact) -> Counter[tuple[Key, str]]:
    """The report_days sums this fact adds one to."""
    sums: list[tuple[int, str]] = []
    opened = day_of(f.opened_us)
    sums.append((opened, "opened"))
    if f.deflected:
        sums.append((opened, "deflected"))
    if f.fr_breached:
        sums.append((opened, "fr_breached"))
    elif f.fr_secs is not None:
        sums.append((opened, "fr_ok"))
    if f.fr_secs is not None:
        sums.append((opened, f"fr_b{bucket_of(f.fr_secs)}"))
    if f.res_breached:
        sums.append((opened, "res_breached"))
    elif f.resolved_us is not None:
        sums.append((opened, "res_ok"))
    if f.resolved_us is not None:
        sums.append((day_of(f.resolved_us), "resolved"))
        if f.res_secs is not None:
            sums.append((day_of(f.resolved_us), f"res_b{bucket_of(f.res_secs)}"))
        if f.rating is not None:
            sums.append((day_of(f.resolved_us), "answered"))
    if f.closed_us is not None:
        sums.append((day_of(f.closed_us), "closed"))
    if f.answer_us is not None and f.rating is not None:
        sums.append((day_of(f.answer_us), f"rated_{f.rating}"))
    values = dict(all="", team=f.team, area=f.area, account=f.account_key)
    values["engineer"] = f.assignee_id
    out: Counter[tuple[Key, str]] = Counter()
    for dim in DIMS:
        for day, col in sums:
            out[((dim, values[dim], day, f.severity), col)] += 1
    return out


def delta(old: Fact | None, new: Fact | None) -> dict[Key, dict[str, int]]:
    """Per day row, what changes when ``old`` becomes ``new`` (nonzero only)."""
    change: Counter[tuple[Key, str]] = Counter()
    if new is not None:
        change.update(contributions(new))
    if old is not None:
        change.subtract(contributions(old))
    rows: dict[Key, dict[str, int]] = {}
    for (key, col), n in change.items():
        if n:
            rows.setdefault(key, {})[col] = n
    return rows


_UPSERTS: dict[tuple[tuple[str, ...], int], Any] = {}


def _upsert_statement(sums: tuple[str, ...], n: int) -> Any:
    """The day rows' upsert of ``n`` rows that adds the sums ``sums`` to each row's (the
    others 0 in a new row, unchanged in an old one), as one statement, written once per
    shape. A unit of work changes a few sums of a few rows (an open: ``opened`` of its
    five dimensions), so it names those, where the 95-column upsert built per unit of
    work (not cacheable by SQLAlchemy: every execution compiled it again) cost more than
    the open's other statements together. The same text on SQLite and PostgreSQL."""
    key = (sums, n)
    stmt = _UPSERTS.get(key)
    if stmt is None:
        changed = set(sums)
        values = ", ".join(
            "("
            + ", ".join(
                [f":{c}_{i}" for c in ("dim", "value", "day", "severity")]
                + [f":{c}_{i}" if c in changed else "0" for c in DAY_SUMS]
            )
            + ")"
            for i in range(n)
        )
        stmt = sql_text(
            f"INSERT INTO report_days (dim, value, day, severity, {', '.join(DAY_SUMS)}) "
            f"VALUES {values} ON CONFLICT (dim, value, day, severity) DO UPDATE SET "
            + ", ".join(f"{c} = report_days.{c} + excluded.{c}" for c in sums)
        )
        if len(_UPSERTS) < 512:
            _UPSERTS[key] = stmt
    return stmt


def _upsert(rows: Mapping[Key, Mapping[str, int]]) -> tuple[Any, dict[str, Any]]:
    sums = tuple(c for c in DAY_SUMS if any(v.get(c) for v in rows.values()))
    params: dict[str, Any] = {}
    for i, (k, v) in enumerate(sorted(rows.items())):
        params.update({f"dim_{i}": k[0], f"value_{i}": k[1], f"day_{i}": k[2]})
        params[f"severity_{i}"] = k[3]
        params.update({f"{c}_{i}": v.get(c, 0) for c in sums})
    return _upsert_statement(sums, len(rows)), params


_BREACHES = select(CaseEvent.case_id, CaseEvent.text).where(CaseEvent.kind == BREACHED)
_ANSWERS = select(SurveyAnswer.case_id, SurveyAnswer.rating, SurveyAnswer.at)


def _facts(
    cases: Iterable[Any], breaches: Iterable[Any], answers: Iterable[Any], clock: Clock
) -> list[Fact]:
    texts: dict[int, list[str]] = {}
    for cid, text in breaches:
        texts.setdefault(cid, []).append(text)
    rated = {cid: (rating, at) for cid, rating, at in answers}
    return [fact_of(c, texts.get(c.id, ()), rated.get(c.id), clock) for c in cases]


async def _facts_now(s: AsyncSession, ids: list[int], clock: Clock) -> dict[int, Fact]:
    cases = await s.execute(select(*CASE_COLUMNS).where(Case.id.in_(ids)))
    breaches = await s.execute(_BREACHES.where(CaseEvent.case_id.in_(ids)))
    answers = await s.execute(_ANSWERS.where(SurveyAnswer.case_id.in_(ids)))
    return {f.case_id: f for f in _facts(cases, breaches, answers, clock)}


async def refresh(
    s: AsyncSession,
    case_ids: Iterable[int],
    clock: Clock = ELAPSED,
    born: Mapping[int, Fact] | None = None,
) -> tuple[int, dict[Key, dict[str, int]]]:
    """Bring the facts of these cases up to date; how many changed, and what their day
    sums must change by (for :func:`add_sums`, which the caller runs as late in the
    transaction as it can: every unit of the day shares those rows' locks). ``born``:
    the facts of cases this transaction created, known without reading them back."""
    born = born or {}
    ids = sorted(set(case_ids) | set(born))
    if not ids:
        return 0, {}
    await s.flush()
    now: dict[int, Fact] = {}
    old: dict[int, Fact] = {}
    if read := [i for i in ids if i not in born]:
        now = await _facts_now(s, read, clock)
        facts = select(*(getattr(ReportFact, c) for c in FACT_COLUMNS))
        old = {
            r.case_id: Fact(*r) for r in await s.execute(facts.where(ReportFact.case_id.in_(read)))
        }
    now.update(born)
    rows: dict[Key, dict[str, int]] = {}
    changed = 0
    for cid in ids:
        before, after = old.get(cid), now.get(cid)
        if before == after:
            continue
        changed += 1
        for key, cols in delta(before, after).items():
            acc = rows.setdefault(key, {})
            for c, n in cols.items():
                acc[c] = acc.get(c, 0) + n
        if before is not None:
            await s.execute(delete(ReportFact).where(ReportFact.case_id == cid))
        if after is not None:
            await s.execute(insert(ReportFact).values(after.row()))
    return changed, {k: v for k, v in rows.items() if any(v.values())}


async def add_sums(s: AsyncSession, rows: Mapping[Key, Mapping[str, int]]) -> None:
    """Add ``rows`` to the day sums (one upsert, rows in key order)."""
    if rows:
        stmt, params = _upsert(rows)
        await s.execute(stmt, params)


# -- rebuilding from the cases ----------------------------------------------------------


def _one(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


def day_sums_from_facts(sums: tuple[str, ...] = DAY_SUMS) -> list[Any]:
    """INSERT … SELECT statements that fill ``report_days`` from ``report_facts``, one
    per dimension: the same sums as :func:`contributions`, grouped in the database
    (tests check that the two agree). ``sums``: the columns to fill (a migration fills
    those its revision has)."""
    f = ReportFact
    values: dict[str, Any] = dict(all=literal(""), team=f.team, area=f.area)
    values.update(account=f.account_key, engineer=f.assignee_id)
    zero = literal(0)
    statements = []
    for dim in DIMS:
        v = values[dim].label("value")

        def part(at: Any, part_sums: dict[str, Any], where: Any = None, v: Any = v) -> Any:
            day = (at // DAY_US).label("day")
            cols = [part_sums.get(c, zero).label(c) for c in sums]
            stmt = select(v, day, f.severity.label("severity"), *cols)
            return stmt.where(at.is_not(None) if where is None else where).group_by(
                v, day, f.severity
            )

        parts = union_all(
            part(
                f.opened_us,
                dict(
                    opened=func.count(),
                    deflected=_one(f.deflected),
                    fr_ok=_one(and_(f.fr_secs.is_not(None), ~f.fr_breached)),
                    fr_breached=_one(f.fr_breached),
                    res_ok=_one(and_(f.resolved_us.is_not(None), ~f.res_breached)),
                    res_breached=_one(f.res_breached),
                    **{f"fr_b{i}": _one(in_bucket(f.fr_secs, i)) for i in range(BUCKETS)},
                ),
            ),
            part(
                f.resolved_us,
                dict(
                    resolved=func.count(),
                    answered=_one(f.rating.is_not(None)),
                    **{f"res_b{i}": _one(in_bucket(f.res_secs, i)) for i in range(BUCKETS)},
                ),
            ),
            part(f.closed_us, dict(closed=func.count())),
            part(
                f.answer_us,
                {f"rated_{r}": _one(f.rating == r) for r in range(1, 6)},
                and_(f.answer_us.is_not(None), f.rating.is_not(None)),
            ),
        ).subquery()
        keys = (parts.c.value, parts.c.day, parts.c.severity)
        grouped = select(
            literal(dim).label("dim"), *keys, *(func.sum(parts.c[c]) for c in sums)
        ).group_by(*keys)
        statements.append(
            insert(ReportDay).from_select(
                ["dim", "value", "day", "severity", *sums], grouped, include_defaults=False
            )
        )
    return statements


_COUNT = select(func.count()).select_from(ReportDay)
CHUNK = 5000
# Core, not ORM, inserts: one executemany per chunk however the rows' None fall.
FACTS_INSERT = insert(Table(ReportFact.__tablename__, ReportFact.metadata))


async def rebuild(s: AsyncSession, clock: Clock = ELAPSED) -> tuple[int, int]:
    """Recompute every fact and day sum from the cases, measured by ``clock``:
    (cases, day rows)."""
    await s.execute(delete(ReportFact))
    await s.execute(delete(ReportDay))
    cases = (await s.execute(select(*CASE_COLUMNS))).all()
    breaches, answers = (await s.execute(_BREACHES)).all(), (await s.execute(_ANSWERS)).all()
    facts = [f.row() for f in _facts(cases, breaches, answers, clock)]
    for i in range(0, len(facts), CHUNK):
        await s.execute(FACTS_INSERT, facts[i : i + CHUNK])
    for stmt in day_sums_from_facts():
        await s.execute(stmt)
    return len(facts), int((await s.execute(_COUNT)).scalar_one())


def rebuild_sync(conn: Connection, sums: tuple[str, ...] = DAY_SUMS) -> tuple[int, int]:
    """:func:`rebuild` on a synchronous connection (the migration's), filling the day
    sums ``sums`` (those the migration's revision has). A migration has no
    configuration, so durations are elapsed time until the bot or ``casebot reports
    rebuild`` recounts them by the configured clock."""
    conn.execute(delete(ReportFact))
    conn.execute(delete(ReportDay))
    cases = conn.execute(select(*CASE_COLUMNS)).all()
    breaches, answers = conn.execute(_BREACHES).all(), conn.execute(_ANSWERS).all()
    facts = [f.row() for f in _facts(cases, breaches, answers, ELAPSED)]
    for i in range(0, len(facts), CHUNK):
        conn.execute(FACTS_INSERT, facts[i : i + CHUNK])
    for stmt in day_sums_from_facts(sums):
        conn.execute(stmt)
    return len(facts), int(conn.execute(_COUNT).scalar_one())


__all__ = ["Fact", "fact_of", "contributions", "delta", "refresh", "rebuild"]
