"""Outbox delivery against fake platforms that enforce Slack's and Discord's limits.

Two fake platforms run on 127.0.0.1 and answer 429 whenever a limit is exceeded:

* Slack: ``chat.postMessage`` one message per second per channel, with a burst of 3
  (a token bucket per channel); 429 with ``Retry-After``.
* Discord: ``POST /channels/{id}/messages`` 5 per 5 s per route (fixed windows that
  start with the first request, as Discord's buckets do) and 50 requests per second
  globally; every answer carries ``X-RateLimit-Limit/Remaining/Reset-After/Bucket``,
  which the adapter reports to the pacer (``bot.pacing.observe_headers``).

The fakes run in a process of their own. The benchmark starts 1 or more worker
processes (``bot.worker.run_worker``, sharing the rate windows through Redis), queues a
burst of notifications straight into the outbox and measures, from the platform's side, messages per second
achieved as a fraction of what the limits allow for that burst (the fastest schedule
that never trips a limit), and the 429s provoked.

    .venv/bin/python bench/outbox_delivery.py [--workers 1,2] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import load_config  # noqa: E402
from bot.delivery.pacing import observe_headers  # noqa: E402
from bot.messages import Kind, Message, Target  # noqa: E402
from bot.ports import DeliveryContext, DeliveryError, PlatformRef  # noqa: E402
from entrypoints.bootstrap import Casebot  # noqa: E402
from storage.db import Database, normalize_url, upgrade  # noqa: E402
from storage.models import OutboxRow  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOG = asyncio.subprocess.DEVNULL
CONFIG = Path(__file__).resolve().parents[1] / "tests" / "scale" / "casebot-scale.yml"


class FakeSlack:
    """Token bucket per channel: ``burst`` at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float = 1.0, burst: int = 3) -> None:
        self.rate, self.burst = rate, burst
        self.tokens: dict[str, tuple[float, float]] = {}
        self.accepted: list[float] = []
        self.rejected = 0

    def handle(self, channel: str) -> web.Response:
        now = time.monotonic()
        tokens, last = self.tokens.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self.rejected += 1
            self.tokens[channel] = (tokens, now)
            wait = math.ceil((1.0 - tokens) / self.rate)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        self.tokens[channel] = (tokens - 1.0, now)
        self.accepted.append(now)
        return web.json_response({"ok": True, "ts": f"{now:.6f}", "channel": channel})

    def allowed_seconds(self, per_channel: dict[str, int]) -> float:
        """The fastest any sender could post this burst without a 429."""
        return max(max(n - self.burst, 0) / self.rate for n in per_channel.values())


class FakeDiscord:
    """Fixed windows: ``route_limit`` per ``route_window`` s per channel, and
    ``global_limit`` per second overall."""

    def __init__(
        self, route_limit: int = 5, route_window: float = 5.0, global_limit: int = 50
    ) -> None:
        self.route_limit, self.route_window, self.global_limit = (
            route_limit,
            route_window,
            global_limit,
        )
        self.routes: dict[str, tuple[float, int]] = {}
        self.global_window: tuple[float, int] = (0.0, 0)
        self.accepted: list[float] = []
        self.rejected = 0
        self.rejected_global = 0

    def handle(self, channel: str) -> web.Response:
        now = time.monotonic()
        start, count = self.global_window
        if now - start >= 1.0:
            start, count = now, 0
        if count >= self.global_limit:
            self.rejected += 1
            self.rejected_global += 1
            wait = start + 1.0 - now
            return web.json_response(
                {"global": True, "retry_after": wait},
                status=429,
                headers={"Retry-After": f"{wait:.3f}", "X-RateLimit-Global": "true"},
            )
        rstart, rcount = self.routes.get(channel, (0.0, 0))
        if now - rstart >= self.route_window:
            rstart, rcount = now, 0
        reset_after = rstart + self.route_window - now
        headers = {
            "X-RateLimit-Limit": str(self.route_limit),
            "X-RateLimit-Bucket": f"b-{channel}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }
        if rcount >= self.route_limit:
            self.rejected += 1
            headers.update({"X-RateLimit-Remaining": "0", "Retry-After": f"{reset_after:.3f}"})
            return web.json_response({"retry_after": reset_after}, status=429, headers=headers)
        self.routes[channel] = (rstart, rcount + 1)
        self.global_window = (start, count + 1)
        headers["X-RateLimit-Remaining"] = str(self.route_limit - rcount - 1)
        self.accepted.append(now)
        return web.json_response(
            {"id": str(len(self.accepted)), "channel_id": channel}, headers=headers
        )

    def allowed_seconds(self, per_channel: dict[str, int]) -> float:
        route = max(
            (math.ceil(n / self.route_limit) - 1) * self.route_window for n in per_channel.values()
        )
        total = sum(per_channel.values())
        return max(route, (math.ceil(total / self.global_limit) - 1) * 1.0)


class HttpAdapter:
    """A minimal platform adapter posting to the fake, as the real ones post to the API."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.session: aiohttp.ClientSession | None = None

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        channel = message.target.id
        async with self.session.post(f"{self.url}/{channel}", json={"text": message.title}) as r:
            if self.name == "discord":
                await observe_headers(r.headers)
            if r.status == 429:
                raise DeliveryError("429", retry_after=float(r.headers.get("Retry-After", 1)))
            if r.status >= 400:
                raise DeliveryError(f"HTTP {r.status}")
            body = await r.json()
        return PlatformRef(channel, str(body.get("ts") or body.get("id")))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


async def serve_forever(name: str) -> None:
    """The fake platform's own process (its clock and event loop are not the workers')."""
    platform: FakeSlack | FakeDiscord = FakeSlack() if name == "slack" else FakeDiscord()

    async def post(request: web.Request) -> web.Response:
        await request.read()
        return platform.handle(request.match_info["channel"])

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "accepted": platform.accepted,
                "rejected": platform.rejected,
                "global": getattr(platform, "rejected_global", 0),
            }
        )

    app = web.Application()
    app.router.add_post("/{channel}", post)
    app.router.add_get("/_stats", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


async def serve(name: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", name, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    port = int((await proc.stdout.readline()).decode())
    return proc, f"http://127.0.0.1:{port}"


async def queue(db: Database, platform: str, channels: int, per_channel: int) -> dict[str, int]:
    now = datetime.now(UTC)
    rows = []
    for i in range(per_channel):  # interleaved, as a busy day queues them
        for c in range(channels):
            m = Message(
                kind=Kind.ALERT,
                target=Target.person(f"{platform[0]}{c}"),
                title=f"{platform} {c}/{i}",
            )
            m.platform = platform
            rows.append(
                {
                    "platform": platform,
                    "kind": "alert",
                    "case_key": None,
                    "message": m.to_dict(),
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM outbox"))
        await s.execute(insert(OutboxRow), rows)
    return {f"{platform[0]}{c}": per_channel for c in range(channels)}


async def work(name: str, base: str, url: str, redis_url: str, worker_id: str) -> None:
    """One worker process: ``casebot worker`` with the benchmark's platform adapter."""
    import structlog

    from entrypoints.worker import run_worker

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    adapter = HttpAdapter(name, base)

    async def outbound(bot: Casebot) -> list[Any]:
        bot.register_adapter(adapter)
        bot.runtime.poll_interval = 0.2
        print("READY", flush=True)
        return [adapter.close]

    await run_worker(
        load_config(CONFIG), url, redis_url or None, outbound=outbound, worker_id=worker_id
    )


