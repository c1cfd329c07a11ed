"""Nothing Discord was told is lost: every interaction is in the inbox before it is
deferred, and what a dead process left there is answered by whoever takes over — one
effect, one answer, the same words, through the interaction's own token (or by DM once
that token has expired).

A process's death is played by a second Discord session whose inbox writes rows as the
real one does and then never handles them (the process was killed right after the
defer); the session is stopped, and the world's own one takes over once the lease runs
out, knowing nothing of the interaction but the row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from adapters.discord import DiscordPlatform
from adapters.discord.durable import LATE
from adapters.discord.interactions import SORRY
from bot.delivery.inbox import DurableInbox
from bot.exchange import Context
from bot.ports import Accepted
from storage import inbox as inbox_rows
from storage.models import Case, CaseEvent
from tests.discord.conftest import APPS, FAST, INES, ROSA, World, start
from tests.discord.fake_discord import EPHEMERAL, displayed
from tests.discord.test_reliability import open_billing_case

LEASE = timedelta(seconds=31)  # just past the inbox's default lease (30 s)
OPENED = "Opened CASE-1: Exports time out"


class KilledAfterTheDefer(DurableInbox):
    """The inbox of a process killed right after it deferred: its rows are written and
    committed as ever, and never handled."""

    async def handle(self, entry: Accepted) -> None:
        return None


async def dying_process(world: World) -> DiscordPlatform:
    """Another ``casebot run`` on the same database and Discord, about to be killed; the
    world's own session is down meanwhile (Discord sends each event to one session)."""
    await world.stop()
    platform = DiscordPlatform(world.settings, **FAST)
    platform.use_inbox(KilledAfterTheDefer(world.bot.db, world.clock, "worker-that-died"))
    await platform.start(world.bot.commands)
    world.platform = platform
    await world.settle()
    return platform


async def take_over(world: World, dead: DiscordPlatform) -> None:
    """The dead process is gone; the surviving one is (re)started and connected."""
    inbox = dead.inbox
    assert isinstance(inbox, KilledAfterTheDefer)
    await dead.stop()
    await inbox.close()
    world.platform = await start(world.bot, world.settings)
    await world.settle()


async def case_titles(world: World) -> list[str]:
    async with world.bot.db.read() as s:
        return list((await s.scalars(select(Case.title).order_by(Case.id))).all())


async def inbox_rows_now(world: World) -> list[tuple[str, str]]:
    found = await world.bot.runtime.inbox.store.run(inbox_rows.states)
    return [(row.kind, row.state) for row in found]


def webhook_calls(world: World, token: str) -> list[Any]:
    return [c for c in world.fake.calls if c.path.startswith("/webhooks/") and token in c.path]


def late_dms(world: World, user: int) -> list[str]:
    return [displayed(m["content"]) for m in world.fake.dms(user) if LATE in m["content"]]


# -- the fast path --------------------------------------------------------------------------


async def test_a_command_is_written_then_deferred_then_answered_in_place(world: World) -> None:
    listed = await world.slash(ROSA, APPS, "list")
    assert listed.response_type == 5 and listed.callbacks[0]["data"]["flags"] == EPHEMERAL
    assert listed.text() == "No cases." and listed.ephemeral()
    assert await inbox_rows_now(world) == [("command", "done")]


async def test_a_button_is_deferred_silently_and_followed_up(world: World) -> None:
    alert = await open_billing_case(world)
    claimed = await world.press(INES, alert, "case:CASE-1:claim")
    assert claimed.response_type == 6  # the pressed message stays as it is
    (followup,) = claimed.followups
    assert followup["flags"] & EPHEMERAL and followup["content"] == "CASE-1 is yours."
    assert ("press", "done") in await inbox_rows_now(world)


async def test_a_button_that_asks_for_a_reason_opens_its_form_at_once(world: World) -> None:
    alert = await open_billing_case(world)
    await world.press(INES, alert, "case:CASE-1:claim")
    await world.slash(INES, APPS, "propose", case="CASE-1", resolution="Refund issued.")
    proposal = world.last_post_with(world.case_thread(), "case:CASE-1:reject")
    before = len(await inbox_rows_now(world))
    asked = await world.press(ROSA, proposal, "case:CASE-1:reject")
    assert asked.response_type == 9  # a form is only ever the first answer
    done = await world.submit(ROSA, asked, reason="The refund never arrived.")
    assert done.response_type == 5
    assert done.text() == "Understood. CASE-1 is back with its engineer."
    # The press that opened the form answered from memory; its submission is a row.
    assert (await inbox_rows_now(world))[before:] == [("submit", "done")]


# -- a takeover ---------------------------------------------------------------------------------


