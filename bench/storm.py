"""A storm of new cases for one team: how soon each case is seen in the team channel.

``--cases`` cases (300) are opened over ``--seconds`` (60) by 60 customers through the
core, for one team, while a ``casebot worker`` process delivers to a fake platform in a
process of its own:

- Slack (customers each in a DM of their own): the fake enforces one
  ``chat.postMessage`` per second per channel (a bucket of 3) and Tier 3 on
  ``chat.update`` (at most 50 in any minute, workspace-wide), answering 429 with
  ``Retry-After``;
- Discord (customers type ``/case open`` in the team's channel; each case's
  confirmation opens its private thread): the worker runs the real Discord adapter
  against the tests' fake Discord, which enforces 5 posts and 5 edits per 5 s per
  channel in fixed windows, with ``X-RateLimit-*`` headers and Discord's 429 body.

From the fake's side: the time from each open's acknowledgement until its case key is
visible in the team channel (a message posted, or a digest edited) — p50, p90, max —
the 429s provoked, and each customer's confirmation delay. Run with the triage digest
disabled (``CASEBOT_DIGEST=off``) and with it (``--only after``: with it only).

    .venv/bin/python bench/storm.py [--platform slack|discord|both] [--cases 300]
        [--seconds 60] [--only before|after] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import storm_discord as dc  # noqa: E402
from bench.outbox_delivery import DEFAULT_PG, scratch_pg  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.exchange import Context  # noqa: E402
from bot.messages import Message, TargetKind  # noqa: E402
from bot.ports import DeliveryContext, DeliveryError, PlatformRef  # noqa: E402
from entrypoints.bootstrap import Casebot  # noqa: E402
from tests.fake_limits import Bucket, SlidingLog, Verdict, slack_retry_after  # noqa: E402

TEAM_CHANNEL = "C0OPS"
# The worker's log (CASEBOT_BENCH_LOG=FILE keeps it).
LOG = open(os.environ["CASEBOT_BENCH_LOG"], "w") if "CASEBOT_BENCH_LOG" in os.environ else None  # noqa: SIM115
CUSTOMERS = 60
KEY = re.compile(r"CASE-\d+\b")


class FakeSlack:
    """chat.postMessage: a bucket of ``burst`` per channel refilled at ``rate``/s;
    chat.update: at most ``edits`` in any 60 s for the workspace."""

    def __init__(self, rate: float = 1.0, burst: int = 3, edits: int = 50) -> None:
        self.posts = Bucket(rate, burst)
        self.updates = SlidingLog(edits, 60.0)
        self.seen: list[tuple[float, str, str]] = []  # (wall time, channel, text)
        self.rejected = {"chat.postMessage": 0, "chat.update": 0}
        self.ts = 0

    def limited(self, method: str, verdict: Verdict) -> web.Response:
        self.rejected[method] += 1
        return web.json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": slack_retry_after(verdict)},
        )

    def post(self, body: dict[str, Any]) -> web.Response:
        channel = str(body["channel"])
        verdict = self.posts.take(channel)
        if not verdict.allowed:
            return self.limited("chat.postMessage", verdict)
        self.ts += 1
        self.seen.append((time.time(), channel, str(body.get("text", ""))))
        return web.json_response({"ok": True, "ts": f"{self.ts}.000000", "channel": channel})

    def update(self, body: dict[str, Any]) -> web.Response:
        verdict = self.updates.take("workspace")
        if not verdict.allowed:
            return self.limited("chat.update", verdict)
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
    port = runner.addresses[0][1]
    print(port, port, "-", flush=True)
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


def write_config(path: Path, platform: str) -> Path:
    """The scale tests' configuration, with 60 customers and three engineers who can
    take three cases each (a storm outruns the team)."""
    discord = platform == "discord"

    def ids(slack: str, kind: str, i: int) -> dict[str, str]:
        return dc.identities(kind, i) if discord else {"slack": slack}

    team = dc.TEAM_CHANNEL if discord else TEAM_CHANNEL
    data: dict[str, Any] = {
        "support": {"name": "Storm Support", "timezone": "UTC", "knowledge_wait": "15m"},
        "teams": [{"key": "ops", "name": "Operations", "channels": {platform: team}}],
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
                "identities": ids(f"U0ENG{i}", "engineer", i),
            }
            for i in range(3)
        ]
        + [
            {
                "id": "lead",
                "name": "Lea D",
                "role": "lead",
                "identities": {"discord": dc.LEAD} if discord else {"slack": "U0LEAD"},
            }
        ]
        + [
            {
                "id": f"c{i}",
                "name": f"Customer {i}",
                "role": "customer",
                "account": f"acct{i % 20}",
                "identities": ids(f"U0C{i}", "customer", i),
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


async def work(platform: str, base: str, url: str, config: str, redis_url: str) -> None:
    from entrypoints.worker import Closer, default_outbound, run_worker

    async def outbound(bot: Casebot) -> list[Closer]:
        closers: list[Closer] = []
        if platform == "slack":
            adapter = HttpSlack(base)
            bot.register_adapter(adapter)
            closers.append(adapter.close)
        else:  # the real Discord adapter, delivery only, against the fake
            await default_outbound(bot)
        bot.runtime.poll_interval = 0.1
        print("READY", flush=True)
        return closers

    await run_worker(load_config(Path(config)), url, redis_url or None, outbound=outbound)


async def run(
    platform: str, url: str, redis_url: str, config: Path, cases: int, seconds: float, digest: bool
) -> dict[str, Any]:
    discord = platform == "discord"
    serve = ["--serve-discord"] if discord else ["--serve"]
    fake = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *serve, stdout=asyncio.subprocess.PIPE
    )
    assert fake.stdout is not None
    api_port, stats_port, token = (await fake.stdout.readline()).decode().split()
    base = f"http://127.0.0.1:{api_port}"
    stats_url = f"http://127.0.0.1:{stats_port}/_stats"
    bot = await Casebot.create(load_config(config), url, migrate=False)
    env = {**os.environ, "CASEBOT_DIGEST": "on" if digest else "off"}
    if discord:
        env |= {
            "DISCORD_TOKEN": token,
            "DISCORD_API_BASE": f"{base}/api/v10",
            "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{api_port}/gateway",
        }
    worker = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--work", platform, base, url, str(config), redis_url,
        stdout=asyncio.subprocess.PIPE, stderr=LOG, env=env,
    )  # fmt: skip
    assert worker.stdout is not None
    while (line := (await worker.stdout.readline())).strip() != b"READY":
        if not line:
            raise SystemExit("the worker did not start (CASEBOT_BENCH_LOG=FILE keeps its log)")
    team = dc.TEAM_CHANNEL if discord else TEAM_CHANNEL
    acked: dict[str, tuple[float, str]] = {}  # key -> (ack time, the customer's DM)
    start = time.time()

    async def customer_opens(n: int) -> None:
        """The n-th open, on schedule whether or not the earlier ones were answered."""
        await asyncio.sleep(max(start + n * seconds / cases - time.time(), 0))
        who = n % CUSTOMERS
        if discord:  # typed in the team's channel, answered in the case's private thread
            user, channel = dc.customer(who), dc.TEAM_CHANNEL
        else:
            user, channel = f"U0C{who}", f"D{who}"
        ctx = Context(
            platform=platform, user_id=user, channel_id=channel, event_id=uuid.uuid4().hex
        )
        reply = await bot.commands.run(ctx, f"open Webhook API call {n} fails with 500")
        acked[KEY.findall(reply.text)[0]] = (time.time(), channel)

    await asyncio.gather(*(customer_opens(n) for n in range(cases)))
    opened = time.time() - start
    deadline = time.time() + max(seconds * 6, 60.0)
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(stats_url) as r:
                stats = await r.json()
            threads = set(stats.get("customer_channels", ()))
            visible: dict[str, float] = {}
            confirmed: dict[str, float] = {}
            for at, channel, text in stats["seen"]:
                for key in set(KEY.findall(text)):
                    if key not in acked:
                        continue
                    if channel == team:
                        visible.setdefault(key, at)
                    elif channel in threads or (not discord and channel == acked[key][1]):
                        confirmed.setdefault(key, at)
            if (len(visible) == len(acked) and len(confirmed) == len(acked)) or (
                time.time() > deadline
            ):
                break
            await asyncio.sleep(0.5)
    waited = time.time() - start
    if dump := os.environ.get("CASEBOT_BENCH_DUMP"):  # the fake's view, for a closer look
        text = json.dumps({"acked": acked, "start": start, **stats})
        await asyncio.to_thread(Path(dump).write_text, text)
    worker.terminate()
    await worker.wait()
    fake.kill()
    await fake.wait()
    await bot.close()
    late = [visible.get(k, waited + start) - t for k, (t, _) in acked.items()]
    told = [confirmed.get(k, waited + start) - t for k, (t, _) in acked.items()]
    rejected = stats["rejected"]
    return {
        "opened": opened,
        "visible": sorted(late),
        "unseen": len(acked) - len(visible),
        "confirm": sorted(told),
        "429 post": rejected.get("chat.postMessage", 0) + rejected.get("create-message", 0),
        "429 edit": rejected.get("chat.update", 0) + rejected.get("edit-message", 0),
    }


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))]


LIMITS = {
    "slack": "1 msg/s/channel burst 3; chat.update 50/min",
    "discord": "5 posts and 5 edits per 5 s per channel",
}


async def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        await serve_forever()
        return
    if sys.argv[1:2] == ["--serve-discord"]:
        await dc.serve_forever(CUSTOMERS, 3)
        return
    if sys.argv[1:2] == ["--work"]:
        await work(*sys.argv[2:7])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=("slack", "discord", "both"), default="both")
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--only", choices=("before", "after"), help="one of the two runs")
    args = parser.parse_args()
    platforms = ("slack", "discord") if args.platform == "both" else (args.platform,)
    print(f"{args.cases} cases over {args.seconds:g}s by {CUSTOMERS} customers, one team")
    print(
        f"{'platform':>8} {'digest':>6} {'opens s':>7} {'p50 s':>6} {'p90 s':>6} {'max s':>6} "
        f"{'unseen':>6} {'429 post':>8} {'429 edit':>8} {'confirm p50':>11} {'confirm max':>11}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for platform in platforms:
            config = write_config(Path(tmp) / f"storm-{platform}.yml", platform)
            for digest in (False, True):
                if args.only and args.only != ("after" if digest else "before"):
                    continue
                url, drop = scratch_pg(args.database_url)
                try:
                    r = await run(
                        platform, url, args.redis_url, config, args.cases, args.seconds, digest
                    )
                finally:
                    drop()
                v, c = r["visible"], r["confirm"]
                print(
                    f"{platform:>8} {'on' if digest else 'off':>6} {r['opened']:>7.1f} "
                    f"{statistics.median(v):>6.1f} {pct(v, 0.9):>6.1f} {v[-1]:>6.1f} "
                    f"{r['unseen']:>6} {r['429 post']:>8} {r['429 edit']:>8} "
                    f"{statistics.median(c):>11.2f} {c[-1]:>11.2f}",
                    flush=True,
                )
        print("fakes: " + "; ".join(f"{p}: {LIMITS[p]}" for p in platforms))


if __name__ == "__main__":
    asyncio.run(main())
