"""The storm bench's Discord side: the tests' fake Discord (REST, in a process of its own)
with one server, the team's channel and the storm's people, enforcing Discord's route
limits (5 message posts and 5 edits per 5 s per channel, fixed windows, ``X-RateLimit-*``
on every answer, 429 with Discord's body past them); and what the team and the customers
saw, read from its calls."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from aiohttp import web

from tests.discord.fake_discord import PRIVATE_THREAD, FakeDiscord

GUILD = 720000000000000001
TEAM_CHANNEL = "720000000000000101"
LEAD = "720000000000000201"
POST = re.compile(r"/channels/(\d+)/messages(?:/\d+)?")


def customer(i: int) -> str:
    return str(720000000000001000 + i)


def engineer(i: int) -> str:
    return str(720000000000000300 + i)


def build(fake: FakeDiscord, customers: int, engineers: int) -> None:
    fake.add_guild(GUILD, "Storm")
    fake.add_text_channel(GUILD, int(TEAM_CHANNEL), "ops")
    people = [LEAD, *(engineer(i) for i in range(engineers)), *map(customer, range(customers))]
    for user in people:
        fake.add_user(int(user), f"u{user[-4:]}")
        fake.add_member(GUILD, int(user))


def seen(fake: FakeDiscord) -> list[tuple[float, str, str]]:
    """Every message posted or edited by the bot: (wall time, channel, its payload)."""
    out = []
    for call in fake.calls:
        match = POST.fullmatch(call.path)
        if call.status == 200 and call.method in ("POST", "PATCH") and match:
            out.append((call.at, match.group(1), json.dumps(call.body)))
    return out


async def serve_forever(customers: int, engineers: int) -> None:
    fake = FakeDiscord()
    fake.echo_own_messages = False  # no gateway session in a delivery-only worker
    await fake.start()
    build(fake, customers, engineers)
    fake.enforce_route_limits(5, 5.0)

    async def stats(request: web.Request) -> web.Response:
        private = [str(i) for i, c in fake.channels.items() if c["type"] == PRIVATE_THREAD]
        calls = [(c.at, c.method, c.path, c.status) for c in fake.calls]
        return web.json_response(
            {
                "seen": seen(fake),
                "rejected": fake.rejected,
                "customer_channels": private,
                "calls": calls,
            }
        )

    app = web.Application()
    app.router.add_get("/_stats", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(fake.port, runner.addresses[0][1], fake.token, flush=True)
    await asyncio.Event().wait()


def identities(kind: str, i: int) -> dict[str, Any]:
    return {"discord": engineer(i) if kind == "engineer" else customer(i)}
