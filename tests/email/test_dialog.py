"""The issue's dialog, end to end over real SMTP: a customer opens a case by mail, the
team works it in Slack, the customer answers by mail and confirms by a signed link, and
the survey comes by mail.

    gus (mail)   → support@        "Webhooks fail with 500"
    casebot      → gus             "[CASE-1] … opened"             (the acknowledgement)
    casebot      → #platform       triage alert                    (Slack)
    alice (Slack) need-info        → gus gets the question by mail
    gus (mail)   re: the question, quoted text below               → the staff thread,
                                                                     alice's DM; chase stops
    alice (Slack) propose          → gus gets the proposal, with links and keywords
    gus (browser) opens the confirm link, presses the button        → resolved
    casebot      → gus             the survey, one link per rating
"""

from __future__ import annotations

import re

import aiohttp
from sqlalchemy import select

from bot.messages import Kind, TargetKind
from storage.models import Case, CaseEvent, SurveyAnswer
from tests.email.conftest import SUPPORT, World, html_of, text_of

GUS = "gus@globex.example"
ALICE = "U1ALICE"


def link(mail_text: str, label: str) -> str:
    m = re.search(rf"^{re.escape(label)}: (http\S+)$", mail_text, re.M)
    assert m, f"no link {label!r} in:\n{mail_text}"
    return m.group(1)


async def case_row(world: World, key: str) -> Case:
    async with world.bot.db.read() as s:
        return (await s.scalars(select(Case).where(Case.key == key))).one()


async def events(world: World, key: str) -> list[CaseEvent]:
    case = await case_row(world, key)
    async with world.bot.db.read() as s:
        return list((await s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))).all())


