"""Nothing a user types can ping anyone; unknown people are refused politely; errors and
private answers are ephemeral."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from bot.config import Config, parse_config
from storage.models import Case
from tests.discord.conftest import (
    APPS,
    CONFIG,
    CUSTOMER_ROLE,
    ENG,
    INES,
    LENA,
    LOBBY,
    OMAR,
    ORBIT_CHANNEL,
    ROSA,
    STAFF,
    TOMAS,
    ZED,
    World,
)
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
        assert "\\[login\\](https://evil.example)" in raw or "login" not in raw
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


# Masked links in every form Discord renders: after one plain bracket, nested, repeated,
# with an <url>, and a label that looks like another address.
HOSTILE = (
    "see [docs] or [click here](https://evil.example/a)",
    "[[nested](https://good.example)](https://evil.example/b)",
    "[label](<https://evil.example/c>) then [again](<https://evil.example/d>)",
    "[https://bank.example](https://evil.example/e) and <https://evil.example/f>",
)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def shown_texts(world: World) -> list[str]:
    """Every text of every message the adapter sent or that Discord holds from it."""
    messages = bodies(world) + [
        m for m in world.fake.messages.values() if int(m["author"]["id"]) == world.fake.bot_id
    ]
    out: list[str] = []
    for body in messages:
        out.append(body.get("content") or "")
        for embed in body.get("embeds") or []:
            out += [embed.get("title") or "", embed.get("description") or ""]
            out += [
                (embed.get(k) or {}).get(n) or ""
                for k, n in (("footer", "text"), ("author", "name"))
            ]
            for f in embed.get("fields") or []:
                out += [f.get("name") or "", f.get("value") or ""]
    return [text for text in out if text]


def renders_a_masked_link(raw: str) -> bool:
    """Whether Discord could read a masked link in ``raw``: a ``[`` and, after it, a
    ``](``, neither escaped by a backslash."""
    plain: list[str] = []  # escaped characters become a placeholder
    i = 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            plain.append("\x00")
            i += 2
            continue
        plain.append(raw[i])
        i += 1
    return re.search(r"\[.*\]\s*\(", "".join(plain), re.DOTALL) is not None


async def test_no_masked_link_survives_on_any_path(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(
        ROSA,
        asked,
        title=HOSTILE[0],
        area="sync",
        type="broken",
        impact="blocked",
        description="\n".join(HOSTILE),
    )
    thread = world.case_thread()
    steps: list[tuple[int, int, str, dict[str, str], str]] = [
        (OMAR, APPS, "reply", {"case": "CASE-1", "text": HOSTILE[1]}, "Sent to"),
        (ROSA, APPS, "reply", {"case": "CASE-1", "text": HOSTILE[2]}, "Sent on"),
        (OMAR, APPS, "need-info", {"case": "CASE-1", "question": HOSTILE[3]}, "Asked"),
        (OMAR, APPS, "note", {"case": "CASE-1", "text": HOSTILE[1]}, "Noted"),
        (OMAR, APPS, "eng defect", {"case": "CASE-1", "title": HOSTILE[2]}, "Logged"),
        (
            OMAR,
            ENG,
            "eng status",
            {"issue": "ENG-1", "status": "fixed", "note": HOSTILE[3]},
            "ENG-1 is",
        ),
    ]
    for user, channel, path, options, answer in steps:
        done = await world.slash(user, channel, path, **options)
        assert done.text().startswith(answer), (path, done.text())
    await world.say(ROSA, thread, HOSTILE[0])  # to omar's DMs and the staff thread

    texts = shown_texts(world)
    for raw in texts:
        assert not renders_a_masked_link(raw), raw
    # Shown exactly as typed, every real URL in view.
    for hostile in HOSTILE:
        assert any(hostile in displayed(raw) for raw in texts), hostile
    assert "\n".join(HOSTILE) in [displayed(raw) for raw in texts]  # the description
    staff = world.fake.threads_in(APPS)
    assert any(t["type"] == 11 for t in staff)  # the staff thread got its note too
    assert world.fake.dms(OMAR) and world.fake.bot_posts(ENG)


async def test_bidi_controls_are_removed(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(
        ROSA,
        asked,
        title=f"Invoice{BIDI[4]}fdp.exe",
        area="sync",
        type="broken",
        impact="blocked",
        description=f"a{BIDI}b",
    )
    await world.slash(OMAR, APPS, "reply", case="CASE-1", text=f"see{BIDI[5]} this")
    texts = shown_texts(world)
    assert texts and not any(c in raw for raw in texts for c in BIDI)
    assert "ab" in [displayed(raw) for raw in texts]
    assert any("Invoicefdp.exe" in displayed(raw) for raw in texts)
    assert not any(c in world.fake.channels[world.case_thread()]["name"] for c in BIDI)


def staffed_config() -> Config:
    data = yaml.safe_load(CONFIG.read_text())
    for team in data["teams"]:
        if team["key"] == "apps":
            team["staff_channels"] = {"discord": str(STAFF)}
    return parse_config(yaml.safe_dump(data), "staffed casebot.yml")


@pytest.mark.parametrize("config", [staffed_config()], ids=["staff_channel"])
async def test_internal_notes_stay_in_the_staff_channel(world: World) -> None:
    asked = await world.slash(ROSA, APPS, "open")
    await world.submit(
        ROSA, asked, title="Invoice charged twice", area="billing", type="broken", impact="blocked"
    )
    # The customer's private thread is still in the team channel (Helix Bio has no
    # channel of its own); the alert, and the staff thread under it, are in the staff one.
    thread = world.case_thread(APPS)
    assert ROSA in world.fake.thread_members[thread]
    alert = world.last_post_with(STAFF, "case:CASE-1:claim")
    await world.press(INES, alert, "case:CASE-1:claim")
    await world.slash(INES, STAFF, "note", case="CASE-1", text="Refund looks safe.")
    staff_thread = world.fake.channels[int(alert["id"])]
    assert staff_thread["type"] == 11 and staff_thread["parent_id"] == str(STAFF)
    assert any(e["title"] == "Note from Ines Duarte" for e in world.embeds(int(alert["id"])))
    # Nothing internal in the channel customers can read, nor in its threads.
    assert world.fake.bot_posts(APPS) == []
    assert [t["type"] for t in world.fake.threads_in(APPS)] == [12]
    for posted in world.fake.bot_posts(thread):
        assert "Refund looks safe." not in str(posted)
    # A customer whose account has its own channel still gets the thread there.
    asked = await world.slash(LENA, ORBIT_CHANNEL, "open")
    await world.submit(
        LENA, asked, title="Sync stalls at night", area="sync", type="broken", impact="blocked"
    )
    assert LENA in world.fake.thread_members[world.case_thread(ORBIT_CHANNEL)]
    assert any("CASE-2" in title for title in world.titles(STAFF)), world.titles(STAFF)
    assert [t["type"] for t in world.fake.threads_in(APPS)] == [12]
