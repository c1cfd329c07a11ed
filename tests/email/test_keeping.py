"""What casebot keeps of mail and how it answers by itself (issue #13): attachments up
to the limit, fetched by signed-in staff only; a stranger's mail held for the lead and
placed in an account; the door's own answers surviving a mail server that is down."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from adapters.web.signing import Signer
from bot.held_mail import HELD
from bot.identity import UNKNOWN
from bot.mailroom import NOT_KEPT
from storage.mail import HeldMail, MailAttachment
from storage.models import Case
from tests.conftest import open_database
from tests.email.conftest import CONFIG, ENV, World, started, text_of

GUS = "gus@globex.example"
ZED = "zed@nowhere.example"
LINK = re.compile(r"Attachment A-(\d+): (\S+) \(([^)]*)\): (http\S+)")


async def description(world: World) -> str:
    async with world.bot.db.read() as s:
        return (await s.scalars(select(Case.description).order_by(Case.id.desc()))).first() or ""


async def fetch(url: str, person: str | None) -> aiohttp.ClientResponse:
    """``person`` opens ``url`` in a browser signed in to the dashboard (None: not)."""
    cookies = {}
    if person is not None:
        signer = Signer(ENV["CASEBOT_SECRET_KEY"])
        cookies["casebot_session"] = signer.sign("dashboard-session", {"p": person, "x": "c"})
    async with aiohttp.ClientSession(cookies=cookies) as http:
        async with http.get(url) as response:
            await response.read()
            return response


async def test_attachments_are_kept_up_to_the_limit_and_staff_fetch_them(any_world: World) -> None:
    world = any_world
    log, dump = b"line\n" * 600, b"x" * 60_000
    await world.mail(
        GUS, "Agent crash", "It crashes at start.", attach=[("trace.log", log), ("core", dump)]
    )
    text = await description(world)
    assert text.startswith("It crashes at start.\n\n")
    kept, big = LINK.findall(text)[0], text.splitlines()[-1]
    assert kept[1:3] == ("trace.log", "3 KB")
    assert big.endswith(f"core (59 KB): {NOT_KEPT}")
    [told] = [m for m in world.inbox(GUS) if "We could not keep" in text_of(m)]  # once
    assert "We could not keep core: we keep attachments up to 49 KB" in text_of(told)
    assert told["In-Reply-To"] is not None and told["Auto-Submitted"] == "auto-replied"

    # The engineer signed in to the dashboard downloads it, as a file, never a page.
    got = await fetch(kept[3], "alice")
    assert got.status == 200
    assert got.headers["Content-Disposition"].startswith('attachment; filename="trace.log"')
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert (await fetch(kept[3], "dana")).status == 200  # Globex's CSM, Globex's case
    # Nobody else: not signed in, a customer (even of the account), a forged link.
    assert (await fetch(kept[3], None)).status == 401
    assert (await fetch(kept[3], "gus")).status == 403
    assert (await fetch(kept[3], "ivy")).status == 403
    assert (await fetch(kept[3][:-3] + "abc", "alice")).status == 403


async def test_a_reply_keeps_its_attachment_on_the_case(world: World) -> None:
    await world.mail(GUS, "Agent crash", "It crashes at start.")
    ack = world.inbox(GUS)[0]
    await world.mail(
        GUS, "Re: " + str(ack["Subject"]), "Here is the log.", attach=[("a.log", b"ok")],
        headers={"In-Reply-To": str(ack["Message-ID"])},
    )  # fmt: skip
    async with world.bot.db.read() as s:
        events = (await s.scalars(select(Case.key))).all()
    assert events == ["CASE-1"]
    url = LINK.findall("\n".join(d.message.text for d in world.slack.deliveries))
    assert url and (await fetch(url[-1][3], "bruno")).status == 200


async def test_a_refused_mail_keeps_nothing(world: World) -> None:
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.")
    # Ivy (Initech) names Globex's case; a stranger writes with a file.
    await world.mail("ivy@initech.example", "Re: [CASE-1] x", "see", attach=[("a", b"1")])
    await world.mail(ZED, "Hello", "see", attach=[("b", b"2")])
    assert "There is no case CASE-1." in text_of(world.inbox("ivy@initech.example")[0])
    async with world.bot.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(MailAttachment)) == 0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def queued(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[World]:
    """The world with ``email.unknown_senders: queue``, on SQLite, then PostgreSQL."""
    db = await open_database(request, tmp_path, "pg_database")
    config = tmp_path / "casebot.yml"
    config.write_text(
        CONFIG.read_text().replace("  max_bytes: 200000\n", "  max_bytes: 200000\n  unknown_senders: queue\n")
    )  # fmt: skip
    async with started(sqlite_template, tmp_path, db=db, config=config) as w:
        yield w


async def test_a_strangers_mail_waits_for_the_lead_who_places_it(queued: World) -> None:
    world = queued
    await world.mail(ZED, "Invoices missing", "Where are our invoices?", attach=[("i.pdf", b"%")])
    await world.mail(ZED, "Invoices still missing", "Hello?")
    [held] = world.inbox(ZED)  # one polite answer, not one per mail
    assert text_of(held).strip() == HELD
    async with world.bot.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 0

    queue = await world.slack_says("U1LEE", "/case queue")
    assert "Mail waiting for an account (2):" in queue.text
    assert "M-1 from zed@nowhere.example: Invoices missing" in queue.text
    engineer = await world.slack_says("U1ALICE", "/case queue")
    assert "Mail waiting" not in engineer.text
    refused = await world.slack_says("U1ALICE", "/case accept-email M-1 initech")
    assert refused.text == "`/case accept-email` is not for you. Try `/case help`."
    wrong = await world.slack_says("U1LEE", "/case accept-email M-1 nowhere")
    assert wrong.text == "There is no account 'nowhere'. The accounts: globex, initech."

    placed = await world.slack_says("U1LEE", "/case accept-email M-1 initech")
    assert placed.text.startswith("Opened CASE-1 in Initech from M-1")
    async with world.bot.db.read() as s:
        case = (await s.scalars(select(Case))).one()
        rows = (await s.scalars(select(HeldMail.state).order_by(HeldMail.id))).all()
    assert (case.account_key, case.title) == ("initech", "Invoices missing")
    [(_, name, _, url)] = LINK.findall(case.description)  # the held mail's file moved along
    assert name == "i.pdf" and (await fetch(url, "chiara")).status == 200
    assert rows == ["accepted", "held"]
    [ack] = world.inbox(ZED)
    assert "[CASE-1]" in str(ack["Subject"])
    again = await world.slack_says("U1LEE", "/case accept-email M-1 globex")
    assert again.text == "M-1 was placed already: it opened CASE-1."
    # The other held mail is spam, say: the lead drops it; nothing more goes to them.
    dropped = await world.slack_says("U1LEE", "/case decline-email M-2")
    assert dropped.text == (
        "Dropped M-2 from zed@nowhere.example: no case was opened, and nothing more is sent."
    )
    twice = await world.slack_says("U1LEE", "/case decline-email M-2")
    assert twice.text == "M-2 was dropped already."
    placed_one = await world.slack_says("U1LEE", "/case decline-email M-1")
    assert placed_one.text == "M-1 was placed already: it opened CASE-1."
    assert "Mail waiting" not in (await world.slack_says("U1LEE", "/case queue")).text
    assert world.inbox(ZED) == []  # no mail about it
    # The sender is Initech's now: their next mail opens a case there at once.
    await world.mail(ZED, "Also the VAT", "The VAT number is wrong.")
    async with world.bot.db.read() as s:
        accounts = (await s.scalars(select(Case.account_key).order_by(Case.id))).all()
    assert accounts == ["initech", "initech"]


async def test_an_answer_waits_for_the_mail_server_and_arrives_once(world: World) -> None:
    port = world.outside.port
    await world.outside.stop()  # the mail server casebot sends through is down
    await world.mail(ZED, "Help", "Our webhooks fail.")
    await world.mail(ZED, "Help!", "Still failing.")
    assert world.inbox(ZED) == []
    await world.outside.start(port)  # back
    await world.advance("10m")
    await world.advance("10m")
    [answer] = world.inbox(ZED)
    assert text_of(answer).strip() == UNKNOWN
