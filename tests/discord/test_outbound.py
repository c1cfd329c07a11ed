"""`casebot worker` delivers to Discord over REST alone: no gateway session, the same
messages in the same places as the connected adapter."""

from __future__ import annotations

from adapters.discord import start_outbound
from bot.app import Casebot
from commands.api import Context
from tests.discord.conftest import APPS, ROSA, build_server, settings_for
from tests.discord.fake_discord import FakeDiscord


async def test_a_worker_delivers_case_messages_without_a_gateway_session(
    bot: Casebot, fake: FakeDiscord
) -> None:
    build_server(fake, bot.config)
    close = await start_outbound(bot, settings=settings_for(fake))
    try:
        reply = await bot.commands.run(
            Context(platform="discord", user_id=str(ROSA), channel_id=str(APPS), event_id="e1"),
            "open Exports time out since Tuesday",
        )
        assert reply.ok, reply.text
        await bot.drain()
    finally:
        await close()
    assert fake.identifies == []  # never connected to the gateway
    posted = [c for c in fake.calls if c.method == "POST" and "/messages" in c.path]
    assert posted, [(c.method, c.path) for c in fake.calls]
    texts = str([c.body for c in posted])
    assert "Exports time out since Tuesday" in texts
    assert await bot.failed_outbox() == []
