"""Nothing a user types can ping anyone; unknown people are refused politely; errors and
private answers are ephemeral."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from storage.models import Case
from tests.discord.conftest import APPS, CUSTOMER_ROLE, INES, LOBBY, OMAR, ROSA, TOMAS, ZED, World
from tests.discord.fake_discord import EPHEMERAL, displayed

ATTACK = f"@everyone @here <@&{CUSTOMER_ROLE}> <@{OMAR}> <@!{INES}> **urgent** [login](https://evil.example)"


def bodies(world: World) -> list[dict[str, Any]]:
    """Every message body the adapter sent: posts, edits, interaction answers, follow-ups."""
    out = []
    for call in world.fake.calls:
        body = call.body if isinstance(call.body, dict) else {}
        if call.path.endswith("/callback"):
            body = body.get("data") or {}
        if "content" in body or "embeds" in body:
            out.append(body)
    return out


def assert_nobody_pinged_but(world: World, allowed: set[int]) -> None:
    for message_id, pings in world.fake.pings.items():
        message = world.fake.messages[message_id]
        if int(message["author"]["id"]) != world.fake.bot_id:
            continue
        assert not pings.everyone and not pings.roles, message
        assert pings.users <= allowed, message


async def test_mentions_typed_by_a_customer_never_ping(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(
        ROSA,
        asked,
        title=f"Sync {ATTACK}",
        area="sync",
        type="broken",
        impact="blocked",
        description=ATTACK,
    )
    thread = world.case_thread()
    await world.slash(OMAR, APPS, "replicating", case="CASE-1")
    await world.slash(OMAR, APPS, "need-info", case="CASE-1", question=ATTACK)
    await world.say(ROSA, thread, ATTACK)  # the answer reaches omar's DMs and the staff thread
    await world.slash(ROSA, APPS, "feedback", text=ATTACK)
    await world.slash(ROSA, APPS, "show", case="CASE-1")

    # Only the pings casebot meant (omar's assignment ping and "Rosa wrote" DM).
    assert_nobody_pinged_but(world, {OMAR})
    assert any(p.users == {OMAR} for p in world.fake.pings.values())
    for body in bodies(world):
        assert body.get("allowed_mentions", {}).get("parse") == [], body
    # Shown exactly as typed: a reader sees the words, not mentions or a masked link.
    opened = world.fake.bot_posts(thread)[0]["embeds"][0]
    assert displayed(opened["title"]) == f"CASE-1 opened: Sync {ATTACK}"
    for raw in (opened["title"], opened["description"] or ""):
        assert "@everyone" not in raw and "@here" not in raw and f"<@{OMAR}>" not in raw
        assert "\\[login](https://evil.example)" in raw or "login" not in raw
    # Thread names are plain text and never render mentions either.
    assert world.fake.channels[thread]["name"].startswith("CASE-1 opened: Sync @everyone")


async def test_a_staff_reply_is_escaped_as_well(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(ROSA, asked, title="Sync lag", area="sync", type="broken", impact="blocked")
    await world.slash(OMAR, APPS, "reply", case="CASE-1", text=ATTACK)
    last = world.fake.bot_posts(world.case_thread())[-1]["embeds"][0]
    assert displayed(last["description"]) == ATTACK
    assert_nobody_pinged_but(world, {OMAR})


async def test_a_stranger_is_refused_politely_and_privately(world: World) -> None:
    refused = await world.slash(ZED, APPS, "open", title="Let me in")
    assert refused.text().startswith("Sorry, I don't know you yet")
    assert refused.original is not None and refused.original["flags"] & EPHEMERAL
    async with world.bot.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Case))).scalar_one() == 0
    # Nor can a stranger work a case from its buttons.
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(
        ROSA, asked, title="Invoice charged twice", area="billing", type="broken", impact="blocked"
    )
    alert = world.last_post_with(APPS, "case:CASE-1:claim")
    pressed = await world.press(ZED, alert, "case:CASE-1:claim")
    assert pressed.text().startswith("Sorry, I don't know you yet") and pressed.ephemeral()
    # A customer is known but may not claim.
    pressed = await world.press(ROSA, alert, "case:CASE-1:claim")
    assert "not for you" in pressed.text() and pressed.ephemeral()
    assert world.buttons(world.fake.messages[int(alert["id"])])[0] == "case:CASE-1:claim"


async def test_a_member_with_the_account_role_is_that_account_s_customer(world: World) -> None:
    listed = await world.slash(TOMAS, APPS, "list")
    assert listed.text() == "No cases."
    opened = await world.slash(TOMAS, APPS, "open", title="Invoice charged twice")
    assert opened.text().startswith("Opened CASE-1")
    mine = await world.slash(ROSA, APPS, "list")  # the same account sees it
    assert "CASE-1" in mine.text()


async def test_in_a_dm_the_account_role_is_looked_up_in_the_server(world: World) -> None:
    await world.client.sync_global()  # DMs only see global commands
    dm = await world.fake._create_dm(body={"recipient_id": str(TOMAS)}, query={})
    listed = await world.slash(TOMAS, int(dm["id"]), "list")
    assert listed.text() == "No cases."
    assert world.fake.requests("GET", rf"/guilds/\d+/members/{TOMAS}")
    # A stranger in a DM is still a stranger.
    dm = await world.fake._create_dm(body={"recipient_id": str(ZED)}, query={})
    refused = await world.slash(ZED, int(dm["id"]), "list")
    assert refused.text().startswith("Sorry, I don't know you yet")


async def test_messages_outside_case_threads_are_left_alone(world: World) -> None:
    await world.say(ROSA, LOBBY, "hello everyone")
    assert world.fake.reactions == []
    assert world.fake.bot_posts(LOBBY) == []


async def test_a_form_with_errors_comes_back_with_what_was_typed(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    wrong = await world.submit(
        ROSA,
        asked,
        title="",
        area="sync",
        type="broken",
        impact="blocked",
        description="Lag since Friday",
    )
    assert wrong.ephemeral()
    # The core's problem, by the form's label, said once.
    assert "• Title: Give the case a title." in wrong.text()
    assert wrong.text().count("Give the case a title.") == 1
    fix = wrong.original
    assert fix is not None and world.buttons(fix) == ["discord:form:open"]
    again = await world.press(ROSA, int(fix["id"]), "discord:form:open")
    assert again.response_type == 9 and again.modal is not None
    fields = {c["component"]["custom_id"]: c["component"] for c in again.modal["components"]}
    assert fields["description"]["value"] == "Lag since Friday"
    assert [o["value"] for o in fields["area"]["options"] if o.get("default")] == ["sync"]
    done = await world.submit(
        ROSA, again, title="Sync lag", area="sync", type="broken", impact="blocked"
    )
    assert done.text().startswith("Opened CASE-1")
