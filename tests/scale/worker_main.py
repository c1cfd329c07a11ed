"""A real ``casebot worker`` process for the multi-process tests.

It runs :func:`entrypoints.worker.run_worker` against the test database (and Redis), with a
platform adapter that posts every notification to a fake platform over HTTP, a timer
kind ``scale_probe`` whose effect is a row in ``scale_effects`` plus a notification, and
optionally an HTTP endpoint that feeds ``/case`` commands in, as a platform would.

    python -m tests.scale.worker_main --db URL --platform URL --id w1 [--redis URL]
        [--inbound] [--die-after-accepted N] [--probe-delay S] [--pace N/S]

It prints ``READY <inbound port or 0>`` when it is about to start work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

import aiohttp
import structlog
from aiohttp import web
from sqlalchemy import text

from bot.delivery.pacing import Limit
from bot.exchange import Context
from bot.messages import Kind, Message, Target
from bot.ports import DeliveryContext, DeliveryError, PlatformRef
from bot.work import Work
from entrypoints.bootstrap import Casebot
from entrypoints.worker import run_worker
from storage.models import Case
from tests.scale.conftest import scale_config

PROBE_DELAY = 0.0


async def probe(w: Work, case: Case | None, p: dict) -> None:
    """A timer whose effect is visible: one row, one notification, in one commit."""
    if PROBE_DELAY:
        await asyncio.sleep(PROBE_DELAY)
    await w.session.execute(
        text("INSERT INTO scale_effects (n, worker) VALUES (:n, :w)"),
        {"n": int(p["n"]), "w": WORKER},
    )
    m = Message(kind=Kind.ALERT, target=Target.team("ops"), title=f"probe {p['n']}")
    m.platform = "slack"
    w.notify(m)


WORKER = ""


class HttpPlatform:
    """Posts each message to the fake platform; 429 → Retry-After, 5xx → retry."""

    name = "slack"

    def __init__(self, url: str, worker: str, die_after: int | None) -> None:
        self.url = url.rstrip("/")
        self.worker = worker
        self.die_after = die_after
        self.accepted = 0
        self.session: aiohttp.ClientSession | None = None

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        edit = bool(message.update and ctx.previous is not None)
        title = f"edit: {message.title}" if edit else message.title
        payload = {"title": title, "target": message.target.id, "worker": self.worker}
        async with self.session.post(f"{self.url}/post", json=payload) as resp:
            if resp.status == 429:
                raise DeliveryError("429", retry_after=float(resp.headers.get("Retry-After", 1)))
            if resp.status >= 500:
                raise DeliveryError(f"{resp.status} from the platform")
            body = await resp.json()
        self.accepted += 1
        if self.die_after is not None and self.accepted >= self.die_after:
            # The platform has the message; the outbox has not recorded it yet.
            os.kill(os.getpid(), signal.SIGKILL)
        if edit:
            return ctx.previous
        return PlatformRef("C0OPS", str(body["id"]))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


async def main() -> None:
    global PROBE_DELAY, WORKER
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--platform", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--redis")
    parser.add_argument("--inbound", action="store_true")
    parser.add_argument("--die-after-accepted", type=int)
    parser.add_argument("--probe-delay", type=float, default=0.0)
    parser.add_argument("--pace", default="1000/1")
    args = parser.parse_args()
    PROBE_DELAY, WORKER = args.probe_delay, args.id
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))

    platform = HttpPlatform(args.platform, args.id, args.die_after_accepted)
    runners: list[web.AppRunner] = []

    async def outbound(bot: Casebot) -> None:
        bot.register_adapter(platform)

    async def setup(bot: Casebot) -> None:
        bot.runtime.timer_handlers["scale_probe"] = probe
        if bot.runtime.pacer is not None:
            n, s = args.pace.split("/")
            bot.runtime.pacer.limits = {"slack": (Limit(int(n), float(s)),)}
        port = 0
        if args.inbound:
            runner = web.AppRunner(inbound_app(bot))
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            runners.append(runner)
        print(f"READY {port}", flush=True)

    try:
        await run_worker(
            scale_config(), args.db, args.redis, outbound=outbound, setup=setup, worker_id=args.id
        )
    finally:
        await platform.close()
        for r in runners:
            await r.cleanup()


def inbound_app(bot: Casebot) -> web.Application:
    async def case(request: web.Request) -> web.Response:
        body = await request.json()
        ctx = Context(
            platform="slack",
            user_id=body["user"],
            channel_id=body.get("channel"),
            event_id=body["event_id"],
        )
        reply = await bot.commands.run(ctx, body["text"])
        return web.json_response(
            {"text": reply.text, "ok": reply.ok, "duplicate": reply.duplicate, "worker": WORKER}
        )

    app = web.Application()
    app.router.add_post("/case", case)
    return app


if __name__ == "__main__":
    asyncio.run(main())
