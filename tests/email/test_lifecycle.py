"""The rest of what a customer who only uses mail meets: knowledge-base suggestions with
a link that resolves the case, a rejection by reply keyword, the chase reminders, the
engineering-issue updates, and any ``/case`` command typed as the first line."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from bot.messages import TargetKind
from storage.keys import next_key
from storage.models import Case, KbArticle
from tests.email.conftest import World, text_of
from tests.email.test_dialog import ALICE, GUS, case_row, link


async def add_article(world: World, title: str, symptoms: str, resolution: str) -> str:
    now = world.clock.now()
    async with world.bot.db.transaction() as s:
        key = await next_key(s, "KB")
        s.add(
            KbArticle(
                key=key,
                title=title,
                symptoms=symptoms,
                cause="",
                resolution=resolution,
                area="api",
                tags=[],
                status="published",
                created_at=now,
                updated_at=now,
            )
        )
    return key


async def test_a_suggested_article_resolves_the_case_by_its_link(world: World) -> None:
    kb = await add_article(
        world,
        "Webhooks return 500 after token rotation",
        "Every webhook call fails with 500 after rotating the API token.",
        "Re-save each webhook so it picks up the new token.",
    )
    await world.mail(
        GUS, "Webhooks return 500 after rotating the token", "All webhook calls fail with 500."
    )
    [suggestions] = [
        m for m in world.inbox(GUS) if "do any of these articles solve it" in m["Subject"]
    ]
    body = text_of(suggestions)
    assert f"{kb} — Webhooks return 500 after token rotation" in body
    solved = link(body, f"This solved it ({kb})")
    async with aiohttp.ClientSession() as http:
        async with http.post(solved) as done:
            assert f"Glad {kb} solved it" in await done.text()
    await world.settle()
    case = await case_row(world, "CASE-1")
    assert (case.state, case.close_reason, case.kb_article_key) == ("resolved", "deflected", kb)


async def test_reject_by_reply_keyword_sends_the_case_back(world: World) -> None:
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.")
    await world.slack_says(ALICE, "replicating CASE-1")
    await world.slack_says(ALICE, "propose CASE-1 Re-save the webhook.")
    [proposal] = [m for m in world.inbox(GUS) if "proposes a resolution" in m["Subject"]]
    await world.reply_to(GUS, proposal, "REJECT still failing after re-saving\n\nGus")
    case = await case_row(world, "CASE-1")
    assert (case.state, case.rejection_reason) == ("replicating", "still failing after re-saving")
    [dm] = [m for m in world.posted(TargetKind.PERSON, "alice") if "rejected" in m.title]
    assert dm.text == "still failing after re-saving"


async def test_confirm_by_reply_keyword(world: World) -> None:
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.")
    await world.slack_says(ALICE, "replicating CASE-1")
    await world.slack_says(ALICE, "propose CASE-1 Re-save the webhook.")
    [proposal] = [m for m in world.inbox(GUS) if "proposes a resolution" in m["Subject"]]
    await world.reply_to(GUS, proposal, "Confirm")
    assert (await case_row(world, "CASE-1")).state == "resolved"
    assert [m for m in world.inbox(GUS) if "How happy are you" in m["Subject"]]


async def test_chase_reminders_come_by_mail_until_the_customer_answers(world: World) -> None:
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.")
    await world.slack_says(ALICE, "replicating CASE-1")
    await world.slack_says(ALICE, "need-info CASE-1 Which URL?")
    world.inbox(GUS)
    await world.advance("1bd")
    [reminder] = world.inbox(GUS)
    assert reminder["Subject"].startswith("[CASE-1] Reminder 1 on CASE-1")
    assert "Which URL?" in text_of(reminder)
    await world.reply_to(GUS, reminder, "https://hooks.globex.example/in")
    await world.advance("5bd")
    assert not [m for m in world.inbox(GUS) if "Reminder" in m["Subject"]]


async def test_engineering_updates_reach_the_customer_by_mail(world: World) -> None:
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.")
    await world.slack_says(ALICE, "replicating CASE-1")
    world.inbox(GUS)
    assert (await world.slack_says(ALICE, "defect CASE-1 Webhook signer keeps the old token")).ok
    assert (await world.slack_says("U1LEE", "eng status ENG-1 in_progress")).ok
    subjects = [m["Subject"] for m in world.inbox(GUS)]
    assert any("ENG-1" in s for s in subjects), subjects
    async with world.bot.db.read() as s:
        assert (await s.scalars(select(Case))).one().state == "waiting_on_engineering"


async def test_a_case_command_as_the_first_line(world: World) -> None:
    await world.mail(GUS, "Webhooks fail", "Every webhook returns 500.")
    [ack, *_] = world.inbox(GUS)
    await world.reply_to(GUS, ack, "/case show CASE-1")
    [answer] = world.inbox(GUS)
    assert "CASE-1" in text_of(answer) and "Webhooks fail" in text_of(answer)
