"""Exactly one effect per delivery, polite refusals, no mention injection, and 429s
that delay but never drop."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from adapters.common import RecentKeys
from tests.slack.conftest import (
    COLLEAGUE,
    CUSTOMER,
    ENGINEER,
    ENGINEER2,
    RANDOM,
    SHARED,
    STRANGER,
    TRIAGE,
    World,
)
from tests.slack.driver import wire


async def open_case(
    world: World, title: str = "Sync stalls"
) -> tuple[dict[str, Any], dict[str, Any]]:
    await world.slack.command(CUSTOMER, f"open {title}", channel=SHARED)
    await world.settle()
    return world.fake.posts(SHARED, top=True)[-1], world.fake.posts(TRIAGE, top=True)[-1]


# ---------------------------------------------------------------------- re-deliveries


async def test_a_redelivered_event_has_one_effect(world: World) -> None:
    case_message, _ = await open_case(world)
    msg = world.fake.store_user_message(SHARED, CUSTOMER, "It is eu-west-1", case_message["ts"])
    event = {
        "type": "message",
        "channel": SHARED,
        "user": CUSTOMER,
        "text": msg["text"],
        "ts": msg["ts"],
        "thread_ts": case_message["ts"],
        "channel_type": "channel",
    }
    body = json.dumps(world.slack.event_payload(event, event_id="Ev0REDELIVER")).encode()
    first = await world.slack.post(body, "application/json")
    retry = await world.slack.post(
        body,
        "application/json",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert first.status == retry.status == 200
    await world.settle()
    # After a restart the adapter remembers nothing; the core still refuses a second effect.
    world.listeners.deliveries = RecentKeys(60)
    again = await world.slack.post(body, "application/json", headers={"X-Slack-Retry-Num": "2"})
    assert again.status == 200
    await world.settle()

    staff = world.fake.posts(TRIAGE, thread=world.fake.posts(TRIAGE, top=True)[0]["ts"])
    assert sum("It is eu-west-1" in m["text"] for m in staff) == 1
    assert world.fake.reactions == [(SHARED, msg["ts"], "white_check_mark")]


async def test_a_redelivered_command_opens_one_case(world: World) -> None:
    body = urlencode(
        world.slack.command_payload(CUSTOMER, "open Only once please", SHARED)
    ).encode()
    form = "application/x-www-form-urlencoded"
    answers = await asyncio.gather(
        world.slack.post(body, form),
        world.slack.post(body, form, headers={"X-Slack-Retry-Num": "1"}),
    )
    assert [a.status for a in answers] == [200, 200]
    await world.settle()
    world.listeners.deliveries = RecentKeys(60)  # as after a restart
    await world.slack.post(body, form, headers={"X-Slack-Retry-Num": "2"})
    await world.settle()
    assert len(world.fake.posts(TRIAGE, top=True)) == 1
    assert world.ephemerals(CUSTOMER) == ["Opened CASE-1: Only once please. Severity S4."]


async def test_a_double_click_claims_once_and_answers_once(world: World) -> None:
    _, alert = await open_case(world)
    stale = copy.deepcopy(alert)  # what a second window still shows
    clicks = await asyncio.gather(
        world.slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim"),
        world.slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim"),
    )
    assert [c.status for c in clicks] == [200, 200]
    await world.settle()
    assert world.ephemerals(ENGINEER) == ["CASE-1 is yours."]
    assert len([m for m in world.dm_posts(ENGINEER) if "is yours" in m["text"]]) == 1

    # A click from the stale copy of the message, after the guard's few seconds: the
    # core's state machine refuses a second effect, and says why.
    world.listeners.clicks = RecentKeys(3)
    await world.slack.click(ENGINEER, TRIAGE, stale, "case:CASE-1:claim")
    await world.slack.click(ENGINEER2, TRIAGE, stale, "case:CASE-1:claim")
    await world.settle()
    assert world.last_ephemeral(ENGINEER) == "CASE-1 is already yours."
    assert world.last_ephemeral(ENGINEER2) == "CASE-1 is already claimed by Eve Laurent."
    assert len([m for m in world.dm_posts(ENGINEER) if "is yours" in m["text"]]) == 1


# ---------------------------------------------------------------------- who is who


async def test_strangers_are_refused_politely(world: World) -> None:
    _, alert = await open_case(world)
    await world.slack.command(STRANGER, "list", channel=RANDOM)
    await world.slack.command(STRANGER, "", channel=RANDOM)
    await world.slack.click(STRANGER, TRIAGE, alert, "case:CASE-1:claim")
    await world.slack.open_home(STRANGER)
    await world.settle()
    refusals = world.ephemerals(STRANGER)
    assert len(refusals) == 3
    assert all(r.startswith("Sorry, I don't know you yet.") for r in refusals)
    assert world.opened_views() == []  # no form for someone who can't submit it
    assert "casebot doesn't know you yet" in json.dumps(world.fake.homes[STRANGER])

    # Chatter in channels that have nothing to do with a case is left alone.
    before = len(world.fake.calls)
    await world.slack.say(STRANGER, RANDOM, "lunch?")
    await world.settle()
    assert world.fake.calls[before:] == []


async def test_a_colleague_is_recognised_by_the_shared_channel(world: World) -> None:
    await world.slack.command(COLLEAGUE, "open Billing page is blank", channel=SHARED)
    await world.settle()
    assert world.last_ephemeral(COLLEAGUE).startswith("Opened CASE-1")
    lookups = world.fake.calls_to("users.info")
    assert len(lookups) == 1
    assert lookups[0].verb == "GET" and lookups[0].params == {"user": COLLEAGUE}
    # The same person elsewhere, never configured: still known (as an Umbrella customer).
    await world.slack.command(COLLEAGUE, "list", channel=world.fake.dm(COLLEAGUE))
    await world.settle()
    assert "CASE-1" in world.last_ephemeral(COLLEAGUE)
    assert len(world.fake.calls_to("users.info")) == 1  # the name is cached


async def test_a_dm_that_is_not_about_a_case_gets_a_hint(world: World) -> None:
    await world.slack.say(CUSTOMER, world.fake.dm(CUSTOMER), "hello?", channel_type="im")
    await world.settle()
    assert "/case help" in world.last_ephemeral(CUSTOMER)


# ---------------------------------------------------------------------- mention injection

TYPED = "<!channel> <!here> <!everyone> <!subteam^S0ALL|@all> <@U0FINN> & <https://evil.example|x>"
# What Slack sends when a person really uses @channel, @here, a user group or a mention.
MARKUP = "<!channel> <!here|@here> <!everyone> <!subteam^S0ALL|@all> <@U0FINN|finn>"
# The lead (Rhea) is pinged in the DM that says nobody can take the case.
INTENDED = {"<@U0EVE>", "<@U0FINN>", "<@U0MAYA>", "<@U0CARL>", "<@U0RHEA>"}


def markup_sent(world: World) -> list[str]:
    """Every ``<…>`` Slack would parse in what the bot sent (texts, blocks, views)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                found.extend(re.findall(r"<[^<>]*>", value))
            else:
                walk(parsed)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for call in world.fake.calls:
        if call.method in ("users.info", "auth.test", "conversations.open", "reactions.add"):
            continue
        walk(call.params)
    return found


