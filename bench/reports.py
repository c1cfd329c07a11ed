"""What one whole report costs on 100,000 cases, on SQLite and PostgreSQL.

It builds a scratch database for each, inserts the cases in bulk (opened over the last
year, most resolved, a quarter with a survey answer, some deflected, engineers and
accounts of two tiers, some ENG links) and times ``storage.reports.Query.report`` — every
figure the dashboard's overview and ``/case stats`` show — for the last 7, 30 and 90
days and for 90 days filtered to one tier, read from the cases (``storage.reports.Query``,
the exact reference) and from the rollup (``storage.report_fast.FastQuery``, what the
surfaces use) in turns. Target: under 200 ms each.

    .venv/bin/python bench/reports.py [--cases 100000] [--runs 7] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.reports.period import Filters, parse_period  # noqa: E402
from storage import rollup  # noqa: E402
from storage.db import Database, normalize_url, upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    AccountRow,
    Case,
    CaseEvent,
    EngIssue,
    EngLink,
    SurveyAnswer,
)
from storage.report_fast import FastQuery  # noqa: E402
from storage.reports import Query  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TARGETS = {"first_response": ["S1", "S2"], "resolution": ["S1", "S2"]}
ENGINEERS = [f"eng{n}" for n in range(12)]
ACCOUNTS = [(f"acc{n}", "enterprise" if n % 4 == 0 else "standard") for n in range(200)]
STATES = ["replicating", "waiting_on_customer", "triaged", "solution_proposed", "assigned"]
RUNS = (
    ("7d", Filters()),
    ("30d", Filters()),
    ("90d", Filters()),
    ("90d", Filters(tier="enterprise")),
)


def rows(n: int) -> tuple[list[dict], list[dict], list[dict]]:
    rnd = random.Random(11)
    cases, answers, breaches = [], [], []
    for i in range(1, n + 1):
        opened = NOW - timedelta(seconds=rnd.uniform(0, 365 * 86400))
        done = rnd.random() < 0.9 and opened < NOW - timedelta(hours=6)
        fr = opened + timedelta(minutes=rnd.expovariate(1 / 90))
        resolved = opened + timedelta(hours=rnd.expovariate(1 / 30)) if done else None
        if resolved and resolved > NOW:
            resolved = None
        deflected = done and rnd.random() < 0.08
        cases.append(
            dict(
                id=i,
                key=f"CASE-{i}",
                title=f"Case {i}",
                description="",
                impact="degraded",
                severity=rnd.choice(["S1", "S2", "S2", "S3", "S3", "S4"]),
                team=rnd.choice(["platform", "billing"]),
                area=rnd.choice(["api", "install", "dashboards", "billing"]),
                account_key=rnd.choice(ACCOUNTS)[0],
                opener_id="customer",
                assignee_id=None if deflected else rnd.choice(ENGINEERS),
                state=("resolved" if resolved else rnd.choice(STATES)),
                close_reason="deflected" if deflected else None,
                kb_article_key=f"KB-{rnd.randint(1, 40)}" if deflected else None,
                kb_suggested=[],
                platform="console",
                created_at=opened,
                updated_at=opened,
                first_response_at=None if deflected or fr > NOW else fr,
                resolved_at=resolved,
                closed_at=resolved + timedelta(days=7)
                if resolved and resolved < NOW - timedelta(days=7)
                else None,
                escalation_level=0,
                chase_step=0,
                chase_generation=0,
                paused_seconds=0,
            )
        )
        if resolved and rnd.random() < 0.25:
            answers.append(
                dict(
                    case_id=i,
                    person_id="customer",
                    rating=rnd.choice([1, 2, 3, 4, 4, 5, 5, 5]),
                    comment="",
                    at=resolved + timedelta(hours=1),
                )
            )
        if rnd.random() < 0.05:
            breaches.append(
                dict(
                    case_id=i,
                    at=opened,
                    kind="sla_breached",
                    text="first_response: 1h target",
                    internal=True,
                    actor_id="system",
                    from_state=None,
                    to_state=None,
                )
            )
    return cases, answers, breaches


def fresh(pg: str | None, workdir: Path) -> tuple[str, object]:
    if pg is None:
        url = f"sqlite:///{workdir / 'reports.db'}"
        upgrade(url)
        return url, lambda: None
    base = normalize_url(pg)
    name = f"casebot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    upgrade(url)
    return url, drop


async def fill(db: Database, n: int) -> None:
    cases, answers, breaches = rows(n)
    async with db.transaction() as s:
        await s.execute(insert(AccountRow), [dict(key=k, name=k, tier=t) for k, t in ACCOUNTS])
        for i in range(0, len(cases), 5000):
            await s.execute(insert(Case), cases[i : i + 5000])
        for i in range(0, len(answers), 5000):
            await s.execute(insert(SurveyAnswer), answers[i : i + 5000])
        if breaches:
            await s.execute(insert(CaseEvent), breaches)
        await s.execute(
            insert(EngIssue),
            [
                dict(
                    id=e,
                    key=f"ENG-{e}",
                    kind="defect",
                    platform="console",
                    title=f"Issue {e}",
                    status="open",
                    created_by="eng0",
                    created_at=NOW,
                    updated_at=NOW,
                    priority_score=e * 3,
                )
                for e in range(1, 41)
            ],
        )
        links = [
            dict(eng_id=1 + i % 40, case_id=1 + i * 37 % n, linked_at=NOW) for i in range(2000)
        ]
        await s.execute(
            insert(EngLink), list({(r["eng_id"], r["case_id"]): r for r in links}.values())
        )
    t = time.perf_counter()
    async with db.transaction() as s:
        await rollup.rebuild(s)
    print(f"  rebuilt the rollup in {time.perf_counter() - t:.1f} s", flush=True)
    if not db.is_sqlite:
        async with db.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            # What autovacuum does in production: statistics and the visibility map (so
            # the planner may answer from an index alone).
            await auto.execute(text("VACUUM ANALYZE"))
    else:
        async with db.transaction() as s:
            await s.execute(text("ANALYZE"))


async def measure(url: str, n: int, runs: int) -> list[tuple[str, str, float, float, float]]:
    db = Database(url)
    out = []
    try:
        t = time.perf_counter()
        await fill(db, n)
        print(f"  filled {n} cases in {time.perf_counter() - t:.1f} s", flush=True)
        for period, filters in RUNS:
            # The exact query over the cases (the old figures) and the rollup, in turns.
            times: dict[str, list[float]] = {"exact": [], "rollup": []}
            cpu: dict[str, list[float]] = {"exact": [], "rollup": []}
            for _ in range(runs):
                for how, query in (("exact", Query), ("rollup", FastQuery)):
                    async with db.read() as s:
                        t, c = time.perf_counter(), time.process_time()
                        p = parse_period(period, NOW)
                        await query(s, p, filters, None, NOW, TARGETS).report()
                        times[how].append((time.perf_counter() - t) * 1000)
                        cpu[how].append((time.process_time() - c) * 1000)
            label = period + (f" tier={filters.tier}" if filters.tier else "")
            for how in ("exact", "rollup"):
                ts = times[how]
                out.append(
                    (how, label, statistics.median(ts), max(ts), statistics.median(cpu[how]))
                )
    finally:
        await db.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", choices=["sqlite", "postgres"])
    ap.add_argument("--postgres-url", default=DEFAULT_PG)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("sqlite", "postgres"):
            if args.only and args.only != name:
                continue
            print(f"{name}:", flush=True)
            try:
                url, drop = fresh(None if name == "sqlite" else args.postgres_url, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - no server: skip the row
                print(f"  skipped: {exc.__class__.__name__}")
                continue
            try:
                for how, label, med, worst, cpu in asyncio.run(measure(url, args.cases, args.runs)):
                    results.append((name, how, label, med, worst, cpu))
            finally:
                drop()  # type: ignore[operator]
    print(f"\n{args.cases} cases, {args.runs} runs each: one whole report")
    # CPU: this process's own (SQLite runs in it; PostgreSQL's work is in its server).
    print("| database | read from | period | median | max | CPU, this process (median) |")
    print("|---|---|---|---|---|---|")
    for name, how, label, med, worst, cpu in results:
        print(f"| {name} | {how} | {label} | {med:.0f} ms | {worst:.0f} ms | {cpu:.0f} ms |")


if __name__ == "__main__":
    main()
