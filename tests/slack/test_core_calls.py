"""The adapter reaches the core only through ``bot.ports.Core``: started with a stand-in
that records each call (no Casebot, no database), every kind of Slack request becomes
the one core call it should, with Slack's ids passed through as the core wrote them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackPlatform, from_env
from bot.config import Config
from bot.exchange import CaseLine, Context, HomeView, Prompt, PromptField, Reply
from bot.messages import Action, Kind, Message, Target
from bot.ports import Core, DeliveryContext, PlatformOptions
from tests.slack.conftest import CUSTOMER, ENGINEER, SHARED, TRIAGE, add_people, slack_env
from tests.slack.driver import SlackDriver
from tests.slack.fake_slack import FakeSlack, shown

REASON = Prompt("reject:CASE-1", "Why not?", (PromptField("reason", "Reason", "textarea"),))


class RecordingCore:
    """A :class:`Core` that answers every call and remembers it."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self.calls: list[tuple[str, Context, tuple[Any, ...]]] = []

    @property
    def config(self) -> Config:
        return self._config

    async def run(self, ctx: Context, text: str) -> Reply:
        self.calls.append(("run", ctx, (text,)))
        if text == "reject":
            return Reply(text="", prompt=REASON)
        return Reply(text=f"ran {text}")

    async def invoke(self, ctx: Context, name: str, args: Mapping[str, Any]) -> Reply:
        self.calls.append(("invoke", ctx, (name, dict(args))))
        return Reply(text="invoked")

    async def press(self, ctx: Context, action_id: str, value: str | None = None) -> Reply:
        self.calls.append(("press", ctx, (action_id, value)))
        return Reply(text="pressed")

    async def submit(self, ctx: Context, form_id: str, values: Mapping[str, str]) -> Reply:
        self.calls.append(("submit", ctx, (form_id, dict(values))))
        return Reply(text="submitted")

    async def thread_message(self, ctx: Context, text: str) -> Reply | None:
        self.calls.append(("thread_message", ctx, (text,)))
        return Reply(text="noted")

    async def autocomplete(self, ctx: Context, prefix: str) -> list[tuple[str, str]]:
        return []

    async def home(self, ctx: Context) -> HomeView:
        self.calls.append(("home", ctx, ()))
        line = CaseLine("CASE-1", "Sync stalls", "triaged", "S2", "Umbrella Labs")
        return HomeView("Carl's cases", [("Open", [line])])

    def open_form(self) -> Prompt:
        return REASON

    def last(self, name: str) -> tuple[Context, tuple[Any, ...]]:
        found = [(ctx, args) for n, ctx, args in self.calls if n == name]
        assert found, f"the core got no {name} call: {self.calls}"
        return found[-1]


@dataclass
class Rig:
    core: RecordingCore
    platform: SlackPlatform
    slack: SlackDriver
    fake: FakeSlack

    async def idle(self) -> None:
        await self.platform.idle()


@pytest.fixture
async def rig(config: Config, fake: FakeSlack) -> AsyncIterator[Rig]:
    add_people(fake, config)
    core = RecordingCore(config)
    _: Core = core  # it is one
    platform = from_env(slack_env(fake), PlatformOptions(http=True, host="127.0.0.1", port=0))
    await platform.start(core)
    driver = SlackDriver(fake, url=platform.url)
    try:
        yield Rig(core, platform, driver, fake)
    finally:
        await driver.close()
        await platform.stop()


async def test_a_command_is_run_with_slack_mentions_as_the_core_reads_them(rig: Rig) -> None:
    await rig.slack.command(ENGINEER, "assign CASE-1 <@U0FINN|finn> &amp; co", channel=TRIAGE)
    await rig.idle()
    ctx, (text,) = rig.core.last("run")
    assert text == "assign CASE-1 <@U0FINN> & co"
    assert (ctx.platform, ctx.user_id, ctx.channel_id) == ("slack", ENGINEER, TRIAGE)
    assert ctx.user_name == "Eve Laurent" and (ctx.event_id or "").startswith("slack:command:")
    assert rig.fake.ephemeral[-1]["text"] == "ran assign CASE-1 &lt;@U0FINN&gt; &amp; co"


