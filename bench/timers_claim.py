"""What claiming due timers costs with 10 thousand and with a million timers pending.

For each size it builds a fresh database (PostgreSQL by default; ``--sqlite`` for the
embedded one), inserts the timers in bulk and times ``bot.delivery.timers.claim`` taking batches
of 50, in two situations:

* ``future``: 5,000 timers are due, all the others later (the normal day);
* ``backlog``: every timer is overdue (workers were down for a while).

It prints the median and 95th percentile per claim and the ratio of the largest size to
the smallest (near 1 means the cost does not grow with what is pending).

    .venv/bin/python bench/timers_claim.py [--sizes 10000,1000000] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.delivery import timers  # noqa: E402
from storage.db import Database, normalize_url, upgrade  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DUE = 5000
BATCH = 50


def fresh_database(pg: str | None, workdir: Path) -> tuple[str, object]:
    if pg is None:
        url = f"sqlite:///{workdir / f'timers-{uuid.uuid4().hex[:6]}.db'}"
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


async def fill(db: Database, size: int, due: int, now: datetime) -> None:
    """``due`` timers due before ``now`` and ``size - due`` spread over the next 30 days."""
    if db.is_sqlite:
        series = (
            f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {size}) "
        )
        due_at = (
            f"CASE WHEN n <= {due} THEN datetime(:now, '-' || n || ' seconds') "
            f"ELSE datetime(:now, '+' || (n * 2592000 / {size}) || ' seconds') END"
        )
        sql = (
            series + "INSERT INTO timers (kind, due_at, payload, state, created_at, "
            f"attempts) SELECT 'bench', {due_at}, '{{}}', 'pending', :now, 0 FROM g"
        )
        params: dict[str, object] = {"now": now.replace(tzinfo=None).isoformat(sep=" ")}
    else:
        sql = (
            "INSERT INTO timers (kind, due_at, payload, state, created_at, attempts) "
            "SELECT 'bench', CASE WHEN n <= :due THEN :now - n * interval '1 second' "
            "ELSE :now + (n::float * 2592000 / :size) * interval '1 second' END, "
            "'{}', 'pending', :now, 0 FROM generate_series(1, :size) AS n"
        )
        params = {"now": now, "due": due, "size": size}
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM timers"))
        await s.execute(text(sql), params)
    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE timers" if not db.is_sqlite else "ANALYZE"))
        await conn.commit()


async def time_claims(db: Database, now: datetime, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        got = await timers.claim(db, now, "bench", limit=BATCH)
        out.append((time.perf_counter() - t0) * 1000)
        assert len(got) == BATCH, "ran out of due timers"
    return out


async def bench(url: str, size: int, situation: str) -> list[float]:
    db = Database(url)
    try:
        now = datetime.now(UTC)
        await fill(db, size, size if situation == "backlog" else DUE, now)
        await time_claims(db, now, 5)  # warm the caches and the connection pool
        return await time_claims(db, now, DUE // BATCH - 10)
    finally:
        await db.dispose()


def p95(xs: list[float]) -> float:
    return sorted(xs)[int(len(xs) * 0.95) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--sqlite", action="store_true", help="the embedded database")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_PG,
        help="a PostgreSQL server to create scratch databases on",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"timer claim cost on {backend}, batches of {BATCH} ({DUE // BATCH - 10} claims per row)")
    print(f"{'pending':>10} {'situation':>9} {'median ms':>10} {'p95 ms':>8}")
    medians: dict[str, list[float]] = {"future": [], "backlog": []}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            url, drop = fresh_database(None if args.sqlite else args.database_url, Path(tmp))
            try:
                for situation in ("future", "backlog"):
                    t0 = time.perf_counter()
                    ms = await bench(url, size, situation)
                    med = statistics.median(ms)
                    medians[situation].append(med)
                    print(
                        f"{size:>10,} {situation:>9} {med:>10.2f} {p95(ms):>8.2f}"
                        f"   (built and measured in {time.perf_counter() - t0:.0f}s)"
                    )
            finally:
                drop()  # type: ignore[operator]
    for situation, ms in medians.items():
        print(f"ratio {sizes[-1]:,} / {sizes[0]:,} ({situation}): {ms[-1] / ms[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
