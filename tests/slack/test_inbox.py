"""Nothing acknowledged is lost: every request is in the inbox before Slack hears "ok",
and what a dead worker left there is handled by whoever takes over — one effect, one
answer, the same words.

A worker's death is played by writing the inbox row as the listener does and then not
handling it (the process "died" right after the ack), or by also running the core's
effect without answering (it "died" after the commit)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select

from adapters.slack.dedupe import payload_id
from bot.delivery.inbox import DurableInbox
from bot.exchange import Context
from storage import inbox as inbox_rows
from storage.models import Case
from tests.slack.conftest import CUSTOMER, SHARED, World

LEASE = timedelta(seconds=31)  # just past the inbox's default lease (30 s)


def dead_worker(world: World) -> DurableInbox:
    """The inbox as another process saw it, one that is about to die."""
    return DurableInbox(world.bot.db, world.clock, "worker-that-died")


def opened_once(world: World) -> bool:
    """The customer was told once that CASE-1 was opened (and nothing else)."""
    told = world.ephemerals(CUSTOMER)
    return len(told) == 1 and told[0].startswith("Opened CASE-1: Exports time out.")


async def inbox_states(world: World) -> list[str]:
    found = await world.bot.runtime.inbox.store.run(inbox_rows.states)
    return [row.state for row in found]


async def case_titles(world: World) -> list[str]:
    async with world.bot.db.read() as s:
        return list((await s.scalars(select(Case.title).order_by(Case.id))).all())


async def test_a_command_acknowledged_by_a_worker_that_died_is_handled_on_takeover(
    world: World,
) -> None:
    body = world.slack.command_payload(CUSTOMER, "open Exports time out", SHARED)
    inbox = dead_worker(world)
    # The listener wrote the row and acknowledged; then its process was killed.
    assert await inbox.accept("slack", payload_id("command", body), "command", body)
    await inbox.close()

    await world.settle()
    assert world.ephemerals(CUSTOMER) == []  # still leased to the dead worker
    assert await case_titles(world) == []

    await world.later(LEASE)
    assert opened_once(world)
    assert await case_titles(world) == ["Exports time out"]
    assert await inbox_states(world) == ["done"]

    await world.later(LEASE)  # nothing is handled twice
    assert opened_once(world)


async def test_a_worker_that_died_after_the_effect_leaves_the_same_answer_not_a_second_case(
    world: World,
) -> None:
    body = world.slack.command_payload(CUSTOMER, "open Exports time out", SHARED)
    delivery = payload_id("command", body)
    inbox = dead_worker(world)
    assert await inbox.accept("slack", delivery, "command", body)
    await inbox.close()
    # The core committed the case, then the process died before answering.
    ctx = Context(platform="slack", user_id=CUSTOMER, channel_id=SHARED, event_id=delivery)
    await world.bot.commands.run(ctx, "open Exports time out")

    await world.later(LEASE)
    assert await case_titles(world) == ["Exports time out"]
    # The words the first run committed with its effect, not "Already done."
    assert opened_once(world)
    assert await inbox_states(world) == ["done"]


async def test_slack_re_delivering_an_accepted_request_is_acknowledged_and_dropped(
    world: World,
) -> None:
    body = urlencode(world.slack.command_payload(CUSTOMER, "open Exports time out", SHARED))
    form = "application/x-www-form-urlencoded"
    first = await world.slack.post(body.encode(), form)
    again = await world.slack.post(body.encode(), form, headers={"X-Slack-Retry-Num": "1"})
    assert (first.status, again.status) == (200, 200)

    await world.settle()
    await world.later(LEASE)
    assert await case_titles(world) == ["Exports time out"]
    assert opened_once(world)
    assert await inbox_states(world) == ["done"]


async def open_form_submission(world: World) -> dict:
    """Carl opens the form and fills it in: the view_submission Slack would send."""
    await world.slack.command(CUSTOMER, "", channel=SHARED)
    await world.settle()
    form = world.opened_views()[-1]
    values = {"title": "Exports time out", "type": "broken", "impact": "degraded"}
    return world.slack.submission_payload(CUSTOMER, form, values)


async def test_a_submitted_form_is_in_the_inbox_before_the_modal_closes(world: World) -> None:
    await world.slack.command(CUSTOMER, "", channel=SHARED)
    await world.settle()
    form = world.opened_views()[-1]
    values = {"title": "Exports time out", "type": "broken", "impact": "degraded"}
    answer = await world.slack.submit(CUSTOMER, form, values)
    assert answer.status == 200 and answer.body == ""  # the modal closes
    await world.settle()
    assert opened_once(world)
    assert await case_titles(world) == ["Exports time out"]
    # The slash command that opened the form, and the submission: both handled.
    assert await inbox_states(world) == ["done", "done"]


async def test_a_submission_acknowledged_by_a_worker_that_died_is_handled_on_takeover(
    world: World,
) -> None:
    body = await open_form_submission(world)
    inbox = dead_worker(world)
    # The listener checked the fields, wrote the row and closed the modal; then died.
    assert await inbox.accept("slack", payload_id("view", body), "view", body)
    await inbox.close()

    await world.settle()
    assert world.ephemerals(CUSTOMER) == [] and await case_titles(world) == []

    await world.later(LEASE)
    assert opened_once(world)
    assert await case_titles(world) == ["Exports time out"]
    assert set(await inbox_states(world)) == {"done"}

    await world.later(LEASE)  # nothing is handled twice
    assert opened_once(world) and await case_titles(world) == ["Exports time out"]


async def test_a_submission_whose_worker_died_after_the_effect_gets_the_same_answer(
    world: World,
) -> None:
    body = await open_form_submission(world)
    delivery = payload_id("view", body)
    inbox = dead_worker(world)
    assert await inbox.accept("slack", delivery, "view", body)
    await inbox.close()
    # The core committed the case, then the process died before answering.
    ctx = Context(platform="slack", user_id=CUSTOMER, channel_id=SHARED, event_id=delivery)
    values = {"title": "Exports time out", "type": "broken", "impact": "degraded"}
    await world.bot.commands.submit(ctx, "open", values)

    await world.later(LEASE)
    assert await case_titles(world) == ["Exports time out"]
    assert opened_once(world)  # the words committed with the effect, once
    assert set(await inbox_states(world)) == {"done"}