async def test_nothing_a_user_types_can_ping_anyone(world: World) -> None:
    await world.slack.command(CUSTOMER, "open " + wire(TYPED) + " " + MARKUP, channel=SHARED)
    await world.settle()
    case_message = world.fake.posts(SHARED, top=True)[0]
    alert = world.fake.posts(TRIAGE, top=True)[0]
    await world.slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
    await world.slack.say(
        CUSTOMER, SHARED, MARKUP + " " + wire(TYPED), thread_ts=case_message["ts"]
    )
    await world.slack.say(ENGINEER2, TRIAGE, MARKUP, thread_ts=alert["ts"])
    await world.settle()
    await world.slack.command(
        ENGINEER, "reply CASE-1 " + wire(TYPED) + " " + MARKUP, channel=TRIAGE
    )
    await world.slack.command(ENGINEER, "need-info CASE-1 " + MARKUP, channel=TRIAGE)
    await world.slack.command(CUSTOMER, "show CASE-1", channel=SHARED)
    await world.settle()

    sent = markup_sent(world)
    assert sent, "the bot should have pinged the people the core named"
    assert set(sent) <= INTENDED, set(sent) - INTENDED
    everything = json.dumps([c.params for c in world.fake.calls])
    assert "&lt;!channel&gt;" in everything and "&lt;!subteam^S0ALL|@all&gt;" in everything


# ---------------------------------------------------------------------- rate limits


async def test_a_429_is_retried_after_retry_after_and_nothing_is_dropped(world: World) -> None:
    world.fake.fail("chat.postMessage", retry_after=2, times=2)
    world.fake.fail("response_url", retry_after=1, times=1)
    await open_case(world)
    assert world.sleeps == [1.0, 2.0, 2.0]  # exactly what Slack asked for
    assert len(world.fake.posts(SHARED, top=True)) == 1
    assert len(world.fake.posts(TRIAGE, top=True)) == 1
    assert world.ephemerals(CUSTOMER) == ["Opened CASE-1: Sync stalls. Severity S4."]

    # A long wait is not slept through: the outbox is told when to try again.
    world.fake.fail("chat.postMessage", retry_after=120, times=1)
    await world.slack.command(CUSTOMER, "open Second problem", channel=SHARED)
    await world.settle()
    assert "CASE-2" not in json.dumps(world.fake.posts(SHARED))
    await world.later(timedelta(seconds=90))
    assert "CASE-2" not in json.dumps(world.fake.posts(SHARED))
    await world.later(timedelta(seconds=31))
    assert len([m for m in world.fake.posts(SHARED, top=True) if "CASE-2 opened" in m["text"]]) == 1
    assert len([m for m in world.fake.posts(TRIAGE, top=True) if "CASE-2" in m["text"]]) == 1
    assert await world.bot.runtime.failed_outbox() == []


async def test_a_modal_opens_even_when_views_open_is_rate_limited(world: World) -> None:
    world.fake.fail("views.open", retry_after=1, times=1)
    await world.slack.command(CUSTOMER, "", channel=SHARED)
    await world.settle()
    assert [v["callback_id"] for v in world.opened_views()] == ["casebot:open"]
    assert world.sleeps == [1.0]