async def run(
    url: str, redis_url: str | None, name: str, workers: int, channels: int, per_channel: int
) -> dict[str, Any]:
    fake: FakeSlack | FakeDiscord = FakeSlack() if name == "slack" else FakeDiscord()
    server, base = await serve(name)
    db = Database(url)
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM outbox"))
    procs = []
    for i in range(workers):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--work",
            name,
            base,
            url,
            redis_url or "",
            f"bench-{i}",
            stdout=asyncio.subprocess.PIPE,
            stderr=LOG,
        )
        assert proc.stdout is not None
        while (await proc.stdout.readline()).strip() != b"READY":
            pass
        procs.append(proc)
    plan = await queue(db, name, channels, per_channel)
    total = sum(plan.values())
    t0 = time.monotonic()
    while True:
        async with db.read() as s:
            left = (
                await s.execute(text("SELECT count(*) FROM outbox WHERE state <> 'sent'"))
            ).scalar_one()
        if left == 0:
            break
        if time.monotonic() - t0 > 600:
            raise RuntimeError("delivery did not finish in 10 minutes")
        await asyncio.sleep(0.1)
    wall = time.monotonic() - t0
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        await proc.wait()
    await db.dispose()
    async with aiohttp.ClientSession() as session, session.get(f"{base}/_stats") as r:
        stats = await r.json()
    server.kill()
    await server.wait()
    accepted = sorted(stats["accepted"])
    span = accepted[-1] - accepted[0]
    allowed = fake.allowed_seconds(plan)
    return {
        "messages": total,
        "channels": channels,
        "span": span,
        "wall": wall,
        "rate": total / span,
        "allowed_rate": total / allowed,
        "fraction": allowed / span,
        "429s": stats["rejected"],
        "accepted": accepted,
        "global_429s": stats["global"],
    }


def scratch_pg(base_url: str) -> tuple[str, Any]:
    base = normalize_url(base_url)
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


async def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        await serve_forever(sys.argv[2])
        return
    if sys.argv[1:2] == ["--work"]:
        await work(*sys.argv[2:7])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--slack", default="8x40", help="channels x messages per channel")
    parser.add_argument("--discord", default="60x20", help="channels x messages per channel")
    args = parser.parse_args()
    url, drop = scratch_pg(args.database_url)
    results: dict[tuple[str, int], dict[str, Any]] = defaultdict(dict)
    try:
        print(
            f"{'platform':>8} {'workers':>7} {'messages':>8} {'msg/s':>7} {'allowed':>7} "
            f"{'fraction':>8} {'429s':>5}"
        )
        for name, shape in (("slack", args.slack), ("discord", args.discord)):
            channels, per = (int(x) for x in shape.split("x"))
            for workers in (int(w) for w in args.workers.split(",")):
                r = await run(url, args.redis_url, name, workers, channels, per)
                results[(name, workers)] = r
                print(
                    f"{name:>8} {workers:>7} {r['messages']:>8} {r['rate']:>7.2f} "
                    f"{r['allowed_rate']:>7.2f} {r['fraction']:>8.2f} {r['429s']:>5}"
                )
    finally:
        drop()


if __name__ == "__main__":
    asyncio.run(main())
