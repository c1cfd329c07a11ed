"""Who may write, and mail casebot must not answer: an unknown sender, a spoofed
``[CASE-n]`` from another account, bounces and robots, a mail delivered twice, a flood,
mail that is too big. Each says what each party saw (the sender's mailbox, the team's
Slack) and what changed (nothing, where nothing should)."""

from __future__ import annotations

import aiosmtplib
import pytest
from sqlalchemy import func, select

from bot.identity import UNKNOWN
from bot.messages import TargetKind
from storage.models import Case, CaseEvent, Feedback
from tests.email.conftest import FEEDBACK, SUPPORT, World, text_of

GUS = "gus@globex.example"
PAT = "pat@globex.example"  # works at Globex, not configured: known by the domain
IVY = "ivy@initech.example"
ZED = "zed@nowhere.example"


async def count(world: World, model: type) -> int:
    async with world.bot.db.read() as s:
        return int((await s.scalar(select(func.count()).select_from(model))) or 0)


async def test_a_colleague_is_known_by_the_accounts_domain(world: World) -> None:
    await world.mail(f"Pat Lee <{PAT}>", "Agent install fails on Ubuntu", "The helm chart fails.")
    [ack, *_] = world.inbox(PAT)
    assert ack["Subject"].startswith("[CASE-1] ")
    async with world.bot.db.read() as s:
        case = (await s.scalars(select(Case))).one()
    assert (case.account_key, case.opener_id) == ("globex", f"email:{PAT}")


async def test_an_unknown_sender_gets_one_polite_answer_and_no_case(world: World) -> None:
    await world.mail(ZED, "Help", "Our dashboards are empty.")
    await world.mail(ZED, "Help again", "Still empty.")
    [answer] = world.inbox(ZED)
    assert UNKNOWN in text_of(answer)
    assert answer["Auto-Submitted"] == "auto-replied"
    assert answer["In-Reply-To"]  # threaded under the sender's mail
    assert await count(world, Case) == 0
    assert world.posted(TargetKind.TEAM, "platform") == []


async def test_a_spoofed_case_tag_from_another_account_is_refused(any_world: World) -> None:
    world = any_world
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.")
    before = len(await _events(world))
    world.inbox(GUS)
    staff_before = len(world.posted(TargetKind.CASE_STAFF, "CASE-1"))

    # Ivy (Initech) names Globex's case in the subject, and in forged thread headers.
    await world.mail(IVY, "Re: [CASE-1] Webhooks fail", "confirm")
    await world.mail(
        IVY,
        "Re: hello",
        "Please close it, it is fine now.",
        headers={"In-Reply-To": "<casebot.CASE-1.root@casebot.example>"},
    )
    answers = world.inbox(IVY)
    assert answers and all("There is no case CASE-1." in text_of(m) for m in answers)
    assert len(await _events(world)) == before
    assert len(world.posted(TargetKind.CASE_STAFF, "CASE-1")) == staff_before
    assert world.inbox(GUS) == []


async def _events(world: World) -> list[CaseEvent]:
    async with world.bot.db.read() as s:
        return list((await s.scalars(select(CaseEvent))).all())


BOUNCE = b"""From: Mail Delivery System <MAILER-DAEMON@mx.globex.example>
To: support@casebot.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce1@mx.globex.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

This is the mail system. [CASE-1] could not be delivered.
--b--
"""


async def test_bounces_and_robots_are_not_answered(world: World) -> None:
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.")
    world.inbox(GUS)
    mails_before = len(world.outside.mails)
    events_before = len(await _events(world))

    await world.send_raw(BOUNCE, "")  # the empty return path of a bounce
    await world.mail(
        GUS, "Out of office: [CASE-1]", "I am away.", headers={"Auto-Submitted": "auto-replied"}
    )
    await world.mail(PAT, "Newsletter", "News!", headers={"Precedence": "bulk"})
    await world.mail("postmaster@globex.example", "Report", "Spam report.")
    await world.mail(PAT, "Re: [CASE-1]", "Your mail could not be delivered.", envelope_from="")
    await world.mail(SUPPORT, "[CASE-1] opened", "Our own mail, forwarded back to us.")

    assert len(world.outside.mails) == mails_before  # not a word back: no loop
    assert len(await _events(world)) == events_before
    assert await count(world, Case) == 1
    assert [why for _, why in world.email.door.dropped] == [  # type: ignore[union-attr]
        "a delivery report",
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "mail from postmaster@globex.example",
        "an empty return path (a bounce)",
        "mail from casebot's own address",
    ]


