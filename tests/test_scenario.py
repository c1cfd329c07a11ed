"""One life cycle, one script, every platform.

The same steps run on the console (typed lines), on Slack (signed requests in Slack's
wire format against the fake Web API) and on Discord (typed slash-command options and
button presses over the fake gateway). Each platform is a :class:`Stage` that knows how
its people act and what its customer sees; the script knows neither.

The script: a customer opens a case; the lead takes it (a person typed as each platform
types people: an id, a mention, a user option), replicates and asks for information; the
customer answers; the lead proposes a resolution; the customer confirms it with the
button; the customer rates the case. After every step the case is in the state the
state machine says, and at the end the customer's conversation on that platform showed
the question and the resolution.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Config, load_config
from commands.table import find
from entrypoints.bootstrap import Casebot
from storage.models import Case

TESTS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Step:
    who: str  # "customer" or "lead"
    command: str  # a name of commands.table, or "press"
    args: dict[str, Any]
    state: str  # the case's state after the step ("a|b": either)


SCRIPT = [
    Step(
        "customer", "open", {"title": "Webhook deliveries fail with HTTP 500"}, "triaged|assigned"
    ),
    Step("lead", "assign", {"case": "CASE-1", "engineer": "@lead"}, "assigned"),
    Step("lead", "replicating", {"case": "CASE-1"}, "replicating"),
    Step(
        "lead",
        "need-info",
        {"case": "CASE-1", "question": "Which region sends them?"},
        "waiting_on_customer",
    ),
    Step("customer", "reply", {"case": "CASE-1", "text": "eu-west, since Monday"}, "replicating"),
    Step(
        "lead",
        "propose",
        {"case": "CASE-1", "resolution": "Rotate the webhook signing secret"},
        "solution_proposed",
    ),
    Step("customer", "press", {"id": "case:CASE-1:confirm"}, "resolved"),
    Step("customer", "survey", {"case": "CASE-1", "rating": 5}, "resolved"),
]


def as_text(command: str, args: dict[str, Any]) -> str:
    """The typed form of a step, written from the command table's parameters."""
    spec = find(command)
    assert spec is not None, command
    words = [spec.name] + [str(args[p.name]) for p in spec.params if p.name in args]
    return " ".join(words)


class Stage(Protocol):
    bot: Casebot

    async def act(self, who: str, step: Step) -> str:
        """Do the step as that person; return what they were answered."""
        ...

    def customer_saw(self) -> str:
        """Everything the customer's conversation on this platform showed."""
        ...


def person(config: Config, role: str, platform: str, account: str | None = None) -> str:
    for p in config.people:
        if p.role == role and (platform == "console" or platform in p.identities):
            if account is None or p.account == account:
                return p.id
    raise AssertionError(f"no {role} on {platform} in the test configuration")


# -- the console ------------------------------------------------------------------------------


class ConsoleStage:
    def __init__(self, bot: Casebot, platform: Any, out: list[str]) -> None:
        self.bot = bot
        self.platform = platform
        self.out = out
        self.people = {
            "customer": person(bot.config, "customer", "console"),
            "lead": person(bot.config, "lead", "console"),
        }

    async def act(self, who: str, step: Step) -> str:
        session = self.platform.session
        before = len(self.out)
        await session.handle(f"as {self.people[who]}")
        if step.command == "press":
            kind, key, action = step.args["id"].split(":", 2)
            await session.handle(f"press {key} {action}")
        else:
            args = {k: self.people[v[1:]] if v == "@lead" else v for k, v in step.args.items()}
            await session.handle("/case " + as_text(step.command, args))
        return "\n".join(self.out[before:])

    def customer_saw(self) -> str:
        return "\n".join(o for o in self.out if "customer thread" in o.splitlines()[0])


@asynccontextmanager
async def console_stage(bot: Casebot) -> AsyncIterator[ConsoleStage]:
    from adapters.console import ConsolePlatform

    out: list[str] = []
    platform = ConsolePlatform(out.append, settle=bot.drain)
    await bot.start_platform(platform)
    yield ConsoleStage(bot, platform, out)


# -- Discord ------------------------------------------------------------------------------------


