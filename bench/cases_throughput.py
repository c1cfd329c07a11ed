"""Cases opened per second through the core: SQLite (one process, the embedded default)
and PostgreSQL with 1, 2 and 4 worker processes.

Each worker process builds a ``Casebot`` on the database and runs ``--openers``
concurrent customers, each typing ``/case open …`` (``CaseCommands.run`` with a fresh
platform event id: the whole path a Slack command takes once acknowledged — event
de-duplication, the case, triage, knowledge search, routing and assignment, the
notifications and timers it queues — in one transaction per case) for ``--seconds``.
The processes start together; the figure is all cases opened divided by the time.

    .venv/bin/python bench/cases_throughput.py [--workers 1,2,4] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import load_config  # noqa: E402
from bot.exchange import Context  # noqa: E402
from entrypoints.bootstrap import Casebot  # noqa: E402
from storage.db import normalize_url, upgrade  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CONFIG = Path(__file__).resolve().parents[1] / "tests" / "scale" / "casebot-scale.yml"


async def open_cases(url: str, openers: int, start_at: float, seconds: float) -> dict:
    """One worker: ``openers`` customers opening cases from ``start_at`` for ``seconds``."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    bot = await Casebot.create(load_config(CONFIG), url, migrate=False)
    latencies: list[float] = []
    failures = 0

    async def customer(n: int) -> None:
        nonlocal failures
        i = 0
        while time.time() < start_at + seconds:
            ctx = Context(
                platform="console",
                user_id="cleo",
                channel_id="console",
                event_id=f"bench-{uuid.uuid4().hex}",
            )
            t0 = time.perf_counter()
            reply = await bot.commands.run(ctx, f"open Webhook API call {n}-{i} fails")
            latencies.append(time.perf_counter() - t0)
            failures += not reply.ok
            i += 1

    await asyncio.sleep(max(start_at - time.time(), 0))
    await asyncio.gather(*(customer(n) for n in range(openers)))
    await bot.close()
    return {
        "opened": len(latencies) - failures,
        "failures": failures,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
    }


def scratch(pg: str | None, workdir: Path) -> tuple[str, object]:
    if pg is None:
        url = f"sqlite:///{workdir / 'cases.db'}"
        upgrade(url)
        return url, lambda: None
    base = normalize_url(pg)
    name = f"casebot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    upgrade(url)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


async def run(url: str, workers: int, openers: int, seconds: float) -> dict:
    # Create the accounts and people once, before the workers race to.
    bot = await Casebot.create(load_config(CONFIG), url, migrate=False)
    await bot.close()
    start_at = time.time() + 3.0 + workers  # time for every process to get ready
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--worker",
            url,
            str(openers),
            str(start_at),
            str(seconds),
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    results = []
    for proc in procs:
        out, _ = await proc.communicate()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    opened = sum(r["opened"] for r in results)
    return {
        "workers": workers,
        "opened": opened,
        "per_second": opened / seconds,
        "failures": sum(r["failures"] for r in results),
        "p50_ms": statistics.median(r["p50_ms"] for r in results),
    }


async def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        url, openers, start_at, seconds = sys.argv[2:6]
        print(json.dumps(await open_cases(url, int(openers), float(start_at), float(seconds))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--openers", type=int, default=8, help="concurrent customers per worker")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default=DEFAULT_PG)
    args = parser.parse_args()
    print(
        f"cases opened per second ({args.openers} concurrent customers per worker, "
        f"{args.seconds:g}s each)"
    )
    print(f"{'database':>10} {'workers':>7} {'cases':>6} {'cases/s':>8} {'p50 ms':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("SQLite", None, 1)] + [
            ("PostgreSQL", args.database_url, int(w)) for w in args.workers.split(",")
        ]
        for label, pg, workers in runs:
            url, drop = scratch(pg, Path(tmp))
            try:
                r = await run(url, workers, args.openers, args.seconds)
            finally:
                drop()  # type: ignore[operator]
            print(
                f"{label:>10} {workers:>7} {r['opened']:>6} {r['per_second']:>8.1f} "
                f"{r['p50_ms']:>7.1f}" + (f"  ({r['failures']} failed)" if r["failures"] else "")
            )


if __name__ == "__main__":
    asyncio.run(main())