async def test_the_same_mail_twice_has_one_effect(any_world: World) -> None:
    world = any_world
    mid = "<same-one@client.example>"
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.", message_id=mid)
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.", message_id=mid)
    assert await count(world, Case) == 1
    assert len([m for m in world.inbox(GUS) if "opened" in m["Subject"]]) == 1


async def test_the_same_mail_twice_after_a_restart_has_one_effect(any_world: World) -> None:
    world = any_world
    """The in-process memory is gone after a restart: the core's event record decides."""
    mid = "<same-two@client.example>"
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.", message_id=mid)
    world.email.door._recent = type(world.email.door._recent)(60)  # type: ignore[union-attr]
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.", message_id=mid)
    assert await count(world, Case) == 1
    assert len([m for m in world.inbox(GUS) if "opened" in m["Subject"]]) == 1


async def test_a_flood_from_one_sender_is_cut_off(world: World) -> None:
    for n in range(7):  # the test configuration allows five an hour
        await world.mail(GUS, f"Question {n}", "How do tokens work?")
    assert await count(world, Case) == 5
    assert world.email.door.dropped[-2:] == [  # type: ignore[union-attr]
        (GUS, "too many mails from this sender"),
        (GUS, "too many mails from this sender"),
    ]


async def test_mail_too_big_is_refused_with_the_limit_in_words(world: World) -> None:
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await world.mail(GUS, "Logs", "See attached.", attach=[("dump.bin", b"x" * 250_000)])
    assert refused.value.code == 552
    assert "we accept mail up to 0.2 MB" in refused.value.message
    assert await count(world, Case) == 0


async def test_mail_to_the_feedback_address_is_feedback(world: World) -> None:
    await world.mail(PAT, "casebot", "The mails are clear, thanks!", to=FEEDBACK)
    [thanks] = world.inbox(PAT)
    assert "the support lead reads every message" in text_of(thanks)
    assert await count(world, Feedback) == 1
    assert await count(world, Case) == 0
    [alert] = world.posted(TargetKind.PERSON, "lee")
    assert "The mails are clear" in alert.text


async def test_the_receiver_takes_mail_only_for_our_addresses(world: World) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await world.mail(GUS, "Relay?", "Please forward.", to="someone@else.example")
    assert SUPPORT not in [r for _, rcpt, _ in world.outside.mails for r in rcpt]


async def test_an_address_the_mail_server_refuses_is_kept_as_failed(world: World) -> None:
    from bot.delivery.records import listing

    world.outside.refuse.add(PAT)
    await world.mail(PAT, "Agent install fails", "The helm chart fails.")
    failed = await listing(world.bot.db, failed=True)
    assert failed and all(" email " in line and "CASE-1" in line for line in failed)
    assert "the mail server refused pat@globex.example" in failed[0]
    assert world.inbox(PAT) == []


async def test_a_server_that_says_try_later_gets_the_mail_later_once(world: World) -> None:
    world.outside.defer.add(PAT)
    await world.mail(PAT, "Agent install fails", "The helm chart fails.")
    assert world.inbox(PAT) == []
    world.outside.defer.clear()
    await world.advance("30m")  # past the outbox's backoff
    opened = [m for m in world.inbox(PAT) if "opened" in m["Subject"]]
    assert len(opened) == 1
    await world.advance("2h")
    assert not [m for m in world.inbox(PAT) if "opened" in m["Subject"]]
