"""A small seeded data set whose figures are worked out by hand in
tests/reports/test_figures.py (both databases). Times are UTC; the report period is
2026-11-20..2026-11-29 and "now" is 2026-11-30 12:00.

| case | opened       | sev | account | engineer | first response | resolved        | state now |
|------|--------------|-----|---------|----------|----------------|-----------------|-----------|
| 1    | 11-20 10:00  | S2  | acme    | alice    | +30m           | 11-21 10:00     | resolved  |
| 2    | 11-21 09:00  | S1  | acme    | alice    | +10m           | 11-21 13:00     | closed 11-22 09:00 |
| 3    | 11-22 08:00  | S3  | beta    | bob      | +2h            |                 | waiting_on_customer |
| 4    | 11-23 12:00  | S2  | beta    | alice    | +1h (breached) |                 | replicating |
| 5    | 11-25 09:00  | S4  | beta    |          |                | 11-25 09:30 (KB-1) | resolved, deflected |
| 6    | 11-26 09:00  | S3  | acme    |          |                |                 | triaged |
| 7    | 11-10 09:00  | S2  | acme    | bob      | +45m           | 11-24 09:00     | resolved |
| 8    | 11-29 23:00  | S1  | acme    | alice    | +20m           | (resolution breached) | solution_proposed |
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import rollup
from storage.db import Database
from storage.models import AccountRow, Case, CaseEvent, EngIssue, EngLink, SurveyAnswer

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PERIOD = "2026-11-20..2026-11-29"
TARGETS = {"first_response": ["S1", "S2"], "resolution": ["S1", "S2"]}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


CASES: list[dict[str, object]] = [
    dict(
        n=1,
        opened=at(20, 10),
        sev="S2",
        acc="acme",
        eng="alice",
        fr=30,
        res=at(21, 10),
        state="resolved",
    ),
    dict(
        n=2,
        opened=at(21, 9),
        sev="S1",
        acc="acme",
        eng="alice",
        fr=10,
        res=at(21, 13),
        state="closed",
        closed=at(22, 9),
    ),
    dict(
        n=3, opened=at(22, 8), sev="S3", acc="beta", eng="bob", fr=120, state="waiting_on_customer"
    ),
    dict(n=4, opened=at(23, 12), sev="S2", acc="beta", eng="alice", fr=60, state="replicating"),
    dict(
        n=5,
        opened=at(25, 9),
        sev="S4",
        acc="beta",
        res=at(25, 9, 30),
        state="resolved",
        reason="deflected",
        kb="KB-1",
    ),
    dict(n=6, opened=at(26, 9), sev="S3", acc="acme", state="triaged"),
    dict(
        n=7,
        opened=at(10, 9),
        sev="S2",
        acc="acme",
        eng="bob",
        fr=45,
        res=at(24, 9),
        state="resolved",
    ),
    dict(
        n=8, opened=at(29, 23), sev="S1", acc="acme", eng="alice", fr=20, state="solution_proposed"
    ),
]


async def seed(db: Database) -> None:
    async with db.transaction() as s:
        s.add_all(
            [
                AccountRow(key="acme", name="Acme", tier="gold"),
                AccountRow(key="beta", name="Beta", tier="silver"),
            ]
        )
        ids: dict[int, Case] = {}
        for c in CASES:
            opened = c["opened"]
            assert isinstance(opened, datetime)
            fr = c.get("fr")
            row = Case(
                key=f"CASE-{c['n']}",
                title=f"Case {c['n']}",
                impact="degraded",
                severity=c["sev"],
                team="platform" if c["acc"] == "acme" else "billing",
                area="api",
                account_key=c["acc"],
                opener_id="gus",
                assignee_id=c.get("eng"),
                state=c["state"],
                platform="console",
                created_at=opened,
                updated_at=opened,
                first_response_at=opened + timedelta(minutes=int(fr)) if fr else None,  # type: ignore[call-overload]
                resolved_at=c.get("res"),
                closed_at=c.get("closed"),
                close_reason=c.get("reason"),
                kb_article_key=c.get("kb"),
            )
            s.add(row)
            ids[int(c["n"])] = row  # type: ignore[call-overload]
        await s.flush()
        for n, text in ((4, "first_response: 1h target (S2)"), (8, "resolution: 1d target (S1)")):
            s.add(
                CaseEvent(case_id=ids[n].id, at=NOW, kind="sla_breached", text=text, internal=True)
            )
        for n, rating, comment, when in (
            (1, 5, "", at(21, 11)),
            (2, 2, "slow", at(22, 10)),
            (7, 1, "took two weeks", at(24, 12)),
        ):
            s.add(
                SurveyAnswer(
                    case_id=ids[n].id, person_id="gus", rating=rating, comment=comment, at=when
                )
            )
        issues = []
        for key, status, score in (
            ("ENG-1", "open", 50),
            ("ENG-2", "fixed", 90),
            ("ENG-3", "in_progress", 80),
        ):
            issue = EngIssue(
                key=key,
                kind="defect",
                title=key,
                status=status,
                created_by="alice",
                created_at=NOW,
                updated_at=NOW,
                priority_score=score,
            )
            s.add(issue)
            issues.append(issue)
        await s.flush()
        for issue, cases in zip(issues, ((3, 4), (1,), (8,)), strict=True):
            for n in cases:
                s.add(EngLink(eng_id=issue.id, case_id=ids[n].id, linked_at=NOW))
    # Rows put in directly, as an import would: the rollup is rebuilt from them.
    async with db.transaction() as s:
        await rollup.rebuild(s)