class DiscordStage:
    def __init__(self, world: Any) -> None:
        from tests.discord.conftest import APPS

        self.world = world
        self.bot = world.bot
        self.channel = APPS
        config = world.config
        self.people = {
            "customer": int(
                config.person(person(config, "customer", "discord")).identities["discord"]
            ),
            "lead": int(config.person(person(config, "lead", "discord")).identities["discord"]),
        }

    async def act(self, who: str, step: Step) -> str:
        user = self.people[who]
        if step.command == "press":
            thread = self.world.case_thread(self.channel)
            message = self.world.last_post_with(thread, step.args["id"])
            log = await self.world.press(user, message, step.args["id"])
        else:
            spec = find(step.command)
            assert spec is not None
            path = " ".join(filter(None, [spec.group or spec.section, spec.word]))
            args = {k: self.people[v[1:]] if v == "@lead" else v for k, v in step.args.items()}
            log = await self.world.slash(user, self.channel, path, **args)
        return str(log.text())

    def customer_saw(self) -> str:
        from tests.discord.fake_discord import displayed

        thread = self.world.case_thread(self.channel)
        parts = []
        for m in self.world.fake.bot_posts(thread):
            parts.append(displayed(m.get("content") or ""))
            for e in m.get("embeds", []):
                parts.append(displayed(e.get("title") or ""))
                parts.append(displayed(e.get("description") or ""))
                parts += [displayed(f.get("value") or "") for f in e.get("fields", [])]
        return "\n".join(parts)


@asynccontextmanager
async def discord_stage(bot: Casebot) -> AsyncIterator[DiscordStage]:
    from tests.discord.conftest import make_world
    from tests.discord.fake_discord import FakeDiscord

    fake = FakeDiscord()
    await fake.start()
    try:
        world = await make_world(bot, fake)
        try:
            yield DiscordStage(world)
        finally:
            await world.stop()
    finally:
        await fake.stop()


# -- Slack ------------------------------------------------------------------------------------


class SlackStage:
    """Signed slash commands in the customer's shared channel; the customer's case
    thread is where the bot's reply messages land in that channel."""

    def __init__(self, world: Any) -> None:
        from tests.slack.conftest import SHARED

        self.world = world
        self.bot = world.bot
        self.channel = SHARED
        config = world.config
        self.people = {
            role: str(config.person(person(config, role, "slack")).identities["slack"])
            for role in ("customer", "lead")
        }

    def _posts(self) -> list[dict[str, Any]]:
        return list(self.world.fake.posts(self.channel))

    async def act(self, who: str, step: Step) -> str:
        user = self.people[who]
        if step.command == "press":
            wanted = step.args["id"]
            message = next(
                m
                for m in reversed(self._posts())
                for b in m.get("blocks", [])
                if b.get("type") == "actions"
                for e in b["elements"]
                if e.get("action_id") == wanted
            )
            await self.world.slack.click(user, self.channel, message, wanted)
        else:
            args = {
                k: f"<@{self.people[v[1:]]}>" if v == "@lead" else v for k, v in step.args.items()
            }
            await self.world.slack.command(user, as_text(step.command, args), channel=self.channel)
        await self.world.settle()
        told = self.world.ephemerals(user)
        return told[-1] if told else ""

    def customer_saw(self) -> str:
        parts = []
        for m in self._posts():
            parts.append(m.get("text") or "")
            for b in m.get("blocks", []):
                text = b.get("text")
                if isinstance(text, dict):
                    parts.append(text.get("text") or "")
                for f in b.get("fields", []) or []:
                    parts.append(f.get("text") or "")
        return "\n".join(parts)


@asynccontextmanager
async def slack_stage(bot: Casebot) -> AsyncIterator[SlackStage]:
    from tests.slack.conftest import _world
    from tests.slack.fake_slack import FakeSlack

    fake = FakeSlack()
    await fake.start()
    try:
        async for world in _world(bot, fake, socket=False):
            yield SlackStage(world)
    finally:
        await fake.stop()


STAGES: dict[str, tuple[Path, Callable[[Casebot], Any]]] = {
    "slack": (TESTS / "slack" / "casebot.yml", slack_stage),
    "console": (TESTS / "casebot-test.yml", console_stage),
    "discord": (TESTS / "discord" / "casebot.yml", discord_stage),
}


@pytest.mark.parametrize("platform", sorted(STAGES))
async def test_the_same_life_cycle_on_every_platform(
    platform: str, sqlite_template: Path, tmp_path: Path
) -> None:
    import shutil

    config_path, make_stage = STAGES[platform]
    path = tmp_path / "casebot.db"
    shutil.copy(sqlite_template, path)
    bot = await Casebot.create(
        load_config(config_path), f"sqlite+aiosqlite:///{path}", clock=FakeClock(), migrate=False
    )
    try:
        async with make_stage(bot) as stage:
            for step in SCRIPT:
                answer = await stage.act(step.who, step)
                async with bot.db.read() as s:
                    case = (await s.scalars(select(Case).where(Case.key == "CASE-1"))).one()
                assert case.state in step.state.split("|"), (platform, step, answer)
            saw = stage.customer_saw()
            assert "Which region sends them?" in saw, saw
            assert "Rotate the webhook signing secret" in saw, saw
            async with bot.db.read() as s:
                case = (await s.scalars(select(Case).where(Case.key == "CASE-1"))).one()
            assert case.close_reason == "resolved"
    finally:
        await bot.close()
