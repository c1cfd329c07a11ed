"""The rollup against the exact query: after each step of a dialog (opens, an assignment, a
first response, a resolution, a survey answer, a reopen, a severity change, a missed target), the report
read from the rollup is the report read from the cases, and the rollup the bot kept step
by step is the one ``casebot reports rebuild`` computes from the cases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from typer.testing import CliRunner

from bot.config import Config, load_config
from bot.config.sections import Sla
from bot.durations import parse_duration
from bot.reports.period import Filters, parse_period
from bot.sla import Clock, clock
from entrypoints.cli import app
from storage import rollup
from storage.db import Database
from storage.report_fast import FastQuery
from storage.reports import Query
from storage.rollup_tables import DAY_SUMS, ReportDay, ReportFact
from tests.harness import Dialog, load_test_config
from tests.reports.seed import seed

EXAMPLE = Path(__file__).parents[2] / "examples" / "casebot.yml"
BUSINESS = frozenset({"S3", "S4"})
NEW_YORK = Clock(ZoneInfo("America/New_York"), {"first_response": BUSINESS, "resolution": BUSINESS})

TARGETS = {"first_response": ["S1", "S2"], "resolution": ["S1", "S2"]}
LOOKS = [
    ("7d", Filters()),
    ("3d", Filters()),
    ("2026-11-01..2026-11-30", Filters()),
    ("7d", Filters(engineer="alice")),
    ("7d", Filters(account="globex")),
    ("7d", Filters(tier="enterprise", severity="S3")),
    ("7d", Filters(team="platform", engineer="alice")),  # two dimensions: facts only
]


def with_sla() -> Config:
    config = load_test_config()
    config.sla = Sla(
        first_response={"S1": parse_duration("4h"), "S2": parse_duration("4h")},  # type: ignore[dict-item]
        resolution={"S1": parse_duration("5d"), "S2": parse_duration("5d")},  # type: ignore[dict-item]
    )
    return config


async def kept(db: Database) -> tuple[list[Any], list[Any]]:
    """The rollup as it stands (day rows that sum to nothing left out)."""
    async with db.read() as s:
        facts = sorted(tuple(r) for r in (await s.execute(select(*ReportFact.__table__.c))))
        days = sorted(
            tuple(r)
            for r in (await s.execute(select(*ReportDay.__table__.c)))
            if any(getattr(r, c) for c in DAY_SUMS)
        )
    return facts, days


async def agree(d: Dialog) -> None:
    db = d.bot.db
    c = clock(d.config)  # the bot measured by it as it went
    async with db.read() as s:
        for period, filters in LOOKS:
            p = parse_period(period, d.now)
            exact = await Query(s, p, filters, None, d.now, TARGETS, c).report()
            rolled = await FastQuery(s, p, filters, None, d.now, TARGETS, c).report()
            assert rolled == exact, (period, filters)
        seen = ["initech"]  # what initech's CSM sees
        p = parse_period("7d", d.now)
        exact = await Query(s, p, Filters(), seen, d.now, TARGETS, c).report()
        assert await FastQuery(s, p, Filters(), seen, d.now, TARGETS, c).report() == exact
    step_by_step = await kept(db)
    async with db.transaction() as s:
        await rollup.rebuild(s, c)
    assert await kept(db) == step_by_step


async def test_the_rollup_follows_a_case_through_its_life(db: Database) -> None:
    d = await Dialog.start(db, with_sla())
    first = await d.working_case("gus")  # opened, assigned to alice, first response
    await agree(d)
    other = await d.open_case("ivy", "Invoices show the wrong VAT", area="billing")
    await d.advance("2h")
    assert (await d.say("lee", f"/case assign {other} bruno")).ok  # from chiara
    await agree(d)
    await d.advance("1d")
    assert (await d.say("alice", f"/case propose {first} Rotate the webhook secret")).ok
    assert (await d.say("gus", f"/case confirm {first}")).ok
    assert (await d.say("gus", f"/case survey {first} 2")).ok
    await agree(d)
    await d.advance("1d")
    assert (await d.say("gus", f"/case reopen {first} still failing")).ok
    assert (await d.say("lee", f"/case severity {other} S1")).ok
    await agree(d)
    async with db.read() as s:
        r = await FastQuery(s, parse_period("7d", d.now), Filters(), None, d.now, TARGETS).report()
    # Reopened: no longer resolved, its answer still counted; the other case now S1.
    assert (r.opened, r.resolved, r.satisfaction.distribution[2]) == (2, 0, 1)
    assert r.backlog.total == 2 and r.first_response.count == 1  # nobody answered ivy yet
    await d.advance("1d")  # the S1 case misses its first-response target
    await agree(d)
    async with db.read() as s:
        r = await FastQuery(s, parse_period("7d", d.now), Filters(), None, d.now, TARGETS).report()
    assert [(t.name, t.breached) for t in r.targets] == [("first_response", 1), ("resolution", 0)]


async def test_casebot_reports_rebuild_puts_a_stale_rollup_right(tmp_path: Path) -> None:
    """The rebuild reads the configuration: its SLA's business-day targets (S3 and S4 in
    the example file) say which durations count business time."""
    url = f"sqlite:///{tmp_path / 'casebot.db'}"
    db = Database(url)
    await db.migrate()
    await seed(db)
    elapsed = await kept(db)
    async with db.transaction() as s:
        await rollup.rebuild(s, clock(load_config(EXAMPLE)))
    right = await kept(db)
    # Case 3 (S3, first response on Sunday 11-22 at 10:00) waited 0 business seconds.
    assert [f[10] for f in elapsed[0] if f[0] == 3] == [7200]
    assert [f[10] for f in right[0] if f[0] == 3] == [0]
    async with db.transaction() as s:  # as after a restore of the cases alone
        await s.execute(delete(ReportDay))
        await s.execute(delete(ReportFact).where(ReportFact.case_id < 4))
    assert await kept(db) != right
    await db.dispose()
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["reports", "rebuild", "--config", str(EXAMPLE), "--database-url", url],
    )
    assert result.exit_code == 0, result.output
    assert "8 cases" in result.output
    db = Database(url)
    assert await kept(db) == right
    await db.dispose()


async def test_the_rollup_equals_the_exact_query_on_a_year_of_generated_cases(
    db: Database,
) -> None:
    """The benchmark's generator (durations from a minute to weeks, so the percentiles
    fall in many histogram buckets, and periods that start and end inside a day): every
    report read from the rollup is the one read from the cases — S3 and S4 measured in
    business time in New York, the others in elapsed time."""
    from sqlalchemy import insert

    from bench.reports import ACCOUNTS, NOW, rows
    from storage.models import AccountRow, Case, CaseEvent, SurveyAnswer

    cases, answers, breaches = rows(1500)
    async with db.transaction() as s:
        await s.execute(insert(AccountRow), [dict(key=k, name=k, tier=t) for k, t in ACCOUNTS])
        await s.execute(insert(Case), cases)
        await s.execute(insert(SurveyAnswer), answers)
        await s.execute(insert(CaseEvent), breaches)
        await rollup.rebuild(s, NEW_YORK)
    looks = [
        ("7d", Filters()),
        ("30d", Filters()),
        ("90d", Filters()),
        ("365d", Filters()),
        ("90d", Filters(tier="enterprise")),
        ("90d", Filters(severity="S2", team="billing")),
        ("90d", Filters(account="acc4")),
        ("90d", Filters(area="api", engineer="eng3")),
        ("2026-06-01..2026-06-30", Filters(tier="standard", severity="S1")),
    ]
    async with db.read() as s:
        for period, filters in looks:
            p = parse_period(period, NOW)
            exact = await Query(s, p, filters, None, NOW, TARGETS, NEW_YORK).report()
            rolled = await FastQuery(s, p, filters, None, NOW, TARGETS, NEW_YORK).report()
            assert rolled == exact, (period, filters)
            assert exact.resolution.business == ("S3", "S4")
            if period == "90d" and not (filters.area or filters.account):
                assert exact.first_response.count > 0 and exact.resolution.count > 0
