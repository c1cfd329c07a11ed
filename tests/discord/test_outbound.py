"""`casebot worker` delivers to Discord over REST alone: no gateway session, the same
messages in the same places as the connected adapter."""

from __future__ import annotations

from adapters.discord import DiscordPlatform
from bot.exchange import Context
from bot.ports import PlatformOptions
from entrypoints.bootstrap import Casebot
from tests.discord.conftest import APPS, ROSA, build_server, settings_for
from tests.discord.fake_discord import FakeDiscord


async def test_a_worker_delivers_case_messages_without_a_gateway_session(
    bot: Casebot, fake: FakeDiscord
) -> None:
    build_server(fake, bot.config)
    platform = DiscordPlatform(settings_for(fake), PlatformOptions(receive=False))
    await bot.start_platform(platform)
    try:
        assert bot.runtime.platforms["discord"] is platform
        reply = await bot.commands.run(
            Context(platform="discord", user_id=str(ROSA), channel_id=str(APPS), event_id="e1"),
            "open Exports time out since Tuesday",
        )
        assert reply.ok, reply.text
        await bot.drain()
    finally:
        await bot.stop_platforms()
    assert fake.identifies == []  # never connected to the gateway
    assert fake.command_writes == {}  # nor synced /case: that is the receiving process's
    posted = [c for c in fake.calls if c.method == "POST" and "/messages" in c.path]
    assert posted, [(c.method, c.path) for c in fake.calls]
    texts = str([c.body for c in posted])
    assert "Exports time out since Tuesday" in texts
    assert await bot.runtime.failed_outbox() == []
