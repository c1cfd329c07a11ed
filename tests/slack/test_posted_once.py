"""A message is posted once, even when casebot cannot know whether Slack took it
(issue #10): every post carries its outbox row id in its metadata, and a re-send of a
row that may have been posted looks in the conversation first.

An unknown outcome is played by the fake Slack posting the message and then breaking
the connection before its answer (``lose_answer``); a worker killed in that window is
tests/scale/test_slack_posted_once.py."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.slack.posted import Allowance
from bot.ports import DeliveryError
from storage.models import OutboxRow
from tests.slack.conftest import CUSTOMER, ENGINEER, SHARED, TRIAGE, World
from tests.slack.fake_slack import FakeSlack

RETRY = timedelta(minutes=1)  # past the outbox's first backoff


def deliveries(fake: FakeSlack) -> Counter[str]:
    """How many bot messages in the workspace carry each outbox row id."""
    return Counter(
        str(m["metadata"]["event_payload"]["delivery"])
        for channel in list(fake.messages)
        for m in fake.posts(channel)
        if "metadata" in m
    )


async def sent_rows(world: World) -> dict[str, tuple[str, str | None]]:
    """Outbox row id → (state, Slack ts it was recorded with)."""
    async with world.bot.db.read() as s:
        rows = (await s.scalars(select(OutboxRow).where(OutboxRow.platform == "slack"))).all()
    return {str(r.id): (r.state, r.platform_message_id) for r in rows}


async def test_first_posts_carry_their_row_and_never_look(world: World) -> None:
    fake = world.fake
    await world.slack.command(CUSTOMER, "open Exports time out", channel=SHARED)
    await world.settle()

    rows = await sent_rows(world)
    posted = deliveries(fake)
    assert (
        rows
        and set(posted) == {i for i, (_, ts) in rows.items() if ts}
        and max(posted.values()) == 1
    )
    for call in fake.calls_to("chat.postMessage"):
        assert call.params["metadata"]["event_type"] == "casebot_delivery"
    assert fake.calls_to("conversations.history") == fake.calls_to("conversations.replies") == []


async def test_a_post_whose_answer_was_lost_is_found_instead_of_posted_again(
    world: World,
) -> None:
    fake = world.fake
    fake.lose_answer("chat.postMessage")  # the first post lands; its answer never does
    await world.slack.command(CUSTOMER, "open Exports time out", channel=SHARED)
    await world.settle()
    # Its message landed, its row does not know it (the case's messages to other
    # places went out meanwhile: order holds per destination).
    (lost,) = pending(await sent_rows(world))
    assert deliveries(fake)[lost] == 1

    await world.later(RETRY)
    # The re-send looked in the channel's history, found its message and posted nothing.
    (look,) = fake.calls_to("conversations.history")
    assert look.params["include_all_metadata"] in ("1", "true", True)
    assert float(look.params["oldest"]) > 0
    rows = await sent_rows(world)
    assert all(state == "sent" for state, _ in rows.values())
    assert set(deliveries(fake).values()) == {1}
    ts = rows[lost][1]
    assert any(m["ts"] == ts for m in fake.posts(SHARED) + fake.posts(TRIAGE))
    # The case message and the triage alert, once each.
    assert len(fake.posts(SHARED, top=True)) == len(fake.posts(TRIAGE, top=True)) == 1


async def test_a_thread_reply_whose_answer_was_lost_is_found_in_the_thread(
    world: World,
) -> None:
    fake = world.fake
    await world.slack.command(CUSTOMER, "open Exports time out", channel=SHARED)
    await world.settle()
    alert = fake.posts(TRIAGE, top=True)[0]
    await world.slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
    await world.settle()
    case_message = fake.posts(SHARED, top=True)[0]

    fake.lose_answer("chat.postMessage")
    await world.slack.command(ENGINEER, "need-info CASE-1 Which browser?", channel=TRIAGE)
    await world.settle()
    await world.later(RETRY)

    questions = [
        m for m in fake.posts(SHARED, thread=case_message["ts"]) if "Which browser?" in m["text"]
    ]
    assert len(questions) == 1
    (look,) = fake.calls_to("conversations.replies")
    assert (look.params["channel"], look.params["ts"]) == (SHARED, case_message["ts"])
    assert set(deliveries(fake).values()) == {1}
    assert all(state == "sent" for state, _ in (await sent_rows(world)).values())


async def test_a_retry_that_finds_nothing_posts_once(world: World) -> None:
    fake = world.fake
    fake.fail("chat.postMessage", status=500, error="internal_error")  # nothing posted
    await world.slack.command(CUSTOMER, "open Exports time out", channel=SHARED)
    await world.settle()
    (failed,) = pending(await sent_rows(world))
    assert failed not in deliveries(fake)  # the rest went out, once each
    assert set(deliveries(fake).values()) <= {1}

    await world.later(RETRY)
    assert len(fake.calls_to("conversations.history")) == 1  # looked, found nothing …
    assert len(fake.posts(SHARED, top=True)) == len(fake.posts(TRIAGE, top=True)) == 1
    assert set(deliveries(fake).values()) == {1}  # … and posted it, once
    assert all(state == "sent" for state, _ in (await sent_rows(world)).values())


async def test_a_re_send_where_the_bot_cannot_read_history_still_posts(world: World) -> None:
    fake = world.fake
    fake.fail("chat.postMessage", status=500, error="internal_error")
    fake.fail("conversations.history", status=200, error="missing_scope", retry_after=None)
    await world.slack.command(CUSTOMER, "open Exports time out", channel=SHARED)
    await world.settle()
    await world.later(RETRY)
    assert len(fake.posts(SHARED, top=True)) == len(fake.posts(TRIAGE, top=True)) == 1
    assert all(state == "sent" for state, _ in (await sent_rows(world)).values())


def pending(rows: dict[str, tuple[str, str | None]]) -> list[str]:
    """The rows not known to be sent."""
    return [row for row, (state, _) in rows.items() if state == "pending"]


async def test_look_ups_past_the_allowance_give_the_row_back_instead_of_waiting() -> None:
    now = [0.0]
    allowance = Allowance(per_minute=2, max_wait=2.0, clock=lambda: now[0])
    await allowance.turn()
    await allowance.turn()
    with pytest.raises(DeliveryError):  # the next turn is a minute away: retried later
        await allowance.turn()
    now[0] = 59.95  # the oldest turn frees in 50 ms: worth waiting for
    await allowance.turn()
    assert len(allowance.calls) == 2
