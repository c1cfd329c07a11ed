"""Starting the Slack platform from the environment, and what it says when it cannot."""

from __future__ import annotations

import asyncio
import socket

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack import SlackEnv, SlackPlatform, configured, from_env
from adapters.slack.client import api_base_url, delivery_error
from bot.messages import Kind, Message, Target
from bot.ports import DeliveryContext, DeliveryError, Platform, PlatformError, PlatformOptions
from entrypoints.bootstrap import Casebot
from entrypoints.platforms import build, wanted
from tests.slack.conftest import ENGINEER, add_people, slack_env
from tests.slack.fake_slack import FakeSlack

HTTP = PlatformOptions(http=True, host="127.0.0.1", port=0)


def test_slack_is_configured_by_its_bot_token() -> None:
    assert configured({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert not configured({"SLACK_BOT_TOKEN": "  "})
    assert not configured({})
    assert wanted([], {"SLACK_BOT_TOKEN": "xoxb-1"}) == ["slack"]


def test_the_registry_builds_the_slack_platform(fake: FakeSlack) -> None:
    platform = build("slack", slack_env(fake), HTTP)
    assert isinstance(platform, SlackPlatform) and isinstance(platform, Platform)
    assert platform.name == "slack" and platform.mode == "http"


@pytest.mark.parametrize(
    ("value", "base"),
    [
        (None, "https://slack.com/api/"),
        ("", "https://slack.com/api/"),
        ("https://proxy.example/slack/api", "https://proxy.example/slack/api/"),
        ("http://127.0.0.1:9/api/", "http://127.0.0.1:9/api/"),
    ],
)
def test_the_api_url_gets_the_trailing_slash_slack_sdk_needs(value: str | None, base: str) -> None:
    assert api_base_url(value) == base


def test_missing_credentials_are_named_before_anything_starts(fake: FakeSlack) -> None:
    with pytest.raises(PlatformError, match="SLACK_BOT_TOKEN is not set"):
        from_env({}, HTTP)
    env = slack_env(fake)
    del env["SLACK_SIGNING_SECRET"]
    with pytest.raises(PlatformError, match="SLACK_SIGNING_SECRET is not set"):
        from_env(env, HTTP)
    # Socket Mode and delivery only need no signing secret.
    assert from_env({**env, "SLACK_APP_TOKEN": "xapp-1"}, PlatformOptions()).mode == "socket"
    assert from_env(env, PlatformOptions(receive=False)).mode == "outbound"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _refused(bot: Casebot, platform: SlackPlatform, reason: str) -> None:
    with pytest.raises(PlatformError, match=reason) as refused:
        await bot.start_platform(platform)
    assert "\n" not in str(refused.value)  # the CLI prints it as one line


async def test_start_up_checks_the_token_and_says_what_to_fix(
    bot: Casebot, fake: FakeSlack
) -> None:
    refused = from_env({**slack_env(fake), "SLACK_BOT_TOKEN": "not-a-bot-token"}, HTTP)
    await _refused(bot, refused, r"^Slack refused SLACK_BOT_TOKEN \(not_authed\): check the token")
    offline_url = f"http://127.0.0.1:{_closed_port()}/api/"
    offline = from_env({**slack_env(fake), "SLACK_API_URL": offline_url}, HTTP)
    await _refused(bot, offline, f"^Slack's Web API at {offline_url} is unreachable: ")
    no_socket = from_env(slack_env(fake, SLACK_APP_TOKEN="not-an-app-token"), PlatformOptions())
    await _refused(bot, no_socket, r"^Socket Mode did not connect \(.*\): check SLACK_APP_TOKEN")
    assert "slack" not in bot.runtime.platforms and bot.running == []
    assert fake.sockets == []


async def test_a_socket_that_never_opens_is_reported_not_waited_for(
    bot: Casebot, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = f"ws://127.0.0.1:{_closed_port()}/link/"
    monkeypatch.setattr(fake, "_apps_connections_open", lambda params: {"url": nowhere})
    env = SlackEnv.read(slack_env(fake, SLACK_APP_TOKEN="xapp-test-token"))
    platform = SlackPlatform(env, PlatformOptions(), connect_timeout=0.3)
    await _refused(bot, platform, r"^Socket Mode did not connect \(no connection in time\)")
    assert bot.running == []


async def test_http_mode_wins_over_socket_mode_when_asked(bot: Casebot, fake: FakeSlack) -> None:
    platform = from_env(slack_env(fake, SLACK_APP_TOKEN="xapp-test-token"), HTTP)
    await bot.start_platform(platform)
    try:
        assert platform.mode == "http" and platform.port
        assert platform.url == f"http://127.0.0.1:{platform.port}"
        assert [c.method for c in fake.calls] == ["auth.test"]  # checked at start-up
        assert bot.runtime.platforms["slack"] is platform
    finally:
        await bot.stop_platforms()
    assert "slack" not in bot.runtime.platforms


async def test_finished_returns_only_once_stopped(bot: Casebot, fake: FakeSlack) -> None:
    platform = from_env(slack_env(fake), HTTP)
    await bot.start_platform(platform)
    finished = asyncio.ensure_future(platform.finished())
    await asyncio.sleep(0.05)
    assert not finished.done()
    await bot.stop_platforms()
    await asyncio.wait_for(finished, 1)
    with pytest.raises(DeliveryError) as stopped:  # the outbox will try again later
        await platform.deliver(_ping(), DeliveryContext(address=ENGINEER))
    assert stopped.value.retry_after and not stopped.value.permanent


def _ping() -> Message:
    return Message(Kind.ALERT, Target.person("eve"), "Heads up", "The nightly export failed.")


async def test_a_delivery_only_platform_delivers_without_listening(
    bot: Casebot, fake: FakeSlack
) -> None:
    """``casebot worker``: the Web API client only (no auth.test, no server, no socket),
    and messages go where the delivery context says."""
    add_people(fake, bot.config)
    env = slack_env(fake, SLACK_APP_TOKEN="xapp-test-token")
    del env["SLACK_SIGNING_SECRET"]
    platform = from_env(env, PlatformOptions(receive=False))
    await bot.start_platform(platform)
    try:
        assert platform.mode == "outbound" and platform.url is None
        assert platform.listeners is None and fake.calls == []
        ref = await platform.deliver(_ping(), DeliveryContext(address=ENGINEER))
        assert ref is not None and ref.channel == fake.dm(ENGINEER)
        (posted,) = fake.posts(fake.dm(ENGINEER))
        assert "The nightly export failed." in posted["text"]
        assert [c.method for c in fake.calls] == ["conversations.open", "chat.postMessage"]
        with pytest.raises(DeliveryError) as nowhere:  # the core found no Slack user
            await platform.deliver(_ping(), DeliveryContext())
        assert nowhere.value.permanent
    finally:
        await bot.stop_platforms()


def _error(
    status: int, data: dict[str, object], headers: dict[str, object] | None = None
) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,  # type: ignore[arg-type]
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data=data,
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("failed", response)


def test_failed_calls_tell_the_outbox_when_to_retry_or_to_give_up() -> None:
    limited = delivery_error(
        _error(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": ["30"]})
    )
    assert limited.retry_after == 30.0 and not limited.permanent
    gone = delivery_error(_error(200, {"ok": False, "error": "channel_not_found"}))
    assert gone.permanent
    flaky = delivery_error(_error(200, {"ok": False, "error": "internal_error"}))
    assert not flaky.permanent and flaky.retry_after is None
    offline = delivery_error(ConnectionResetError("reset"))
    assert not offline.permanent and "could not be reached" in str(offline)
