"""A storm of new cases for one team: how soon each case is seen in the team channel.

``--cases`` cases (300) are opened over ``--seconds`` (60) by 60 customers (each in a
DM of their own) through the core, for one team, while a ``casebot worker`` process
delivers to a fake Slack in a process of its own. The fake enforces one
``chat.postMessage`` per second per channel (a bucket of 3) and Tier 3 on
``chat.update`` (at most 50 in any minute, workspace-wide), answering 429 with
``Retry-After``. From the fake's side: the time from each open's acknowledgement until
its case key is visible in the team channel (a message posted, or a digest edited)
— p50, p90, max — the 429s provoked, and each customer's confirmation delay. Run twice:
with the triage digest disabled (``CASEBOT_DIGEST=off``) and with it.

    .venv/bin/python bench/storm.py [--cases 300] [--seconds 60] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.outbox_delivery import DEFAULT_PG, scratch_pg  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.exchange import Context  # noqa: E402
from bot.messages import Message, TargetKind  # noqa: E402
from bot.ports import DeliveryContext, DeliveryError, PlatformRef  # noqa: E402
from entrypoints.bootstrap import Casebot  # noqa: E402

TEAM_CHANNEL = "C0OPS"
# The worker's log (CASEBOT_BENCH_LOG=FILE keeps it).
LOG = open(os.environ["CASEBOT_BENCH_LOG"], "w") if "CASEBOT_BENCH_LOG" in os.environ else None  # noqa: SIM115
CUSTOMERS = 60
KEY = re.compile(r"CASE-\d+\b")


class FakeSlack:
    """chat.postMessage: a bucket of ``burst`` per channel refilled at ``rate``/s;
    chat.update: at most ``edits`` in any 60 s for the workspace."""

    def __init__(self, rate: float = 1.0, burst: int = 3, edits: int = 50) -> None:
        self.rate, self.burst, self.edits = rate, burst, edits
        self.tokens: dict[str, tuple[float, float]] = {}
        self.updates: deque[float] = deque()
        self.seen: list[tuple[float, str, str]] = []  # (wall time, channel, text)
        self.rejected = {"chat.postMessage": 0, "chat.update": 0}
        self.ts = 0

    def limited(self, method: str, retry_after: float) -> web.Response:
        self.rejected[method] += 1
        return web.json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(max(1, round(retry_after + 0.49)))},
        )

    def post(self, body: dict[str, Any]) -> web.Response:
        now, channel = time.monotonic(), str(body["channel"])
        tokens, last = self.tokens.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self.tokens[channel] = (tokens, now)
            return self.limited("chat.postMessage", (1.0 - tokens) / self.rate)
        self.tokens[channel] = (tokens - 1.0, now)
        self.ts += 1
        self.seen.append((time.time(), channel, str(body.get("text", ""))))
        return web.json_response({"ok": True, "ts": f"{self.ts}.000000", "channel": channel})

    def update(self, body: dict[str, Any]) -> web.Response:
        now = time.monotonic()
        while self.updates and self.updates[0] <= now - 60.0:
            self.updates.popleft()
        if len(self.updates) >= self.edits:
            return self.limited("chat.update", self.updates[0] + 60.0 - now)
        self.updates.append(now)
        self.seen.append((time.time(), str(body["channel"]), str(body.get("text", ""))))
        return web.json_response({"ok": True, "ts": body["ts"], "channel": body["channel"]})


async def serve_forever() -> None:
    fake = FakeSlack()

    async def call(request: web.Request) -> web.Response:
        body = await request.json()
        if request.match_info["method"] == "chat.update":
            return fake.update(body)
        return fake.post(body)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"seen": fake.seen, "rejected": fake.rejected})

    app = web.Application()
    app.router.add_post("/api/{method}", call)
    app.router.add_get("/_stats", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


class HttpSlack:
    """Posts where the Slack adapter would (a team's channel, a case's thread, a DM),
    and edits a message that has a previous ref, through the fake's Web API."""

    name = "slack"

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: aiohttp.ClientSession | None = None

    def place(self, message: Message, ctx: DeliveryContext) -> tuple[str, str | None]:
        kind = message.target.kind
        if kind == TargetKind.TEAM:
            return str(ctx.address), None
        if kind == TargetKind.CASE_STAFF:
            if ctx.staff_thread is not None:
                return ctx.staff_thread.channel, ctx.staff_thread.thread_id
            return str(ctx.team_channel), None
        if kind == TargetKind.CASE_CUSTOMER:
            if ctx.customer_thread is not None:
                return ctx.customer_thread.channel, ctx.customer_thread.thread_id
            return str(ctx.origin_channel or f"D-{ctx.customer_user}"), None
        return f"D-{ctx.address}", None

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        text = message.plain()
        if message.update and ctx.previous is not None:
            method = "chat.update"
            body = {"channel": ctx.previous.channel, "ts": ctx.previous.message_id, "text": text}
        else:
            method = "chat.postMessage"
            channel, thread = self.place(message, ctx)
            body = {"channel": channel, "thread_ts": thread, "text": text}
        async with self.session.post(f"{self.url}/api/{method}", json=body) as r:
            if r.status == 429:
                raise DeliveryError("ratelimited", retry_after=float(r.headers["Retry-After"]))
            answer = await r.json()
        if method == "chat.update":
            return ctx.previous
        ts = str(answer["ts"])
        return PlatformRef(str(answer["channel"]), ts, body["thread_ts"] or ts)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


