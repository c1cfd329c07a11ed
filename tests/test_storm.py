"""A storm of new cases, as the team sees it: one triage digest instead of a card per
case, every case on it claimable; a claimed case gets its card and thread; single
alerts resume when the rate falls; the customers hear back at once."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot.delivery.outbox import RetryPolicy, claim
from bot.delivery.pacing import Pacer, channel_key
from bot.messages import Kind, Message, Target, TargetKind
from bot.ports import DeliveryContext, PlatformRef
from storage.db import Database
from storage.models import OutboxRow
from tests.harness import Dialog

KEY = re.compile(r"CASE-\d+")
CUSTOMERS = ("gus", "gina", "ivy", "ian")


async def burst(
    d: Dialog, n: int, title: str = "Dashboard {i} shows no data", *more: str
) -> list[str]:
    """``n`` opens (then one of each of ``more``) at the same moment: nothing is
    delivered between them."""
    keys = []
    for i, line in enumerate([title.format(i=i) for i in range(n)] + list(more)):
        who = CUSTOMERS[i % len(CUSTOMERS)]
        reply = await d.bot.commands.run(d.ctx(who), f"open {line} --impact question")
        assert reply.ok, reply.text
        keys.append(KEY.findall(reply.text)[0])
    await d.drain()
    return keys


def digests(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.kind == Kind.TRIAGE_DIGEST]


def cards(messages: list[Message]) -> list[str]:
    return [m.case_key or "" for m in messages if m.kind == Kind.TRIAGE_ALERT]


async def test_a_burst_folds_into_one_digest_with_every_case_claimable(db: Database) -> None:
    d = await Dialog.start(db)
    keys = await burst(d, 20)
    await d.advance("2s")  # the digest is edited at most every 1.5 s

    seen = d.team_channel("platform")
    digest = digests(seen)[-1]
    assert digest.title == "Triage digest: 20 new cases"
    assert [k for f in digest.fields for k in KEY.findall(f.label)] == keys
    assert {a.id for a in digest.actions} >= {f"case:{k}:claim" for k in keys}
    # The digest was posted once; the cards the team does see are of cases already
    # assigned by skill (their thread is where their engineer works).
    posted = [x for x in d.delivered(TargetKind.TEAM, "platform") if not x.updated]
    assert len([x for x in posted if x.message.kind == Kind.TRIAGE_DIGEST]) == 1
    assigned = {k for k in keys if (await d.case(k)).assignee_id}
    assert set(cards(seen)) == assigned
    # The lead is not sent one "nobody can take" per case: the digest mentions them once.
    assert "lee" in digest.mentions
    nobody = [m for m in d.seen_by("lee") if m.title.startswith("Nobody can take")]
    assert nobody == []
    # Every customer heard back: each case's confirmation is in its customer thread.
    for k in keys:
        assert [m.kind for m in d.customer_thread(k)][:1] == [Kind.CASE_OPENED]

    # Claimed from the digest: the case is the lead's, and now it has a card and a thread.
    free = next(k for k in keys if k not in assigned)
    reply = await d.press("lee", f"case:{free}:claim")
    assert reply.ok, reply.text
    assert (await d.case(free)).assignee_id == "lee"
    card = [m for m in d.team_channel("platform") if m.case_key == free]
    assert [m.kind for m in card] == [Kind.TRIAGE_ALERT]
    assert any("Claimed by" in f.value for f in card[0].fields)
    # … and its digest line says so, without its Claim button (the page edited in place).
    await d.advance("2s")
    edited = digests(d.team_channel("platform"))[-1]
    assert f"{free} claimed by Lee Nakamura" in [f.label for f in edited.fields]
    assert f"case:{free}:claim" not in {a.id for a in edited.actions}
    assert {f"case:{k}:claim" for k in keys if k not in assigned | {free}} <= {
        a.id for a in edited.actions
    }
    pages = [
        x for x in d.delivered(TargetKind.TEAM, "platform") if x.message.kind == Kind.TRIAGE_DIGEST
    ]
    assert pages[-1].updated  # an edit of the one page, not a new message
    # A note in its staff thread lands in that thread, not in the channel.
    reply = await d.say("lee", f"/case note {free} looking at the dashboards first")
    assert reply.ok, reply.text
    assert d.delivered(TargetKind.CASE_STAFF, free)[-1].ctx.staff_thread is not None


async def test_a_folded_case_gets_its_card_before_anything_in_its_thread(db: Database) -> None:
    d = await Dialog.start(db)
    keys = await burst(d, 10)
    assigned = {k for k in keys if (await d.case(k)).assignee_id}
    free = next(k for k in keys if k not in assigned)
    d.look_at_everything()

    reply = await d.say("lee", f"/case note {free} same as the others")
    assert reply.ok, reply.text

    assert cards(d.team_channel("platform")) == [free]  # its card, posted once
    note = d.delivered(TargetKind.CASE_STAFF, free)[-1]
    assert note.ctx.staff_thread is not None  # … and the note went into its thread


async def test_single_alerts_resume_when_the_rate_falls(db: Database) -> None:
    d = await Dialog.start(db)
    await burst(d, 12)
    d.look_at_everything()

    await d.advance("1m")
    key = await d.open_case("gus", "The invoice PDF is blank", area="billing")
    await d.open_case("ivy", "The dashboard legend overlaps", area="dashboards")

    seen = d.team_channel("platform")
    assert digests(seen) == []
    assert len(set(cards(seen))) == 1
    assert set(cards(d.team_channel("billing"))) == {key}


async def test_look_alike_cases_share_one_line(db: Database) -> None:
    d = await Dialog.start(db)
    keys = await burst(d, 6, "Webhook deliveries fail with HTTP 500 on endpoint {i}")
    keys += await burst(d, 3, "Dashboard panel {i} renders blank")
    await d.advance("1m")  # the digest is edited at most every few seconds

    digest = digests(d.team_channel("platform"))[-1]
    lines = [KEY.findall(f.label) for f in digest.fields]
    assert lines == [keys[:6], keys[6:]]


async def test_one_button_links_five_look_alikes_to_one_defect(db: Database) -> None:
    d = await Dialog.start(db)
    *alike, other = await burst(
        d, 5, "Webhook deliveries fail with HTTP 500 on endpoint {i}", "Dashboard panel is blank"
    )
    digest = digests(d.team_channel("platform"))[-1]
    [button] = [a for a in digest.actions if ":link_all:" in a.id]
    assert button.label == "One defect for 5"
    assert [KEY.findall(f.label) for f in digest.fields] == [alike, [other]]

    before = await d.world()
    reply = await d.press("gus", button.id)  # a customer may not, and nothing changes
    assert not reply.ok
    assert await d.world() == before

    reply = await d.press("lee", button.id)
    assert reply.ok, reply.text
    issue = reply.text.rsplit(" ", 1)[1].rstrip(".")
    assert reply.text == f"Linked {', '.join(alike)} to {issue}."
    for k in alike:
        assert (await d.case(k)).state == "waiting_on_engineering"
    assert (await d.case(other)).state != "waiting_on_engineering"


async def test_without_a_storm_nothing_is_folded(db: Database) -> None:
    d = await Dialog.start(db)
    keys = await burst(d, 3)

    seen = d.team_channel("platform")
    assert digests(seen) == []
    assert set(cards(seen)) == set(keys)


def test_edits_are_paced_by_an_allowance_of_their_own() -> None:
    """A digest's edits never take the channel's post slots: Slack's chat.update is
    counted workspace-wide (Tier 3), Discord's edits per channel, beside its posts."""
    pacer = Pacer(lambda: None)
    digest = Message(Kind.TRIAGE_DIGEST, Target.team("platform"), "Triage digest", update=True)
    for platform, channel in (("slack", "C1PLATFORM"), ("discord", "7101")):
        edit = channel_key(platform, digest, DeliveryContext(previous=PlatformRef(channel, "1")))
        post = channel_key(platform, Message(Kind.ALERT, Target.team("platform"), "x"),
                           DeliveryContext(address=channel))  # fmt: skip
        assert post == channel and edit == f"edit:{channel}"
        posts = {w.key for w in pacer.windows(platform, post)}
        edits = {w.key for w in pacer.windows(platform, edit)}
        assert posts.isdisjoint(edits) or platform == "discord"
    [slack_edits] = pacer.windows("slack", "edit:C1PLATFORM")
    assert (slack_edits.key, slack_edits.burst) == ("slack:edit:0:all", 5)
    route, everything = pacer.windows("discord", "edit:7101")
    assert route.key == "discord:0:edit:7101"
    assert everything.key == "discord:1:all"  # Discord's 50/s is one allowance for all


