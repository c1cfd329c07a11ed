"""What a careless or hostile person, or a race, does to the core — as dialogs.

Dana is Globex's CSM; Initech's CSM is the lead. Gus is a Globex customer, Ivy an
Initech one.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from storage.db import Database
from storage.models import Case, CaseEvent
from tests.harness import Dialog

STAFF_WORK_ON_A_FOREIGN_CASE = [
    "show {k}",
    "reply {k} Hello from another account's CSM",
    "note {k} Internal remark",
    "severity {k} S1",
    "assign {k} alice",
    "ack {k}",
]


async def test_a_csm_of_another_account_neither_reads_nor_works_its_cases(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("ivy")  # Initech's case; Dana looks after Globex
    for command in STAFF_WORK_ON_A_FOREIGN_CASE:
        reply = await d.say("dana", "/case " + command.format(k=key))
        assert not reply.ok, command
        assert reply.text == f"{key} belongs to an account you don't look after.", command
    joined = await d.press("dana", f"case:{key}:join")
    assert not joined.ok
    async with d.bot.db.read() as s:
        kinds = (await s.scalars(select(CaseEvent.kind))).all()
    assert "note" not in kinds and "reply" not in kinds and "joined" not in kinds
    # Nor does she see it listed, queued or offered.
    assert key not in (await d.say("dana", "/case list")).text
    assert key not in (await d.say("dana", "/case queue")).text
    # Her own account's case she does work.
    mine = await d.working_case("gus")
    assert (await d.say("dana", f"/case note {mine} Call them today")).ok
    assert mine in (await d.say("dana", "/case list")).text


async def test_a_duplicate_stays_within_one_account_and_points_at_an_open_case(
    db: Database,
) -> None:
    d = await Dialog.start(db)
    gus = await d.working_case("gus", title="Webhook endpoint returns 500")
    ivy = await d.open_case("ivy", "Webhook endpoint returns 500 as well", area="api")
    refused = await d.say("alice", f"/case duplicate {ivy} {gus}")
    assert not refused.ok and "belong to different accounts" in refused.text
    assert (await d.case(ivy)).state != "closed"

    again = await d.open_case("gina", "Webhooks fail for us too", area="api")
    assert (await d.say("alice", f"/case duplicate {again} {gus}")).ok
    # "B of A" after "A of B": A is closed, so nothing closes the other one too.
    back = await d.say("alice", f"/case duplicate {gus} {again}")
    assert not back.ok and "can only duplicate an open one" in back.text
    assert (await d.case(gus)).state != "closed"


async def test_crossed_duplicates_take_turns(db: Database) -> None:
    d = await Dialog.start(db)
    a = await d.working_case("gus", title="Dashboards load slowly")
    b = await d.working_case("gina", title="Dashboards are slow")
    first, second = await asyncio.gather(
        d.bot.commands.run(d.ctx("alice"), f"duplicate {a} {b}"),
        d.bot.commands.run(d.ctx("lee"), f"duplicate {b} {a}"),
    )
    await d.drain()
    # One wins, the other is told why: no deadlock, no "something went wrong".
    assert sorted([first.ok, second.ok]) == [False, True], (first.text, second.text)
    loser = second if first.ok else first
    assert "can only duplicate an open one" in loser.text
    states = sorted([(await d.case(a)).state, (await d.case(b)).state])
    assert states[0] == "closed" and states[1] != "closed"


async def test_control_characters_never_reach_the_database(db: Database) -> None:
    d = await Dialog.start(db)
    opened = await d.say("gus", "/case open Export\x00 fails\x07 on\x1b[31m Monday")
    assert opened.ok, opened.text
    key = opened.text.split()[1].rstrip(":")
    assert (await d.case(key)).title == "Export fails on[31m Monday"
    assert (await d.say("gus", f"/case reply {key} still\x00 broken")).ok
    await d.write_in_thread("gus", key, "and\x00 now?")
    async with d.bot.db.read() as s:
        texts = (await s.scalars(select(CaseEvent.text))).all()
        titles = (await s.scalars(select(Case.title))).all()
    assert not any("\x00" in t or "\x07" in t for t in [*texts, *titles])
    assert "still broken" in texts and "and now?" in texts


async def test_a_draft_is_read_and_corrected_before_it_becomes_public(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus", description="Our signing key is sk_live_SECRET123")
    await d.say("alice", f"/case propose {key} Rotate the webhook secret")
    await d.say("gus", f"/case confirm {key}")
    (draft,) = [m for m in d.seen_by("alice") if m.kind == "kb_draft"]
    kb = draft.title.split()[3]
    # The draft arrives in full: what would become public is there to read.
    assert "sk_live_SECRET123" in draft.text and "Rotate the webhook secret" in draft.text
    shown = await d.say("alice", f"/case kb show {kb}")
    assert shown.ok and "Symptoms: Our signing key is sk_live_SECRET123" in shown.text
    edited = await d.say(
        "alice", f"/case kb edit {kb} symptoms Webhook deliveries fail with HTTP 500"
    )
    assert edited.ok and "sk_live" not in edited.text
    published = await d.say("alice", f"/case kb publish {kb}")
    assert "This is what they see" in published.text
    assert "Symptoms: Webhook deliveries fail with HTTP 500" in published.text
    assert "sk_live" not in (await d.article(kb)).symptoms
    refused = await d.say("alice", f"/case kb edit {kb} cause Too late")
    assert not refused.ok and "only drafts are edited" in refused.text