async def test_a_button_is_pressed_with_the_action_id_the_core_wrote(rig: Rig) -> None:
    alert = Message(
        Kind.TRIAGE_ALERT,
        Target.team("apps"),
        "New case CASE-1",
        actions=[Action("case:CASE-1:claim", "Claim"), Action("case:CASE-1:rate:4", "4")],
        case_key="CASE-1",
    )
    ref = await rig.platform.deliver(alert, DeliveryContext(address=TRIAGE))
    assert ref is not None and ref.channel == TRIAGE
    posted = rig.fake.message(TRIAGE, ref.message_id)
    for action_id in ("case:CASE-1:claim", "case:CASE-1:rate:4"):
        await rig.slack.click(ENGINEER, TRIAGE, posted, action_id)
        await rig.idle()
        ctx, args = rig.core.last("press")
        assert args == (action_id, None)
        assert (ctx.user_id, ctx.channel_id) == (ENGINEER, TRIAGE)


async def test_a_form_the_core_asks_for_comes_back_to_submit(rig: Rig) -> None:
    await rig.slack.command(CUSTOMER, "reject", channel=SHARED)
    await rig.idle()
    (view,) = rig.fake.views.values()
    assert view["callback_id"] == "casebot:reject:CASE-1"
    answer = await rig.slack.submit(CUSTOMER, view, {"reason": "Still late"})
    assert answer.status == 200
    await rig.idle()
    ctx, args = rig.core.last("submit")
    assert args == ("reject:CASE-1", {"reason": "Still late"})
    assert (ctx.user_id, ctx.channel_id) == (CUSTOMER, SHARED)  # from the modal's metadata


async def test_messages_and_the_app_home_reach_their_core_calls(rig: Rig) -> None:
    msg, _ = await rig.slack.say(CUSTOMER, SHARED, "Seen again at 10:02", thread_ts="1.000001")
    await rig.idle()
    ctx, (text,) = rig.core.last("thread_message")
    assert text == "Seen again at 10:02"
    assert (ctx.channel_id, ctx.thread_id) == (SHARED, "1.000001")
    assert (SHARED, msg["ts"], "white_check_mark") in rig.fake.reactions

    await rig.slack.open_home(CUSTOMER)
    await rig.idle()
    ctx, _ = rig.core.last("home")
    assert ctx.user_id == CUSTOMER
    home = shown(rig.fake.homes[CUSTOMER]["blocks"])
    assert "Carl's cases" in home and "CASE-1 Sync stalls\n" in home


async def test_delivery_pings_exactly_the_users_the_core_resolved(rig: Rig) -> None:
    ping = Message(
        Kind.ASSIGNMENT_PING,
        Target.person("eve"),
        "CASE-1 is yours",
        text="cc <@U0FINN>",
        mentions=["eve"],
    )
    ref = await rig.platform.deliver(
        ping, DeliveryContext(address=ENGINEER, mention_users=(ENGINEER,))
    )
    assert ref is not None and ref.channel == rig.fake.dm(ENGINEER)
    (posted,) = rig.fake.posts(rig.fake.dm(ENGINEER))
    assert posted["text"].startswith(f"<@{ENGINEER}> CASE-1 is yours")
    assert "&lt;@U0FINN&gt;" in posted["text"]


async def test_slack_mounts_on_the_process_web_server_beside_other_surfaces(
    config: Config, fake: FakeSlack
) -> None:
    """One port for everything: Slack's events and another surface's page share the
    process's server, and /healthz reports both."""
    from aiohttp import web

    from adapters.web import WebServer

    add_people(fake, config)
    core = RecordingCore(config)
    server = WebServer("127.0.0.1", 0, public_url="https://support.example.com")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="another surface")

    server.add("GET", "/other", page)
    server.health("other", lambda: {"ok": True, "pages": 1})
    platform = from_env(
        slack_env(fake), PlatformOptions(http=True, host="127.0.0.1", port=0, web=server)
    )
    await platform.start(core)
    await server.start()
    driver = SlackDriver(fake, url=server.url)
    try:
        await driver.command(ENGINEER, "help", channel=TRIAGE)
        await platform.idle()
        assert core.last("run")[1] == ("help",)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/other") as resp:
                assert await resp.text() == "another surface"
            async with http.get(f"{server.url}/healthz") as resp:
                health = await resp.json()
        assert health["ok"] and health["other"] == {"ok": True, "pages": 1}
        assert health["slack"]["mode"] == "http"
        assert server.public_url == "https://support.example.com"
    finally:
        await driver.close()
        await platform.stop()
        await server.stop()