async def test_a_case_card_never_waits_behind_its_customer_or_its_lead(db: Database) -> None:
    """Order holds per case and destination: the card goes out while the customer's
    confirmation and a DM (the engineer's ping, the lead's "nobody can take") wait for their channels' pace,
    and a note for the staff thread still waits for the card it hangs from."""
    d = await Dialog.start(db)
    reply = await d.bot.commands.run(d.ctx("gus"), "open Dashboard shows no data --impact question")
    [key] = KEY.findall(reply.text)
    rows = await queued(db, key)
    lanes = [(r.kind, r.message["target"]["kind"]) for r in rows]
    assert lanes[:2] == [("case_opened", "case_customer"), ("triage_alert", "team")]
    assert ("case_customer" in dict(lanes[2:]).values()) and "person" in dict(lanes).values()
    # The customer's DM and the engineer's are full for a while (the pacer put them back).
    card = rows[1]
    await postpone(db, [r.id for r in rows if r.id != card.id], minutes=5)
    reply = await d.bot.commands.run(d.ctx("lee"), f"note {key} looking")  # not delivered yet
    assert reply.ok, reply.text
    note = (await queued(db, key))[-1]
    assert note.message["target"]["kind"] == "case_staff"

    runtime = d.bot.runtime
    ids = await claim(db, d.now, runtime.worker_id, ["console"], RetryPolicy())
    assert ids == [card.id]  # the card, and not the note behind it
    await runtime.dispatch().deliver_claimed(ids)

    await d.drain()
    assert [x.message.kind for x in d.delivered(TargetKind.TEAM)] == [Kind.TRIAGE_ALERT]
    assert d.delivered(TargetKind.CASE_STAFF, key)[-1].ctx.staff_thread is not None
    assert d.customer_thread(key) == []  # still waiting for its pace, not for the team


