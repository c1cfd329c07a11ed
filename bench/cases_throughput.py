"""Cases opened per second through the core: SQLite (one process, the embedded default)
and PostgreSQL with 1, 2 and 4 worker processes.

Each worker process builds a ``Casebot`` on the database and runs ``--openers``
concurrent customers, each typing ``/case open …`` (``CaseCommands.run`` with a fresh
platform event id: the whole path a Slack command takes once acknowledged — event
de-duplication, the case, triage, knowledge search, routing and assignment, the
notifications and timers it queues — in one transaction per case) for ``--seconds``.
The processes start together; the figure is all cases opened divided by the time.

With ``--separate`` each worker count above one also runs on as many databases, one
worker each: nothing is shared, so that row is what the machine itself allows. Where the
database server is local, the CPU per case of the workers and of the server's processes
for them is shown too (from ``/proc``), and how many cores they kept busy: once every
core is, more workers cannot open more.

    .venv/bin/python bench/cases_throughput.py [--workers 1,2,4] [--seconds 10] [--separate]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
        workdir.mkdir(parents=True, exist_ok=True)
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


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) these processes have used, from ``/proc``; 0 where it
    cannot be read (not Linux, or the process is gone)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def backends(databases: set[str]) -> list[int]:
    """The local PostgreSQL server's processes serving these databases (their command
    line names the database), or none if the server is on another machine."""
    pids = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        try:
            words = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().split()
        except (OSError, ValueError):
            continue
        if words[:1] == ["postgres:"] and databases & set(words):
            pids.append(int(entry.name))
    return pids


async def run(urls: list[str], openers: int, seconds: float) -> dict:
    """One worker process per URL (the same URL for workers sharing a database), all
    opening cases for ``seconds``; with the CPU the workers and the database server's
    processes for them used over the middle of the run."""
    for url in set(urls):  # create the accounts and people once, before workers race to
        bot = await Casebot.create(load_config(CONFIG), url, migrate=False)
        await bot.close()
    start_at = time.time() + 3.0 + len(urls)  # time for every process to get ready
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
        for url in urls
    ]
    cpu = {}
    if "postgresql" in urls[0]:
        names = {u.rsplit("/", 1)[1] for u in urls}
        await asyncio.sleep(max(start_at + seconds * 0.2 - time.time(), 0))
        began, workers, servers = time.time(), [p.pid for p in procs], backends(names)
        workers_cpu, servers_cpu = cpu_seconds(workers), cpu_seconds(servers)
        await asyncio.sleep(seconds * 0.6)
        elapsed = time.time() - began
        cpu = {  # the same backends at both ends: one opened in between is not counted
            "workers": (cpu_seconds(workers) - workers_cpu) / elapsed,
            "server": (cpu_seconds(servers) - servers_cpu) / elapsed,
        }
    results = []
    for proc in procs:
        out, _ = await proc.communicate()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    opened = sum(r["opened"] for r in results)
    return {
        "workers": len(urls),
        "opened": opened,
        "per_second": opened / seconds,
        "failures": sum(r["failures"] for r in results),
        "p50_ms": statistics.median(r["p50_ms"] for r in results),
        "cpu": cpu,
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
    parser.add_argument(
        "--separate",
        action="store_true",
        help="also run each worker count on as many separate databases, one worker each "
        "(nothing shared: what the machine itself allows)",
    )
    args = parser.parse_args()
    print(
        f"cases opened per second ({args.openers} concurrent customers per worker, "
        f"{args.seconds:g}s each); CPU per case over the middle 60% of each run"
    )
    print(
        f"{'database':>10} {'workers':>7} {'dbs':>3} {'cases':>6} {'cases/s':>8} {'p50 ms':>7}"
        f" {'worker ms':>9} {'server ms':>9} {'cores':>5}"
    )
    counts = [int(w) for w in args.workers.split(",")]
    runs = [("SQLite", None, 1, 1)] + [("PostgreSQL", args.database_url, w, 1) for w in counts]
    if args.separate:
        runs += [("PostgreSQL", args.database_url, w, w) for w in counts if w > 1]
    with tempfile.TemporaryDirectory() as tmp:
        for label, pg, workers, dbs in runs:
            made = [scratch(pg, Path(tmp) / str(i)) for i in range(dbs)]
            try:
                urls = [made[i * dbs // workers][0] for i in range(workers)]
                r = await run(urls, args.openers, args.seconds)
            finally:
                for _, drop in made:
                    drop()  # type: ignore[operator]
            print(
                f"{label:>10} {workers:>7} {dbs:>3} {r['opened']:>6} {r['per_second']:>8.1f} "
                f"{r['p50_ms']:>7.1f}"
                + cpu_columns(r)
                + (f"  ({r['failures']} failed)" if r["failures"] else "")
            )


def cpu_columns(r: dict) -> str:
    cpu, rate = r["cpu"], r["per_second"]
    if not cpu or not rate or not cpu["server"]:
        return f" {'-':>9} {'-':>9} {'-':>5}"
    busy = cpu["workers"] + cpu["server"]
    return f" {cpu['workers'] / rate * 1000:>9.1f} {cpu['server'] / rate * 1000:>9.1f} {busy:>5.2f}"


if __name__ == "__main__":
    asyncio.run(main())
