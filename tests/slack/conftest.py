"""Fixtures for the Slack adapter: the real core on SQLite, the Slack platform started
on it the way ``casebot run`` starts it (serving on 127.0.0.1 over HTTP, or over Socket
Mode), a fake Slack Web API on 127.0.0.1, and a driver that plays Slack's side of the
wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.slack import SlackPlatform, from_env
from adapters.slack.listeners import Listeners
from bot.clock import FakeClock
from bot.config import Config, load_config
from bot.ports import PlatformOptions
from entrypoints.bootstrap import Casebot
from tests.slack.driver import SIGNING_SECRET, SlackDriver
from tests.slack.fake_slack import FakeSlack

CONFIG = Path(__file__).with_name("casebot.yml")

# Slack user ids of the people in casebot.yml, and of people casebot does not know.
CUSTOMER, ENGINEER, ENGINEER2, CSM, LEAD = "U0CARL", "U0EVE", "U0FINN", "U0MAYA", "U0RHEA"
COLLEAGUE = "U0DORA"  # works at the customer, not configured: known by the shared channel
STRANGER = "U0ZED"  # nobody casebot knows
SHARED = "C0UMBRELLA"  # the customer's Slack Connect channel
TRIAGE = "C0APPSTRIAGE"  # the support team's channel
RANDOM = "C0RANDOM"  # a channel with nothing to do with casebot


@dataclass
class World:
    """Everything a Slack test touches."""

    bot: Casebot
    fake: FakeSlack
    slack: SlackDriver
    platform: SlackPlatform
    clock: FakeClock
    sleeps: list[float] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return self.bot.config

    @property
    def listeners(self) -> Listeners:
        assert self.platform.listeners is not None, "the platform receives Slack's requests"
        return self.platform.listeners

    async def settle(self) -> None:
        """Let everything the last request started finish: the adapter's after-ack work,
        then the core's outbox and due timers, until nothing moves."""
        for _ in range(50):
            await self.platform.idle()
            before = len(self.fake.calls)
            await self.bot.drain()
            await self.platform.idle()
            if len(self.fake.calls) == before and self.platform.tasks.busy == 0:
                return
        raise AssertionError("the Slack adapter and the core did not settle")

    async def later(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.settle()

    # -- what the fake workspace now shows ------------------------------------------

    def dm_posts(self, user: str) -> list[dict[str, Any]]:
        return self.fake.posts(self.fake.dm(user))

    def ephemerals(self, user: str) -> list[str]:
        return [e["text"] for e in self.fake.ephemeral if e["user"] == user]

    def last_ephemeral(self, user: str) -> str:
        texts = self.ephemerals(user)
        assert texts, f"{user} was told nothing"
        return texts[-1]

    def opened_views(self) -> list[dict[str, Any]]:
        return list(self.fake.views.values())


def add_people(fake: FakeSlack, config: Config) -> None:
    for person in config.people:
        user = person.identities.get("slack")
        if user:
            fake.add_user(user, person.id, person.name)
    fake.add_user(COLLEAGUE, "dora", "Dora Umbrella", team_id="T0UMBRELLA")
    fake.add_user(STRANGER, "zed", "Zed Nobody")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def config() -> Config:
    return load_config(CONFIG)


def slack_env(fake: FakeSlack, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        **extra,
    }


async def _world(bot: Casebot, fake: FakeSlack, *, socket: bool) -> AsyncIterator[World]:
    add_people(fake, bot.config)
    # Slack's clock is the test's: message times and outbox rows agree.
    fake.clock = lambda: bot.clock.now().timestamp()
    sleeps: list[float] = []

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    env = slack_env(fake, SLACK_APP_TOKEN="xapp-test-token") if socket else slack_env(fake)
    options = PlatformOptions(http=not socket, host="127.0.0.1", port=0)
    platform = from_env(env, options, sleep=no_wait)
    await bot.start_platform(platform)
    assert bot.runtime.platforms["slack"] is platform
    driver = SlackDriver(fake, url=platform.url)
    assert isinstance(bot.clock, FakeClock)
    world = World(bot, fake, driver, platform, bot.clock, sleeps)
    try:
        yield world
    finally:
        await driver.close()
        await bot.stop_platforms()


@pytest.fixture
async def world(bot: Casebot, fake: FakeSlack) -> AsyncIterator[World]:
    """The adapter in HTTP mode."""
    async for w in _world(bot, fake, socket=False):
        yield w


@pytest.fixture
async def socket_world(bot: Casebot, fake: FakeSlack) -> AsyncIterator[World]:
    """The adapter in Socket Mode."""
    async for w in _world(bot, fake, socket=True):
        yield w