def write_config(path: Path) -> Path:
    """The scale tests' configuration, with 60 customers and three engineers who can
    take three cases each (a storm outruns the team)."""
    data: dict[str, Any] = {
        "support": {"name": "Storm Support", "timezone": "UTC", "knowledge_wait": "15m"},
        "teams": [{"key": "ops", "name": "Operations", "channels": {"slack": TEAM_CHANNEL}}],
        "product_areas": [
            {"key": "api", "name": "Public API", "team": "ops", "keywords": ["api", "webhook"]}
        ],
        "people": [
            {
                "id": f"eng{i}",
                "name": f"Engineer {i}",
                "role": "engineer",
                "team": "ops",
                "skills": {"api": 3},
                "capacity": 3,
                "identities": {"slack": f"U0ENG{i}"},
            }
            for i in range(3)
        ]
        + [{"id": "lead", "name": "Lea D", "role": "lead", "identities": {"slack": "U0LEAD"}}]
        + [
            {
                "id": f"c{i}",
                "name": f"Customer {i}",
                "role": "customer",
                "account": f"acct{i % 20}",
                "identities": {"slack": f"U0C{i}"},
            }
            for i in range(CUSTOMERS)
        ],
        "accounts": [
            {"key": f"acct{i}", "name": f"Account {i}", "tier": "standard"} for i in range(20)
        ],
        "chase": [{"after": "1bd", "action": "remind"}],
        "escalation": {"acknowledge_within": "1h"},
        "sla": {
            "warn_at": 0.8,
            "first_response": {"S1": "30m", "S2": "1h", "S3": "4h", "S4": "1bd"},
            "resolution": {"S1": "1d", "S2": "2d", "S3": "5d", "S4": "10d"},
        },
    }
    path.write_text(yaml.safe_dump(data))
    return path


async def work(base: str, url: str, config: str, redis_url: str) -> None:
    from entrypoints.worker import run_worker

    adapter = HttpSlack(base)

    async def outbound(bot: Casebot) -> list[Any]:
        bot.register_adapter(adapter)
        bot.runtime.poll_interval = 0.1
        print("READY", flush=True)
        return [adapter.close]

    await run_worker(load_config(Path(config)), url, redis_url or None, outbound=outbound)


