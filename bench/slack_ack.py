"""How fast casebot acknowledges Slack, under load, next to a bare Bolt app.

Sends correctly signed ``/case open …`` slash commands at a steady rate (open loop: a
request leaves on schedule whether or not the previous ones were answered) to the
Slack adapter in HTTP mode, and measures the time to each HTTP answer, i.e. the
acknowledgement Slack waits at most 3 seconds for. Three servers, one after the other,
in the same run on the same machine, each in its own process:

* a bare Bolt app that only acknowledges (same Bolt settings, same aiohttp server code);
* casebot on SQLite;
* casebot on PostgreSQL (skipped when the server is unreachable).

casebot runs for real: the command's work (a case opened in the database, the reply
posted to ``response_url``, the outbox delivering the case message and triage alert)
happens after each ack and competes with the acks for the CPU. The Slack Web API is the
test suite's fake, in a third process. After the load, the run waits until every
command has been answered through its ``response_url``, so no work is left out of the
picture.

    .venv/bin/python bench/slack_ack.py                 # 100 req/s for 10 s, all three
    .venv/bin/python bench/slack_ack.py --rate 200 --seconds 5 --only sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = ROOT / "tests" / "slack" / "casebot.yml"
SECRET = "bench-signing-secret"
CUSTOMER, SHARED = "U0CARL", "C0UMBRELLA"  # a customer and their shared channel in CONFIG
PG_URL = os.environ.get(
    "CASEBOT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# ----------------------------------------------------------------------------- servers


async def wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve_fake() -> None:
    from tests.slack.fake_slack import FakeSlack

    fake = FakeSlack(lenient=True)
    await fake.start()
    print(f"READY {fake.port}", flush=True)
    await wait_for_stop()
    await fake.stop()


async def serve_bare(api_url: str) -> None:
    """The baseline: Bolt, one listener that acknowledges, nothing else."""
    from slack_bolt.app.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from adapters.slack.server import mount
    from adapters.web import WebServer

    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token="xoxb-bench", base_url=api_url),
        process_before_response=True,  # as casebot's listeners run
    )

    @app.command("/case")
    async def ack_only(ack):  # type: ignore[no-untyped-def]
        await ack()

    server = WebServer("127.0.0.1", 0)
    mount(server, app, lambda: {"ok": True})
    await server.start()
    print(f"READY {server.port}", flush=True)
    await wait_for_stop()
    await server.stop()


async def serve_casebot(api_url: str, database_url: str) -> None:
    if os.environ.get("BENCH_SLOW_CALLBACKS"):  # report what holds the event loop up
        import logging

        logging.basicConfig(level=logging.WARNING)
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = float(os.environ["BENCH_SLOW_CALLBACKS"])
    from adapters.slack import from_env
    from bot.config import load_config
    from bot.ports import PlatformOptions
    from entrypoints.bootstrap import Casebot

    bot = await Casebot.create(load_config(CONFIG), database_url=database_url)
    env = {
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
    }
    platform = from_env(env, PlatformOptions(http=True, host="127.0.0.1", port=0))
    await bot.start_platform(platform)
    await bot.start()
    print(f"READY {platform.port}", flush=True)
    await wait_for_stop()
    await bot.close()


# ----------------------------------------------------------------------------- the load


@dataclass
class Result:
    name: str
    latencies: list[float]  # seconds, one per answered request
    errors: int
    elapsed: float
    answered: int | None = None  # replies that reached response_url (casebot only)
    drain: float | None = None  # seconds from the last ack to the last reply

    def row(self) -> str:
        lat = sorted(self.latencies)
        if not lat:
            return f"| {self.name} | – | – | – | – | {self.errors} | – |"
        p50, p99 = self.p50() * 1000, self.p99() * 1000
        answered = "–"
        if self.answered is not None:
            answered = f"{self.answered}/{len(lat) + self.errors}"
            if self.drain is not None:
                answered += f" ({self.drain:.1f} s after the last ack)"
        return (
            f"| {self.name} | {p50:.1f} ms | {p99:.1f} ms | {lat[-1] * 1000:.1f} ms "
            f"| {len(lat) / self.elapsed:.1f}/s | {self.errors} | {answered} |"
        )

    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    def p99(self) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")


def signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    base = b"v0:" + ts.encode() + b":" + body
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest(),
    }


def command(i: int, fake_base: str) -> bytes:
    return urlencode(
        {
            "token": "bench",
            "team_id": "T0CASE",
            "team_domain": "bench",
            "channel_id": SHARED,
            "channel_name": "umbrella",
            "user_id": CUSTOMER,
            "user_name": "carl",
            "command": "/case",
            "text": f"open Benchmark case {i}: exports stall after the upgrade",
            "api_app_id": "A0CASE",
            "is_enterprise_install": "false",
            "response_url": f"{fake_base}/response/{uuid.uuid4().hex}",
            "trigger_id": f"{i}.{uuid.uuid4().hex[:12]}",
        }
    ).encode()


async def load(
    url: str, fake_base: str, rate: float, seconds: float, warmup: int
) -> tuple[list[float], int, float]:
    import aiohttp

    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        for i in range(warmup):  # connections, caches, first queries
            body = command(-1 - i, fake_base)
            async with http.post(url, data=body, headers=signed(body)) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"warm-up request refused: HTTP {r.status}")
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05

        async def one(i: int) -> None:
            nonlocal errors
            body = command(i, fake_base)
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            sent = time.perf_counter()
            try:
                async with http.post(url, data=body, headers=signed(body)) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                        return
            except aiohttp.ClientError:
                errors += 1
                return
            latencies.append(time.perf_counter() - sent)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - t0
    return latencies, errors, elapsed


# ----------------------------------------------------------------------------- orchestration


async def start_child(*args: str) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdout=asyncio.subprocess.PIPE, cwd=str(ROOT)
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    if not line.startswith(b"READY "):
        raise RuntimeError(f"{args[0]} did not start: {line!r}")
    return proc, int(line.split()[1])


async def stop_child(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def replies(fake_base: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{fake_base}/_stats") as r:
        return int((await r.json())["calls"].get("response_url", 0))


async def run_one(name: str, args: list[str], fake_base: str, opts: argparse.Namespace) -> Result:
    proc, port = await start_child(*args)
    try:
        before = await replies(fake_base)
        latencies, errors, elapsed = await load(
            f"http://127.0.0.1:{port}/slack/events", fake_base, opts.rate, opts.seconds, opts.warmup
        )
        result = Result(name, latencies, errors, elapsed)
        if args[0] == "--serve-casebot":
            expected = len(latencies) + opts.warmup
            t0 = time.perf_counter()
            answered = await replies(fake_base) - before
            while answered < expected and time.perf_counter() - t0 < 120:
                await asyncio.sleep(0.2)
                answered = await replies(fake_base) - before
            result.answered = answered - opts.warmup
            result.drain = time.perf_counter() - t0
        return result
    finally:
        await stop_child(proc)


def postgres_database() -> tuple[str, object] | None:
    """A fresh database on the PostgreSQL server, or None when there is none."""
    from sqlalchemy import create_engine, text

    from storage.db import normalize_url

    base = normalize_url(PG_URL)
    try:
        admin = create_engine(
            base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        name = f"casebot_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - no server: skip that row
        print(f"(PostgreSQL skipped: {exc.__class__.__name__} at {PG_URL})")
        return None
    return base.rsplit("/", 1)[0] + "/" + name, (admin, name)


def drop_postgres(handle: object) -> None:
    from sqlalchemy import text

    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


async def main(opts: argparse.Namespace) -> list[Result]:
    fake, fake_port = await start_child("--fake-slack")
    fake_base = f"http://127.0.0.1:{fake_port}"
    api_url = f"{fake_base}/api/"
    results: list[Result] = []
    try:
        if opts.only in (None, "bare"):
            results.append(
                await run_one(
                    "bare Bolt app (ack only)", ["--serve-bare", api_url], fake_base, opts
                )
            )
        if opts.only in (None, "sqlite"):
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/bench.db"
                results.append(
                    await run_one(
                        "casebot, SQLite", ["--serve-casebot", api_url, url], fake_base, opts
                    )
                )
        if opts.only in (None, "postgres"):
            pg = postgres_database()
            if pg is not None:
                url, handle = pg
                try:
                    results.append(
                        await run_one(
                            "casebot, PostgreSQL",
                            ["--serve-casebot", api_url, url],
                            fake_base,
                            opts,
                        )
                    )
                finally:
                    drop_postgres(handle)
    finally:
        await stop_child(fake)

    return results


def report(results: list[Result], opts: argparse.Namespace) -> None:
    total = int(opts.rate * opts.seconds)
    print(
        f"\nSlack acknowledgement: signed `/case open …` at {opts.rate:g} requests/s for "
        f"{opts.seconds:g} s ({total} requests per server), {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}\n"
    )
    print("| server | p50 | p99 | max | throughput | errors | commands answered |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(r.row())
    bare = next((r for r in results if r.name.startswith("bare") and r.latencies), None)
    if bare is not None:
        print()
        for r in results:
            if r is not bare and r.latencies:
                print(
                    f"{r.name} / bare Bolt: p50 {r.p50() / bare.p50():.1f}x, "
                    f"p99 {r.p99() / bare.p99():.1f}x"
                )
    slowest = max((max(r.latencies) for r in results if r.latencies), default=0.0)
    print(f"\nslowest acknowledgement of the run: {slowest * 1000:.1f} ms (Slack's limit: 3000 ms)")
    if opts.json:
        figures = [
            {
                "server": r.name,
                "p50_ms": r.p50() * 1000,
                "p99_ms": r.p99() * 1000,
                "max_ms": max(r.latencies) * 1000,
                "throughput": len(r.latencies) / r.elapsed,
                "errors": r.errors,
                "answered": r.answered,
            }
            for r in results
            if r.latencies
        ]
        Path(opts.json).write_text(json.dumps(figures, indent=2))


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send")
    parser.add_argument("--warmup", type=int, default=20, help="requests before measuring")
    parser.add_argument("--only", choices=["bare", "sqlite", "postgres"])
    parser.add_argument("--json", help="also write the figures to this file")
    # Internal: the child processes.
    parser.add_argument("--fake-slack", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", metavar="API_URL", help=argparse.SUPPRESS)
    parser.add_argument(
        "--serve-casebot", nargs=2, metavar=("API_URL", "DB_URL"), help=argparse.SUPPRESS
    )
    opts = parser.parse_args()
    if opts.fake_slack:
        asyncio.run(serve_fake())
    elif opts.serve_bare:
        asyncio.run(serve_bare(opts.serve_bare))
    elif opts.serve_casebot:
        asyncio.run(serve_casebot(*opts.serve_casebot))
    else:
        report(asyncio.run(main(opts)), opts)


if __name__ == "__main__":
    cli()