async def test_an_open_deferred_by_a_process_that_died_is_answered_once_on_takeover(
    world: World,
) -> None:
    dead = await dying_process(world)
    asked = await world.slash(ROSA, APPS, "open", title="Exports time out")
    assert asked.deferred and asked.callbacks[0]["data"]["flags"] == EPHEMERAL
    assert await case_titles(world) == []

    await take_over(world, dead)
    assert await case_titles(world) == []  # still leased to the dead process
    await world.later(LEASE)
    assert await case_titles(world) == ["Exports time out"]
    assert asked.text().startswith(OPENED) and asked.ephemeral()
    assert len(webhook_calls(world, asked.token)) == 1  # one edit of the deferred answer
    assert await inbox_rows_now(world) == [("command", "done")]

    await world.later(LEASE)  # nothing is handled twice
    assert await case_titles(world) == ["Exports time out"]
    assert len(webhook_calls(world, asked.token)) == 1


async def test_a_process_that_died_after_the_effect_leaves_the_same_words_not_a_second_case(
    world: World,
) -> None:
    dead = await dying_process(world)
    asked = await world.slash(ROSA, APPS, "open", title="Exports time out")
    # The core committed the case, then the process died before answering.
    ctx = Context(
        platform="discord",
        user_id=str(ROSA),
        channel_id=str(APPS),
        event_id=str(asked.id),
        sectioned=True,
    )
    await world.bot.commands.invoke(ctx, "open", {"title": "Exports time out"})

    await take_over(world, dead)
    await world.later(LEASE)
    assert await case_titles(world) == ["Exports time out"]
    assert asked.text().startswith(OPENED)  # not "Already done."
    assert await inbox_rows_now(world) == [("command", "done")]


async def test_a_takeover_after_fifteen_minutes_answers_by_dm(world: World) -> None:
    dead = await dying_process(world)
    asked = await world.slash(ROSA, APPS, "open", title="Exports time out")
    await take_over(world, dead)
    world.fake.expire_interactions()

    await world.later(timedelta(minutes=16))
    assert await case_titles(world) == ["Exports time out"]
    assert webhook_calls(world, asked.token) == []  # its token is known to be dead
    (dm,) = late_dms(world, ROSA)
    assert OPENED in dm
    assert await inbox_rows_now(world) == [("command", "done")]


async def test_a_token_discord_refuses_on_takeover_is_answered_by_dm(world: World) -> None:
    dead = await dying_process(world)
    asked = await world.slash(ROSA, APPS, "open", title="Exports time out")
    await take_over(world, dead)
    world.fake.expire_interactions()  # Discord no longer takes this token, for whatever reason

    await world.later(LEASE)
    assert [c.status for c in webhook_calls(world, asked.token)] == [401]
    (dm,) = late_dms(world, ROSA)
    assert OPENED in dm
    assert await inbox_rows_now(world) == [("command", "done")]


# -- messages in case threads ---------------------------------------------------------------


async def customer_messages(world: World) -> int:
    async with world.bot.db.read() as s:
        found = await s.execute(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "customer_message")
        )
        return int(found.scalar_one())


async def test_a_message_re_delivered_to_a_new_session_is_one_timeline_entry(world: World) -> None:
    await world.slash(ROSA, APPS, "open", title="Exports time out")
    thread = world.case_thread()
    said = await world.say(ROSA, thread, "It fails since Monday.")
    assert await customer_messages(world) == 1

    await world.restart()  # a new session: nothing in memory knows the message
    await world.fake.dispatch("MESSAGE_CREATE", said)  # replayed after a resume
    await world.settle()
    assert await customer_messages(world) == 1
    assert [r for r in world.fake.reactions if r[1] == int(said["id"])] == [
        (thread, int(said["id"]), "\N{WHITE HEAVY CHECK MARK}")
    ]
    assert [k for k, _ in await inbox_rows_now(world)].count("message") == 1


async def test_a_message_a_dead_process_received_reaches_the_timeline_on_takeover(
    world: World,
) -> None:
    await world.slash(ROSA, APPS, "open", title="Exports time out")
    thread = world.case_thread()
    dead = await dying_process(world)
    said = await world.say(ROSA, thread, "It fails since Monday.")
    assert await customer_messages(world) == 0

    await take_over(world, dead)
    await world.later(LEASE)
    assert await customer_messages(world) == 1
    assert [r[1] for r in world.fake.reactions].count(int(said["id"])) == 1


# -- nothing written, nothing promised ---------------------------------------------------------


async def test_an_interaction_the_inbox_cannot_take_is_refused_at_once_and_changes_nothing(
    world: World,
) -> None:
    store = world.bot.runtime.inbox.store
    assert store.own is not None  # the inbox's own SQLite file beside the database
    with store.own.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE inbox RENAME TO inbox_away")  # every write fails
    payload = world.fake.command_interaction(ROSA, APPS, "open", {"title": "Exports time out"})
    await world.fake.dispatch("INTERACTION_CREATE", payload)
    await world.handled()
    with store.own.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE inbox_away RENAME TO inbox")
    await world.settle()

    asked = world.fake.interactions[int(payload["id"])]
    assert asked.response_type == 4 and asked.text() == SORRY and asked.ephemeral()
    assert await case_titles(world) == []
    assert await inbox_rows_now(world) == []
