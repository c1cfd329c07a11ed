"""Starting the adapter from the environment, and what it says when it cannot."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack import SlackStartError, slack_configured, start_slack
from adapters.slack.client import api_base_url, delivery_error
from bot.app import Casebot
from tests.slack.conftest import slack_env
from tests.slack.fake_slack import FakeSlack


def test_slack_is_configured_by_its_bot_token() -> None:
    assert slack_configured({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert not slack_configured({"SLACK_BOT_TOKEN": "  "})
    assert not slack_configured({})


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


async def test_start_up_checks_the_token_and_says_what_to_fix(
    bot: Casebot, fake: FakeSlack
) -> None:
    with pytest.raises(SlackStartError, match="SLACK_BOT_TOKEN is not set"):
        await start_slack(bot, http=True, host="127.0.0.1", port=0, environ={})
    with pytest.raises(SlackStartError, match="SLACK_SIGNING_SECRET is not set"):
        env = slack_env(fake)
        del env["SLACK_SIGNING_SECRET"]
        await start_slack(bot, http=True, host="127.0.0.1", port=0, environ=env)
    with pytest.raises(SlackStartError, match=r"Slack refused SLACK_BOT_TOKEN \(not_authed\)"):
        env = {**slack_env(fake), "SLACK_BOT_TOKEN": "not-a-bot-token"}
        await start_slack(bot, http=True, host="127.0.0.1", port=0, environ=env)
    assert "slack" not in bot.adapters


async def test_http_mode_wins_over_socket_mode_when_asked(bot: Casebot, fake: FakeSlack) -> None:
    env = slack_env(fake, SLACK_APP_TOKEN="xapp-test-token")
    runner = await start_slack(bot, http=True, host="127.0.0.1", port=0, environ=env)
    try:
        assert runner.mode == "http" and runner.port
        assert [c.method for c in fake.calls] == ["auth.test"]  # checked at start-up
        assert bot.adapters["slack"] is runner.adapter
    finally:
        await runner.stop()


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