def test_a_discord_confirmation_is_paced_in_the_thread_it_opens() -> None:
    """On Discord the confirmation opens the case's private thread (a channel of its
    own), so a storm's confirmations never take the team channel's 5 per 5 s."""
    opened = Message(Kind.CASE_OPENED, Target(TargetKind.CASE_CUSTOMER, "CASE-7"), "opened",
                     case_key="CASE-7")  # fmt: skip
    ctx = DeliveryContext(team_channel="7101", origin_channel="7101", customer_user="42")
    assert channel_key("discord", opened, ctx) == "thread:CASE-7"
    assert channel_key("slack", opened, DeliveryContext(origin_channel="D42")) == "D42"
    later = Message(Kind.CASE_UPDATE, Target(TargetKind.CASE_CUSTOMER, "CASE-7"), "update",
                    case_key="CASE-7")  # fmt: skip
    thread = PlatformRef("7101", "9001", "9001")
    assert channel_key("discord", later, DeliveryContext(customer_thread=thread)) == "9001"


async def queued(db: Database, key: str) -> list[OutboxRow]:
    async with db.read() as s:
        rows = await s.scalars(
            select(OutboxRow).where(OutboxRow.case_key == key).order_by(OutboxRow.id)
        )
        return list(rows.all())


async def postpone(db: Database, ids: list[int], minutes: int) -> None:
    async with db.transaction() as s:
        for row_id in ids:
            row = await s.get(OutboxRow, row_id)
            assert row is not None
            row.next_attempt_at = row.next_attempt_at + timedelta(minutes=minutes)