async def run(
    url: str, redis_url: str, config: Path, cases: int, seconds: float, digest: bool
) -> dict[str, Any]:
    fake = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", stdout=asyncio.subprocess.PIPE
    )
    assert fake.stdout is not None
    base = f"http://127.0.0.1:{int((await fake.stdout.readline()).decode())}"
    bot = await Casebot.create(load_config(config), url, migrate=False)
    env = {**os.environ, "CASEBOT_DIGEST": "on" if digest else "off"}
    worker = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--work", base, url, str(config), redis_url,
        stdout=asyncio.subprocess.PIPE, stderr=LOG, env=env,
    )  # fmt: skip
    assert worker.stdout is not None
    while (await worker.stdout.readline()).strip() != b"READY":
        pass
    acked: dict[str, tuple[float, str]] = {}  # key -> (ack time, the customer's DM)
    start = time.time()

    async def customer_opens(n: int) -> None:
        """The n-th open, on schedule whether or not the earlier ones were answered."""
        await asyncio.sleep(max(start + n * seconds / cases - time.time(), 0))
        who = n % CUSTOMERS
        ctx = Context(
            platform="slack", user_id=f"U0C{who}", channel_id=f"D{who}", event_id=uuid.uuid4().hex
        )
        reply = await bot.commands.run(ctx, f"open Webhook API call {n} fails with 500")
        acked[KEY.findall(reply.text)[0]] = (time.time(), f"D{who}")

    await asyncio.gather(*(customer_opens(n) for n in range(cases)))
    opened = time.time() - start
    deadline = time.time() + max(seconds * 6, 60.0)
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{base}/_stats") as r:
                stats = await r.json()
            visible: dict[str, float] = {}
            confirmed: dict[str, float] = {}
            for at, channel, text in stats["seen"]:
                for key in KEY.findall(text):
                    if key not in acked:
                        continue
                    if channel == TEAM_CHANNEL:
                        visible.setdefault(key, at)
                    elif channel == acked[key][1]:
                        confirmed.setdefault(key, at)
            if (len(visible) == len(acked) and len(confirmed) == len(acked)) or (
                time.time() > deadline
            ):
                break
            await asyncio.sleep(0.5)
    waited = time.time() - start
    worker.terminate()
    await worker.wait()
    fake.kill()
    await fake.wait()
    await bot.close()
    late = [visible.get(k, waited + start) - t for k, (t, _) in acked.items()]
    told = [confirmed.get(k, waited + start) - t for k, (t, _) in acked.items()]
    return {
        "opened": opened,
        "visible": sorted(late),
        "unseen": len(acked) - len(visible),
        "confirm": sorted(told),
        "429s": stats["rejected"],
    }


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))]


async def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        await serve_forever()
        return
    if sys.argv[1:2] == ["--work"]:
        await work(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--only", choices=("before", "after"), help="one of the two runs")
    args = parser.parse_args()
    print(
        f"{args.cases} cases over {args.seconds:g}s by {CUSTOMERS} customers, one team, "
        "fake Slack (1 msg/s/channel burst 3; chat.update 50/min)"
    )
    print(
        f"{'digest':>7} {'opens s':>7} {'p50 s':>7} {'p90 s':>7} {'max s':>7} {'unseen':>6} "
        f"{'429 post':>8} {'429 edit':>8} {'confirm p50':>11} {'confirm max':>11}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "storm.yml")
        for digest in (False, True):
            if args.only and args.only != ("after" if digest else "before"):
                continue
            url, drop = scratch_pg(args.database_url)
            try:
                r = await run(url, args.redis_url, config, args.cases, args.seconds, digest)
            finally:
                drop()
            v, c = r["visible"], r["confirm"]
            print(
                f"{'on' if digest else 'off':>7} {r['opened']:>7.1f} {statistics.median(v):>7.1f} {pct(v, 0.9):>7.1f} "
                f"{v[-1]:>7.1f} {r['unseen']:>6} {r['429s']['chat.postMessage']:>8} "
                f"{r['429s']['chat.update']:>8} {statistics.median(c):>11.2f} {c[-1]:>11.2f}",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
