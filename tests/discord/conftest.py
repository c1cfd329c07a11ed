"""Fixtures for the Discord adapter: the real core on SQLite, a fake Discord (REST and
gateway) on 127.0.0.1, and a :class:`DiscordPlatform` connected to it exactly as
``casebot run`` starts it (``Casebot.start_platform``), plus a driver that plays the
users' side over the gateway.

Nothing sleeps on the wall clock: each step injects a gateway event, waits until the
client has read it (its sequence number), until the handlers discord.py started are done,
and until the core's outbox and due timers are quiet. Time is the core's FakeClock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.discord import DiscordPlatform, DiscordSettings
from bot.clock import FakeClock
from bot.config import Config, load_config
from bot.ports import PlatformOptions
from entrypoints.bootstrap import Casebot
from tests.discord.fake_discord import FakeDiscord, InteractionLog, Json

CONFIG = Path(__file__).with_name("casebot.yml")

GUILD = 710000000000000001
CUSTOMER_ROLE = 710000000000000401  # Helix Bio's discord_role in casebot.yml
# People by their Discord ids in casebot.yml, and people casebot does not know.
ROSA, OMAR, INES, KAI, NOOR = (
    710000000000000301,
    710000000000000201,
    710000000000000202,
    710000000000000203,
    710000000000000204,
)
TOMAS = 710000000000000302  # not configured; a Helix Bio member by the account's role
ZED = 710000000000000399  # a member of the server nobody configured, without the role
APPS, ENG = 710000000000000101, 710000000000000102  # the team channels
LOBBY = 710000000000000103  # a channel with nothing to do with casebot
ORBIT_CHANNEL = 710000000000000104  # Orbit Freight's own channel (accounts[].channels)
LENA = 710000000000000303  # Orbit Freight's customer
STAFF = 710000000000000105  # a staff-only channel, for configurations that set one

HANDLER_TASKS = ("discord.py: ", "CommandTree", "discord-ui")


@dataclass
class World:
    bot: Casebot
    fake: FakeDiscord
    platform: DiscordPlatform
    clock: FakeClock
    settings: DiscordSettings
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Config:
        return self.bot.config

    @property
    def client(self) -> Any:
        return self.platform.client

    # -- waiting, without sleeping --------------------------------------------------

    async def settle(self) -> None:
        """Until the client has read every gateway event, its handlers are done and the
        core has nothing left to deliver or fire."""
        for _ in range(200):
            await self._read_all()
            busy = _handler_tasks()
            if busy:
                await asyncio.wait(busy, timeout=10)
                continue
            before = len(self.fake.calls)
            await self.bot.drain()
            await self._read_all()
            if len(self.fake.calls) == before and not _handler_tasks():
                return
        raise AssertionError("the Discord adapter and the core did not settle")

    async def _read_all(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while self.client.ws is None or self.client.ws.sequence != self.fake.seq:
            assert loop.time() < deadline, "the client stopped reading the gateway"
            await asyncio.sleep(0.001)

    async def handled(self) -> None:
        """Until the client has read every gateway event and its handlers are done (the
        core's outbox and timers left alone)."""
        await self._read_all()
        while busy := _handler_tasks():
            await asyncio.wait(busy, timeout=10)
            await self._read_all()

    async def later(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.settle()

    # -- what users do ---------------------------------------------------------------------

    async def send(self, *payloads: Json) -> list[InteractionLog]:
        """Deliver interactions over the gateway (several at once: a double click)."""
        for payload in payloads:
            await self.fake.dispatch("INTERACTION_CREATE", payload)
        await self.settle()
        return [self.fake.interactions[int(p["id"])] for p in payloads]

    async def slash(self, user: int, channel: int, path: str, **options: Any) -> InteractionLog:
        (log,) = await self.send(self.fake.command_interaction(user, channel, path, options))
        return log

    async def typing(
        self, user: int, channel: int, path: str, focus: str, **options: Any
    ) -> InteractionLog:
        payload = self.fake.command_interaction(user, channel, path, options, focus=focus)
        (log,) = await self.send(payload)
        return log

    async def press(self, user: int, message: Json | int, custom_id: str) -> InteractionLog:
        message_id = int(message["id"]) if isinstance(message, dict) else message
        (log,) = await self.send(self.fake.button_interaction(user, message_id, custom_id))
        return log

    async def submit(self, user: int, opened_by: InteractionLog, **values: str) -> InteractionLog:
        (log,) = await self.send(self.fake.modal_interaction(user, opened_by, values))
        return log

    async def say(self, user: int, channel: int, text: str) -> Json:
        event = self.fake.user_message(user, channel, text)
        await self.fake.dispatch("MESSAGE_CREATE", event)
        await self.settle()
        return event

    # -- what Discord now shows ----------------------------------------------------------------

    def case_thread(self, parent: int = APPS) -> int:
        threads = [t for t in self.fake.threads_in(parent) if t["type"] == 12]
        assert threads, f"no private thread in {parent}"
        return int(threads[-1]["id"])

    def embeds(self, channel: int) -> list[Json]:
        return [e for m in self.fake.bot_posts(channel) for e in m.get("embeds", [])]

    def titles(self, channel: int) -> list[str]:
        return [e.get("title") or "" for e in self.embeds(channel)]

    def dm_titles(self, user: int) -> list[str]:
        return [e.get("title") or "" for m in self.fake.dms(user) for e in m.get("embeds", [])]

    def buttons(self, message: Json) -> list[str]:
        return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]

    def last_post_with(self, channel: int, custom_id: str) -> Json:
        for message in reversed(self.fake.bot_posts(channel)):
            if custom_id in self.buttons(message):
                return message
        raise AssertionError(f"no message in {channel} has the button {custom_id}")

    async def restart(self) -> None:
        """Stop the adapter and start a new one (a new process, as far as Discord knows)."""
        await self.stop()
        self.platform = await start(self.bot, self.settings, **self.options)
        await self.settle()

    async def stop(self) -> None:
        await self.bot.stop_platforms()


def _handler_tasks() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [
        t
        for t in asyncio.all_tasks()
        if t is not current and not t.done() and t.get_name().startswith(HANDLER_TASKS)
    ]


def build_server(fake: FakeDiscord, config: Config) -> None:
    """The Discord server the configuration describes, plus two people it does not know."""
    fake.add_guild(GUILD, "Helix")
    fake.add_role(GUILD, CUSTOMER_ROLE, "Helix Bio")
    for team in config.teams:
        channel = team.channels.get("discord")
        if channel:
            fake.add_text_channel(GUILD, int(channel), team.key)
        staff = team.staff_channels.get("discord")
        if staff:
            fake.add_text_channel(GUILD, int(staff), f"{team.key}-staff")
    fake.add_text_channel(GUILD, LOBBY, "lobby")
    for account in config.accounts:
        channel = account.channels.get("discord")
        if channel:
            fake.add_text_channel(GUILD, int(channel), account.key)
    for person in config.people:
        user = person.identities.get("discord")
        if user:
            fake.add_user(int(user), person.id)
            roles = (CUSTOMER_ROLE,) if person.role == "customer" else ()
            fake.add_member(GUILD, int(user), roles)
    fake.add_user(TOMAS, "tomas")
    fake.add_member(GUILD, TOMAS, (CUSTOMER_ROLE,))
    fake.add_user(ZED, "zed")
    fake.add_member(GUILD, ZED)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def config() -> Config:
    return load_config(CONFIG)


def settings_for(fake: FakeDiscord, **changes: Any) -> DiscordSettings:
    values: dict[str, Any] = {
        "token": fake.token,
        "api_base": fake.api_base,
        "gateway_url": fake.gateway_url,
        "guild_ids": (),
    }
    values.update(changes)
    return DiscordSettings(**values)


# Fast for tests: discord.py waits this long after the last GUILD_CREATE before READY.
FAST: dict[str, Any] = {"guild_ready_timeout": 0.01}


async def start(
    bot: Casebot, settings: DiscordSettings, options: PlatformOptions | None = None, **kw: Any
) -> DiscordPlatform:
    """A Discord platform started with the core, as ``casebot run`` starts it."""
    platform = DiscordPlatform(settings, options or PlatformOptions(), **{**FAST, **kw})
    await bot.start_platform(platform)
    return platform


async def make_world(
    bot: Casebot, fake: FakeDiscord, *, build: bool = True, **options: Any
) -> World:
    if build:
        build_server(fake, bot.config)
    settings = options.pop("settings", None) or settings_for(fake)
    options = {**FAST, **options}
    platform = await start(bot, settings, **options)
    assert isinstance(bot.clock, FakeClock)
    world = World(bot, fake, platform, bot.clock, settings, options)
    await world.settle()
    return world


@pytest.fixture
async def world(bot: Casebot, fake: FakeDiscord) -> AsyncIterator[World]:
    w = await make_world(bot, fake)
    try:
        yield w
    finally:
        await w.stop()