async def test_open_by_mail_work_in_slack_answer_and_confirm_by_mail(any_world: World) -> None:
    world = any_world
    await world.mail(
        f"Gus Hartmann <{GUS}>",
        "Webhooks fail with 500 after token rotation",
        "Since this morning every webhook call returns 500.\n\nGus",
    )

    # The acknowledgement: by mail, the case key in the subject, the thread's root.
    ack, assigned = world.inbox(GUS)
    assert ack["Subject"] == "[CASE-1] opened: Webhooks fail with 500 after token rotation"
    assert assigned["Subject"] == "[CASE-1] Alice Romano is working on your case."
    assert "Webhooks fail with 500" in ack["Subject"]
    assert ack["Message-ID"] == "<casebot.CASE-1.root@casebot.example>"
    assert ack["From"] == f"Test Support <{SUPPORT}>"
    assert ack["Auto-Submitted"] == "auto-generated"
    case = await case_row(world, "CASE-1")
    assert (case.platform, case.opener_id, case.account_key) == ("email", "gus", "globex")
    assert case.description.startswith("Since this morning")

    # The team sees it in Slack: the triage alert in its channel, nothing by mail.
    [alert] = [m for m in world.posted(TargetKind.TEAM, "platform") if not m.update]
    assert alert.kind == Kind.TRIAGE_ALERT and alert.case_key == "CASE-1"
    assert all(m[1] == [GUS] for m in world.outside.mails)

    # Alice asks for information in Slack; Gus receives it by mail, threaded.
    assert (await world.slack_says(ALICE, "replicating CASE-1")).ok
    world.inbox(GUS)
    reply = await world.slack_says(
        ALICE, "need-info CASE-1 Which webhook URL, and when did you rotate the token?"
    )
    assert reply.ok, reply.text
    # One mail: the question (the state change it causes says nothing more by mail).
    [question] = world.inbox(GUS)
    assert question["Subject"] == "[CASE-1] Alice Romano needs more information on CASE-1"
    assert question["Subject"].startswith("[CASE-1] ")
    assert question["In-Reply-To"] == "<casebot.CASE-1.root@casebot.example>"
    assert "Which webhook URL" in text_of(question)
    assert "Which webhook URL" in html_of(question)

    # Gus answers by mail; the quoted question and his signature do not reach the case.
    await world.reply_to(
        f"Gus Hartmann <{GUS}>",
        question,
        "It is https://hooks.globex.example/in, rotated yesterday at 17:00.\n\n--\nGus Hartmann\nGlobex",
    )
    case = await case_row(world, "CASE-1")
    assert case.state == "replicating"
    [said] = [e for e in await events(world, "CASE-1") if e.kind == "customer_message"]
    assert said.text == "It is https://hooks.globex.example/in, rotated yesterday at 17:00."
    staff = world.posted(TargetKind.CASE_STAFF, "CASE-1")
    assert any("rotated yesterday" in m.text and ">" not in m.text for m in staff)
    assert any("rotated yesterday" in m.text for m in world.posted(TargetKind.PERSON, "alice"))
    # No chase reminder after the answer.
    world.inbox(GUS)
    await world.advance("3bd")
    assert not [m for m in world.inbox(GUS) if "Reminder" in m["Subject"]]

    # The proposal comes by mail with links and the reply keywords.
    assert (await world.slack_says(ALICE, "propose CASE-1 Re-save the webhook after rotating.")).ok
    [proposal] = world.inbox(GUS)
    assert proposal["Subject"] == "[CASE-1] Alice Romano proposes a resolution for CASE-1"
    body = text_of(proposal)
    assert "Re-save the webhook" in body
    assert "Reply CONFIRM if it is solved" in body
    confirm = link(body, "Confirm, it's solved")
    assert confirm.startswith(world.web.url + "/email/act/")

    # Gus confirms by the link: opening it changes nothing, pressing its button does.
    async with aiohttp.ClientSession() as http:
        async with http.get(confirm) as page:
            assert page.status == 200
            assert "Confirm, it&#x27;s solved" in await page.text()
        assert (await case_row(world, "CASE-1")).state == "solution_proposed"
        async with http.post(confirm) as done:
            assert done.status == 200
            assert "CASE-1 is resolved" in await done.text()
        await world.settle()
        async with http.post(confirm) as again:
            assert "Already done" in await again.text()
    assert (await case_row(world, "CASE-1")).state == "resolved"

    # The survey by mail: one signed link per rating; a rating then asks for a comment.
    [survey] = [m for m in world.inbox(GUS) if "How happy are you" in m["Subject"]]
    five = link(text_of(survey), "5")
    async with aiohttp.ClientSession() as http:
        async with http.post(five) as rated:
            page = await rated.text()
            assert rated.status == 200 and "<textarea" in page
            form = re.search(r'action="([^"]+)"', page)
            assert form
        async with http.post(world.web.url + form.group(1), data={"comment": "Quick & kind"}) as c:
            assert "Thanks for the comment" in await c.text()
    async with world.bot.db.read() as s:
        [answer] = (await s.scalars(select(SurveyAnswer))).all()
    assert (answer.rating, answer.comment, answer.person_id) == (5, "Quick & kind", "gus")


async def test_user_text_is_escaped_in_the_html_part(world: World) -> None:
    await world.mail(GUS, "API token question", "How do tokens work?")
    await world.slack_says(ALICE, "replicating CASE-1")
    world.inbox(GUS)
    await world.slack_says(ALICE, 'need-info CASE-1 <script>alert(1)</script> & <a href="x">y</a>')
    [question] = [m for m in world.inbox(GUS) if "needs more information" in m["Subject"]]
    html = html_of(question)
    assert "<script>" not in html and '<a href="x">' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;a href=&quot;x&quot;&gt;" in html
    assert "<script>alert(1)</script>" in text_of(question)  # plain text stays plain


async def test_the_health_check_reports_the_mail_side(world: World) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(world.web.url + "/healthz") as resp:
            report = await resp.json()
    assert report["email"]["ok"] and report["email"]["sends"]
    assert report["email"]["smtp_listen"].startswith("127.0.0.1:")


async def test_a_forged_or_foreign_link_does_nothing(world: World) -> None:
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.")
    [ack, *_] = world.inbox(GUS)
    escalate = link(text_of(ack), "Escalate")
    forged = escalate[:-3] + ("aaa" if not escalate.endswith("aaa") else "bbb")
    async with aiohttp.ClientSession() as http:
        async with http.post(forged) as resp:
            assert resp.status == 403 and "this link is not valid" in await resp.text()
    assert (await case_row(world, "CASE-1")).escalation_level == 0
