"""One effect per intent, buttons that survive a restart, answers within three seconds,
and rate limits waited out without losing anything."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.messages import Kind, Message, Target
from bot.ports import DeliveryContext, DeliveryError
from entrypoints.bootstrap import Casebot
from storage.models import Case, CaseEvent, OutboxRow, SurveyAnswer
from tests.discord.conftest import APPS, INES, OMAR, ROSA, World, make_world
from tests.discord.fake_discord import EPHEMERAL, FakeDiscord


async def open_billing_case(world: World) -> dict[str, Any]:
    """A case nobody is skilled for: it waits in triage with a Claim button."""
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(
        ROSA, asked, title="Invoice charged twice", area="billing", type="broken", impact="blocked"
    )
    return world.last_post_with(APPS, "case:CASE-1:claim")


async def count(bot: Casebot, model: type, *where: Any) -> int:
    async with bot.db.read() as s:
        return int(
            (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def claims(bot: Casebot) -> int:
    return await count(bot, CaseEvent, CaseEvent.kind == "claimed")


# -- one effect ------------------------------------------------------------------------


async def test_a_double_click_has_one_effect(world: World) -> None:
    alert = await open_billing_case(world)
    first = world.fake.button_interaction(INES, int(alert["id"]), "case:CASE-1:claim")
    second = world.fake.button_interaction(INES, int(alert["id"]), "case:CASE-1:claim")
    other = world.fake.button_interaction(OMAR, int(alert["id"]), "case:CASE-1:claim")
    one, two = await world.send(first, second)
    assert await claims(world.bot) == 1
    assert one.text() == "CASE-1 is yours."
    assert two.response_type == 6 and two.followups == []  # acknowledged silently
    # Someone else pressing the same button is not a double click: the core answers.
    (three,) = await world.send(other)
    assert three.text() == "CASE-1 is already claimed by Ines Duarte." and three.ephemeral()


async def test_the_same_interaction_delivered_twice_is_handled_once(world: World) -> None:
    alert = await open_billing_case(world)
    payload = world.fake.button_interaction(INES, int(alert["id"]), "case:CASE-1:claim")
    await world.send(payload)
    await world.send(payload)  # e.g. replayed after a gateway resume
    log = world.fake.interactions[int(payload["id"])]
    assert len(log.callbacks) == 1
    assert not [c for c in world.fake.calls if c.status == 400]  # never answered twice
    assert await claims(world.bot) == 1


async def test_a_double_submitted_form_opens_one_case(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    values = {"title": "Sync lag", "area": "sync", "type": "broken", "impact": "blocked"}
    first = world.fake.modal_interaction(ROSA, asked, values)
    second = world.fake.modal_interaction(ROSA, asked, values)
    await world.send(first, second)
    assert await count(world.bot, Case) == 1


async def test_a_double_click_on_a_rating_records_one_answer(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(ROSA, asked, title="Sync lag", area="sync", type="broken", impact="blocked")
    await world.slash(OMAR, APPS, "replicating", case="CASE-1")
    await world.slash(OMAR, APPS, "propose", case="CASE-1", resolution="Restart the agent.")
    await world.slash(ROSA, APPS, "confirm", case="CASE-1")
    survey = world.last_post_with(world.case_thread(), "case:CASE-1:rate:5")
    a = world.fake.button_interaction(ROSA, int(survey["id"]), "case:CASE-1:rate:5")
    b = world.fake.button_interaction(ROSA, int(survey["id"]), "case:CASE-1:rate:5")
    first, second = await world.send(a, b)
    assert first.response_type == 9 and second.response_type == 6
    assert await count(world.bot, SurveyAnswer) == 1


# -- restarts ------------------------------------------------------------------------------


async def test_buttons_and_open_forms_keep_working_after_a_restart(world: World) -> None:
    alert = await open_billing_case(world)
    await world.restart()
    claimed = await world.press(INES, alert, "case:CASE-1:claim")
    assert claimed.text() == "CASE-1 is yours."
    await world.slash(INES, APPS, "propose", case="CASE-1", resolution="Refund issued.")
    proposal = world.last_post_with(world.case_thread(), "case:CASE-1:reject")
    reject = await world.press(ROSA, proposal, "case:CASE-1:reject")
    assert reject.modal is not None
    await world.restart()  # the modal is still open on Rosa's screen
    done = await world.submit(ROSA, reject, reason="The refund never arrived.")
    assert done.text() == "Understood. CASE-1 is back with its engineer."
    # Threads, and who is in them, are known again after the restart (GUILD_CREATE).
    await world.say(ROSA, world.case_thread(), "Any news?")
    assert any("wrote on CASE-1" in t for t in world.dm_titles(INES))


# -- within three seconds --------------------------------------------------------------------


async def test_every_interaction_is_answered_within_three_seconds(world: World) -> None:
    alert = await open_billing_case(world)
    await world.press(INES, alert, "case:CASE-1:claim")
    await world.slash(INES, APPS, "queue")
    logs = list(world.fake.interactions.values())
    assert logs and all(log.answered_at is not None for log in logs)
    assert max(log.answered_at - log.sent_at for log in logs if log.answered_at) < 3


async def test_slow_answers_are_deferred_then_followed_up(bot: Casebot, fake: FakeDiscord) -> None:
    # answer_within=0: as if the core were slow every time, so everything is deferred.
    world = await make_world(bot, fake, answer_within=0.0)
    try:
        listed = await world.slash(ROSA, APPS, "list")
        assert listed.response_type == 5 and listed.callbacks[0]["data"]["flags"] == EPHEMERAL
        assert listed.text() == "No cases." and listed.ephemeral()

        # A form cannot follow a deferral: a button opens it instead.
        asked = await world.slash(ROSA, APPS, "open")
        assert asked.response_type == 5 and asked.modal is None
        assert asked.original is not None and world.buttons(asked.original) == ["discord:form:open"]
        opened = await world.press(ROSA, int(asked.original["id"]), "discord:form:open")
        assert opened.response_type == 9
        done = await world.submit(
            ROSA,
            opened,
            title="Invoice charged twice",
            area="billing",
            type="broken",
            impact="blocked",
        )
        assert done.response_type == 5 and done.text().startswith("Opened CASE-1")

        alert = world.last_post_with(APPS, "case:CASE-1:claim")
        claimed = await world.press(INES, alert, "case:CASE-1:claim")
        assert claimed.response_type == 6  # the pressed message stays as it is
        (followup,) = claimed.followups
        assert followup["content"] == "CASE-1 is yours." and followup["flags"] & EPHEMERAL
    finally:
        await world.stop()


# -- rate limits ----------------------------------------------------------------------------------


async def test_a_rate_limited_post_is_retried_and_posted_once(world: World) -> None:
    world.fake.limit("POST", rf"/channels/{APPS}/messages", times=2)
    alert = await open_billing_case(world)
    posts = world.fake.requests("POST", rf"/channels/{APPS}/messages")
    assert [c.status for c in posts] == [429, 429, 200]
    assert world.fake.bot_posts(APPS) == [alert]


async def test_a_429_discord_py_will_not_retry_is_waited_out_by_the_outbox(world: World) -> None:
    # Without "Via", discord.py takes a 429 for a Cloudflare ban and gives up at once.
    world.fake.limit("POST", rf"/channels/{APPS}/messages", via=False, retry_after=30)
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(
        ROSA, asked, title="Invoice charged twice", area="billing", type="broken", impact="blocked"
    )
    assert world.fake.bot_posts(APPS) == []
    async with world.bot.db.read() as s:
        row = (
            await s.scalars(select(OutboxRow).where(OutboxRow.kind == str(Kind.TRIAGE_ALERT)))
        ).one()
        assert row.state == "pending" and "rate limit" in (row.last_error or "")
        assert (row.next_attempt_at - world.clock.now()) >= timedelta(seconds=29)
    await world.later(timedelta(seconds=31))
    assert len(world.fake.bot_posts(APPS)) == 1
    assert await count(world.bot, OutboxRow, OutboxRow.state != "sent") == 0


async def test_rate_limited_follow_up_calls_are_retried(world: World) -> None:
    world.fake.limit("PUT", r"/channels/\d+/thread-members/\d+", via=False, retry_after=0.01)
    world.fake.limit(
        "PUT", r"/channels/\d+/messages/\d+/reactions/.+/@me", via=False, retry_after=0.01
    )
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(ROSA, asked, title="Sync lag", area="sync", type="broken", impact="blocked")
    thread = world.case_thread()
    assert {ROSA, OMAR} <= world.fake.thread_members[thread]
    await world.slash(OMAR, APPS, "replicating", case="CASE-1")
    await world.slash(OMAR, APPS, "need-info", case="CASE-1", question="Which region?")
    answer = await world.say(ROSA, thread, "eu-west-1")
    assert [r for r in world.fake.reactions if r[1] == int(answer["id"])]


async def test_a_global_rate_limit_is_waited_out(world: World) -> None:
    world.fake.limit("POST", r"/users/@me/channels", is_global=True, times=1)
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(ROSA, asked, title="Sync lag", area="sync", type="broken", impact="blocked")
    assert len(world.fake.dms(OMAR)) == 1


# -- delivery edge cases -------------------------------------------------------------------------


async def test_a_retried_delivery_posts_once(world: World) -> None:
    message = Message(
        kind=Kind.ALERT, target=Target.team("apps"), title="SLA warning", platform="discord"
    )
    first = await world.platform.deliver(message, DeliveryContext(address=str(APPS)))
    second = await world.platform.deliver(
        message, DeliveryContext(address=str(APPS))
    )  # the answer was lost
    assert first == second
    assert len(world.fake.bot_posts(APPS)) == 1


async def test_a_deleted_message_is_posted_anew_instead_of_edited(world: World) -> None:
    alert = await open_billing_case(world)
    world.fake.delete_message(int(alert["id"]))  # someone deleted the alert
    await world.slash(INES, APPS, "claim", case="CASE-1")
    latest = world.fake.bot_posts(APPS)[-1]
    assert latest["id"] != alert["id"]
    assert "Claimed by Ines Duarte" in str(latest["embeds"][0]["fields"])


async def test_an_archived_thread_is_reopened_and_its_members_added(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(
        ROSA, asked, title="Invoice charged twice", area="billing", type="broken", impact="blocked"
    )
    thread = world.case_thread()
    world.fake.channels[thread]["thread_metadata"]["archived"] = True
    await world.slash(INES, APPS, "claim", case="CASE-1")
    await world.slash(INES, APPS, "reply", case="CASE-1", text="On it.")
    assert world.fake.channels[thread]["thread_metadata"]["archived"] is False
    assert INES in world.fake.thread_members[thread]


async def test_an_unknown_channel_fails_for_good_instead_of_retrying(world: World) -> None:
    world.fake.channels.pop(APPS)  # the team channel was deleted
    message = Message(
        kind=Kind.ALERT, target=Target.team("apps"), title="SLA warning", platform="discord"
    )
    with pytest.raises(DeliveryError) as caught:
        await world.platform.deliver(message, DeliveryContext(address=str(APPS)))
    assert caught.value.permanent and caught.value.retry_after is None


async def test_a_button_pressed_on_a_stale_copy_is_still_answered(world: World) -> None:
    alert = await open_billing_case(world)
    payload = world.fake.button_interaction(INES, int(alert["id"]), "case:CASE-1:claim")
    payload["message"]["components"] = []  # the person's screen showed an older message
    (log,) = await world.send(payload)
    assert log.text() == "CASE-1 is yours."


async def test_an_answer_in_a_thread_the_client_never_saw_is_still_recorded(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(ROSA, asked, title="Sync lag", area="sync", type="broken", impact="blocked")
    await world.slash(OMAR, APPS, "replicating", case="CASE-1")
    await world.slash(OMAR, APPS, "need-info", case="CASE-1", question="Which region?")
    thread = world.case_thread()
    world.fake.channels[thread]["thread_metadata"]["archived"] = True
    await world.restart()  # GUILD_CREATE lists active threads only
    assert world.client.get_channel(thread) is None
    answer = await world.say(ROSA, thread, "eu-west-1")
    assert world.fake.requests("GET", f"/channels/{thread}")  # where is it? Discord knows
    assert (thread, int(answer["id"]), "\N{WHITE HEAVY CHECK MARK}") in world.fake.reactions
    shown = await world.slash(OMAR, APPS, "show", case="CASE-1")
    assert "State: being replicated" in shown.text()
