"""The report figures against the seeded data set, worked out by hand (tests/reports/
seed.py has the table), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot.errors import Refusal
from bot.reports.figures import Report
from bot.reports.period import Filters, parse_filters, parse_period
from bot.reports.words import headline
from bot.sla import Clock
from storage import rollup
from storage.db import Database
from storage.report_fast import FastQuery
from storage.reports import Query
from tests.reports.seed import NOW, PERIOD, TARGETS, seed

MIN, HOUR = 60.0, 3600.0


@pytest.fixture(params=[Query, FastQuery], ids=["exact", "rollup"])
def query(request: pytest.FixtureRequest) -> type[Query]:
    """Every figure twice: read from the cases, and from the rollup."""
    return request.param  # type: ignore[no-any-return]


async def report(
    db: Database,
    query: type[Query],
    filters: Filters | None = None,
    accounts: list[str] | None = None,
) -> Report:
    async with db.transaction() as s:
        q = query(s, parse_period(PERIOD, NOW), filters or Filters(), accounts, NOW, TARGETS)
        return await q.report()


async def test_the_whole_report_matches_the_hand_computed_figures(
    db: Database, query: type[Query]
) -> None:
    await seed(db)
    r = await report(db, query)
    # Volume per day: 7 opened in the period (case 7 opened before it), 4 resolved, 1 closed.
    assert [d.day for d in r.days] == [date(2026, 11, d) for d in range(20, 30)]
    assert {d.day.day: d.opened for d in r.days if d.opened} == {
        20: 1,
        21: 1,
        22: 1,
        23: 1,
        25: 1,
        26: 1,
        29: 1,
    }
    assert {d.day.day: d.resolved for d in r.days if d.resolved} == {21: 2, 24: 1, 25: 1}
    assert {d.day.day: d.closed for d in r.days if d.closed} == {22: 1}
    assert (r.opened, r.resolved, r.closed) == (7, 4, 1)
    # First response over the cases opened in the period: 10, 20, 30, 60, 120 minutes.
    assert (r.first_response.count, r.first_response.median, r.first_response.p90) == (
        5,
        30 * MIN,
        120 * MIN,
    )
    # Resolution over the cases resolved in it: 0.5h, 4h, 24h, 336h (case 7: two weeks).
    assert (r.resolution.count, r.resolution.median, r.resolution.p90) == (4, 4 * HOUR, 336 * HOUR)
    # Service levels over S1/S2 cases opened in the period (1, 2, 4, 8).
    fr, res = r.targets
    assert (fr.name, fr.met, fr.breached, fr.attainment) == ("first_response", 3, 1, 0.75)
    assert (res.name, res.met, res.breached) == ("resolution", 2, 1)
    # The backlog now: 4 active, 2 owing us an answer (3 waiting, 8 proposed).
    b = r.backlog
    assert b.by_state == {
        "waiting_on_customer": 1,
        "replicating": 1,
        "triaged": 1,
        "solution_proposed": 1,
    }
    assert (b.on_customer, b.on_us) == (2, 2)
    # Case 4 is exactly 7 days old: it counts in "7-30 days".
    assert b.by_age == {
        "under 1 day": 1,
        "1-3 days": 0,
        "3-7 days": 1,
        "7-30 days": 2,
        "over 30 days": 0,
    }
    s = r.satisfaction
    assert s.distribution == {1: 1, 2: 1, 3: 0, 4: 0, 5: 1}
    assert s.answers == 3 and s.average == pytest.approx(8 / 3)
    assert (s.asked, s.answered, s.response_rate) == (4, 3, 0.75)
    assert [(x.case_key, x.rating, x.comment) for x in s.low] == [
        ("CASE-7", 1, "took two weeks"),
        ("CASE-2", 2, "slow"),
    ]
    d = r.deflection
    assert (d.opened, d.deflected, d.articles) == (7, 1, (("KB-1", 1),))
    # Open ENG issues by customer impact (ENG-2 is fixed), with their cases.
    assert [(e.key, e.score, e.cases) for e in r.eng] == [
        ("ENG-3", 80, ("CASE-8",)),
        ("ENG-1", 50, ("CASE-3", "CASE-4")),
    ]
    assert [(e.person_id, e.active, e.resolved) for e in r.engineers] == [
        ("alice", 2, 2),
        ("bob", 1, 1),
    ]


async def test_filters_narrow_every_figure(db: Database, query: type[Query]) -> None:
    await seed(db)
    silver = await report(db, query, Filters(tier="silver"))
    assert silver.opened == 3 and silver.deflection.deflected == 1
    assert silver.backlog.by_state == {"waiting_on_customer": 1, "replicating": 1}
    alice = await report(db, query, Filters(engineer="alice"))
    assert (alice.first_response.count, alice.first_response.median, alice.first_response.p90) == (
        4,
        20 * MIN,
        60 * MIN,
    )
    s1 = await report(db, query, Filters(severity="S1", account="acme"))
    assert s1.opened == 2 and [t.breached for t in s1.targets] == [0, 1]
    # What a CSM of beta alone may see.
    seen = await report(db, query, accounts=["beta"])
    assert seen.backlog.total == 2 and seen.satisfaction.answers == 0
    assert [e.key for e in seen.eng] == ["ENG-1"]


async def test_durations_count_business_time_where_the_target_is_in_business_days(
    db: Database, query: type[Query]
) -> None:
    """The lead's SLA gives S3 a first-response target and S2 a resolution target in
    business days, in New York: those durations leave out Saturdays and Sundays there
    (Saturday 00:00 in New York is 05:00 UTC), the others stay elapsed time."""
    await seed(db)
    ny = Clock(
        ZoneInfo("America/New_York"),
        {"first_response": frozenset({"S3"}), "resolution": frozenset({"S2"})},
    )
    async with db.transaction() as s:
        await rollup.rebuild(s, ny)  # what the bot keeps with that configuration

    async def measured(filters: Filters) -> Report:
        async with db.transaction() as s:
            period = parse_period(PERIOD, NOW)
            return await query(s, period, filters, None, NOW, TARGETS, ny).report()

    r = await measured(Filters())
    # Case 3 (S3) was answered on Sunday, 2 hours after it opened: 0 business time.
    # First responses: 0, 10, 20, 30 and 60 minutes.
    fr = r.first_response
    assert (fr.count, fr.median, fr.p90, fr.business) == (5, 20 * MIN, 60 * MIN, ("S3",))
    # Resolutions: case 5 (S4) 0.5h and case 2 (S1) 4h elapsed; case 1 (S2, Friday 10:00
    # to Saturday 10:00 UTC) 19 business hours; case 7 (S2, two weeks) 10 business days.
    res = r.resolution
    assert (res.count, res.median, res.p90, res.business) == (4, 4 * HOUR, 240 * HOUR, ("S2",))
    acme = (await measured(Filters(account="acme"))).resolution
    assert (acme.count, acme.median, acme.p90) == (3, 19 * HOUR, 240 * HOUR)
    # Said as such wherever the figure is shown.
    assert "(5 cases; business days (Mon–Fri) for S3)" in headline(r)


async def test_an_empty_period_has_nothing_to_measure(db: Database, query: type[Query]) -> None:
    await seed(db)
    async with db.transaction() as s:
        r = await query(
            s, parse_period("2026-10-01..2026-10-07", NOW), Filters(), None, NOW, TARGETS
        ).report()
    assert r.opened == 0 and r.first_response.median is None and r.satisfaction.average is None
    assert all(t.attainment is None for t in r.targets) and r.deflection.rate is None


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("", "last 30 days"),
        ("7d", "last 7 days"),
        ("90", "last 90 days"),
        ("2026-11-01..2026-11-30", "2026-11-01..2026-11-30"),
    ],
)
def test_periods_as_people_write_them(text: str, label: str) -> None:
    assert parse_period(text, NOW).label == label


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0d", "1 to 366 days"),
        ("2026-11-30..2026-11-01", "ends before it starts"),
        ("2026-02-30..2026-03-01", "does not exist"),
        ("last week", "I can't read the period"),
    ],
)
def test_a_bad_period_says_how_to_write_one(text: str, words: str) -> None:
    with pytest.raises(Refusal, match=words):
        parse_period(text, NOW)


def test_a_filter_must_name_something_configured() -> None:
    known = {"tier": {"gold", "silver"}}
    assert parse_filters({"tier": "gold", "team": ""}, known) == Filters(tier="gold")
    with pytest.raises(Refusal, match="There is no tier 'platinum'"):
        parse_filters({"tier": "platinum"}, known)
