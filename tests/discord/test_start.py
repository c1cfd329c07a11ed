"""Starting the adapter over the gateway, its intents, and syncing /case only when it
changed."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import discord
import pytest
from discord.http import Route

import adapters.discord
from adapters.discord import PRIVILEGED_HELP, DiscordPlatform, sync_commands
from adapters.discord.client import casebot_intents
from adapters.discord.sync import same_commands
from bot.ports import Platform, PlatformError, PlatformOptions
from entrypoints.bootstrap import Casebot
from entrypoints.platforms import build, module
from tests.discord.conftest import (
    APPS,
    ENG,
    GUILD,
    OMAR,
    World,
    build_server,
    make_world,
    settings_for,
    start,
)
from tests.discord.fake_discord import FakeDiscord

GUILDS, GUILD_MESSAGES, DM_MESSAGES, MESSAGE_CONTENT = 1 << 0, 1 << 9, 1 << 12, 1 << 15


async def test_it_identifies_with_only_the_intents_it_needs(world: World) -> None:
    identify = world.fake.identifies[-1]
    assert identify["token"] == world.fake.token
    assert identify["intents"] == GUILDS | GUILD_MESSAGES | DM_MESSAGES | MESSAGE_CONTENT
    assert casebot_intents().value == identify["intents"]
    assert world.client.is_ready()
    assert world.client.get_guild(GUILD) is not None  # GUILD_CREATE was read


async def test_commands_are_synced_to_the_server_of_the_team_channels(world: World) -> None:
    fake = world.fake
    assert fake.command_writes == {GUILD: 1}
    (case,) = fake.commands[GUILD]
    subcommands = {o["name"] for o in case["options"]}
    assert {
        "open",
        "list",
        "show",
        "reply",
        "escalate",
        "feedback",
        "claim",
        "need-info",
        "propose",
        "ack",
    } <= subcommands
    assert {"eng", "kb", "triage"} <= subcommands
    assert world.platform.sync_report == [f"guild {GUILD}: synced /case"]


async def test_a_restart_does_not_sync_unchanged_commands(world: World) -> None:
    await world.restart()
    fake = world.fake
    assert fake.command_writes == {GUILD: 1}
    assert len(fake.requests("GET", rf"/applications/\d+/guilds/{GUILD}/commands")) == 2
    assert world.platform.sync_report == [f"guild {GUILD}: unchanged, not synced"]


async def test_commands_changed_elsewhere_are_synced_again(world: World) -> None:
    world.fake.commands[GUILD][0]["options"].pop()  # someone removed a subcommand
    await world.restart()
    assert world.fake.command_writes == {GUILD: 2}


async def test_configured_guild_ids_win_over_the_team_channels(
    bot: Casebot, fake: FakeDiscord
) -> None:
    other = 710000000000000009
    fake.add_guild(other, "Elsewhere")
    w = await make_world(bot, fake, settings=settings_for(fake, guild_ids=(other,)))
    try:
        assert fake.command_writes == {other: 1}
    finally:
        await w.stop()


async def test_sync_on_request_globally_and_only_when_changed(
    bot: Casebot, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_server(fake, bot.config)
    monkeypatch.setenv("DISCORD_TOKEN", fake.token)
    monkeypatch.setenv("DISCORD_API_BASE", fake.api_base)
    monkeypatch.delenv("DISCORD_GUILD_IDS", raising=False)
    base = Route.BASE
    config = bot.config  # the CLI has a configuration, not a running casebot
    assert await sync_commands(config, global_=True) == "global commands: synced /case"
    assert await sync_commands(config, global_=True) == "global commands: unchanged, not synced"
    assert fake.command_writes == {None: 1}
    assert not fake.connections  # REST only: no gateway session for a sync
    # Without DISCORD_GUILD_IDS the guilds are found from the team channels, over REST.
    assert await sync_commands(config, global_=False) == f"guild {GUILD}: synced /case"
    assert fake.requests("GET", f"/channels/{APPS}")
    assert Route.BASE == base  # discord.py's endpoints are put back


async def test_the_comparison_ignores_what_discord_adds() -> None:
    mine = [
        {
            "name": "case",
            "description": "d",
            "type": 1,
            "nsfw": False,
            "dm_permission": True,
            "default_member_permissions": None,
            "contexts": [0, 1],
            "integration_types": [0],
            "options": [
                {"type": 1, "name": "help", "description": "h", "options": []},
                {
                    "type": 3,
                    "name": "case",
                    "description": "c",
                    "required": False,
                    "autocomplete": True,
                },
            ],
        }
    ]
    theirs = [
        {
            "id": "1",
            "application_id": "2",
            "version": "3",
            "guild_id": "4",
            "name": "case",
            "description": "d",
            "type": 1,
            "name_localizations": None,
            "default_member_permissions": None,
            "options": [
                {"type": 1, "name": "help", "description": "h"},
                {"type": 3, "name": "case", "description": "c", "autocomplete": True},
            ],
        }
    ]
    assert same_commands(mine, theirs, guild=True)
    assert not same_commands(mine, [], guild=True)
    changed: Any = [{**theirs[0], "description": "other"}]
    assert not same_commands(mine, changed, guild=True)
    extra = theirs + [{**theirs[0], "name": "ticket"}]
    assert not same_commands(mine, extra, guild=True)
    assert not same_commands(mine, [{**theirs[0], "contexts": [0]}], guild=False)


async def test_a_bad_token_fails_at_start(bot: Casebot, fake: FakeDiscord) -> None:
    build_server(fake, bot.config)
    base = Route.BASE
    with pytest.raises(PlatformError, match="Discord refused DISCORD_TOKEN") as caught:
        await start(bot, settings_for(fake, token="wrong"))
    assert "\n" not in str(caught.value)  # one line, for `casebot run` to print
    assert isinstance(caught.value.__cause__, discord.LoginFailure)
    assert Route.BASE == base
    assert "discord" not in bot.runtime.platforms and bot.running == []
    # The same for `casebot discord sync`.
    with pytest.raises(PlatformError, match="Discord refused DISCORD_TOKEN"):
        await sync_commands(bot.config, global_=True, settings=settings_for(fake, token="wrong"))
    assert Route.BASE == base


async def test_without_a_token_discord_says_what_to_set(bot: Casebot) -> None:
    assert not adapters.discord.configured({})
    with pytest.raises(PlatformError, match="DISCORD_TOKEN is not set"):
        build("discord", {}, PlatformOptions())
    with pytest.raises(PlatformError, match="DISCORD_GUILD_IDS"):
        build("discord", {"DISCORD_TOKEN": "t", "DISCORD_GUILD_IDS": "x"}, PlatformOptions())
    assert module("discord") is adapters.discord


async def test_the_gateway_closing_while_starting_is_a_platform_error(
    bot: Casebot, fake: FakeDiscord
) -> None:
    build_server(fake, bot.config)
    base = Route.BASE
    fake.close_at_identify = 4011  # "sharding required": discord.py gives up
    with pytest.raises(PlatformError, match="the Discord gateway closed while starting"):
        await start(bot, settings_for(fake))
    assert Route.BASE == base
    assert "discord" not in bot.runtime.platforms
    fake.close_at_identify = 4004  # the token was revoked between login and IDENTIFY
    with pytest.raises(PlatformError, match="Discord refused DISCORD_TOKEN"):
        await start(bot, settings_for(fake))


async def test_a_refused_privileged_intent_says_how_to_enable_it(
    bot: Casebot, fake: FakeDiscord
) -> None:
    build_server(fake, bot.config)
    fake.refuse_privileged_intents = True
    with pytest.raises(PlatformError, match="Message Content Intent") as caught:
        await start(bot, settings_for(fake))
    assert str(caught.value) == PRIVILEGED_HELP
    assert "discord" not in bot.runtime.platforms


async def test_heartbeats_are_answered(bot: Casebot, fake: FakeDiscord) -> None:
    fake.heartbeat_interval = 20  # milliseconds
    w = await make_world(bot, fake)
    try:
        for _ in range(400):
            if fake.heartbeats >= 2:
                break
            await asyncio.sleep(0.005)
        assert fake.heartbeats >= 2
        assert w.client.latency < 1
    finally:
        await w.stop()


async def test_it_resumes_when_discord_asks_it_to_reconnect(world: World) -> None:
    await world.fake.reconnect_request()
    for _ in range(400):
        if world.fake.resumes and world.fake.connections and not world.fake.connection.ws.closed:
            break
        await asyncio.sleep(0.005)
    assert world.fake.resumes == 1
    assert len(world.fake.identifies) == 1  # resumed, not a new session
    await world.settle()
    log = await world.slash(OMAR, APPS, "queue")
    assert log.callbacks and log.ephemeral()


async def test_a_server_joined_while_running_gets_the_commands(
    bot: Casebot, fake: FakeDiscord
) -> None:
    build_server(fake, bot.config)
    later = 710000000000000002
    fake.add_guild(later, "Engineering", joined=False)
    fake.channels[ENG]["guild_id"] = str(later)  # the engineering team's channel is there
    w = await make_world(bot, fake, build=False)
    try:
        assert fake.command_writes == {GUILD: 1}
        await fake.join(later)
        await w.settle()
        assert fake.command_writes == {GUILD: 1, later: 1}
        # A server without a team channel is left alone.
        fake.add_guild(710000000000000003, "Unrelated", joined=False)
        await fake.join(710000000000000003)
        await w.settle()
        assert 710000000000000003 not in fake.command_writes
    finally:
        await w.stop()


async def test_missing_access_to_a_guild_is_reported_not_fatal(
    bot: Casebot, fake: FakeDiscord
) -> None:
    w = await make_world(
        bot, fake, settings=settings_for(fake, guild_ids=(GUILD, 710000000000000008))
    )
    try:
        assert w.platform.sync_report[0] == f"guild {GUILD}: synced /case"
        assert (
            "not allowed" in w.platform.sync_report[1]
            and "applications.commands" in w.platform.sync_report[1]
        )
    finally:
        await w.stop()


async def test_start_reads_the_environment_as_casebot_run_does(
    bot: Casebot, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_server(fake, bot.config)
    monkeypatch.setenv("DISCORD_TOKEN", fake.token)
    monkeypatch.setenv("DISCORD_API_BASE", f"http://127.0.0.1:{fake.port}")  # no /api/v10
    monkeypatch.setenv("DISCORD_GATEWAY_URL", fake.gateway_url)
    monkeypatch.setenv("DISCORD_GUILD_IDS", str(GUILD))
    base = Route.BASE
    platform = build("discord", os.environ, PlatformOptions())
    assert isinstance(platform, DiscordPlatform) and isinstance(platform, Platform)
    platform.guild_ready_timeout = 0.01
    await bot.start_platform(platform)
    client = platform.client
    assert client is not None
    finished = asyncio.ensure_future(platform.finished())
    try:
        assert bot.runtime.platforms["discord"] is platform
        assert fake.identifies and fake.command_writes == {GUILD: 1}
        assert Route.BASE == fake.api_base
        await asyncio.sleep(0.01)
        assert not finished.done()  # Discord does not end by itself
    finally:
        await bot.stop_platforms()
    await asyncio.wait_for(finished, 5)  # … and is finished once stopped
    assert Route.BASE == base
    assert client.is_closed()
    assert "discord" not in bot.runtime.platforms
