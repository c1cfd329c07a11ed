"""Hostile input: text that could disguise itself on the way out."""

from __future__ import annotations

import json

from adapters.slack.text import clip_escaped, escape
from tests.slack.conftest import CUSTOMER, SHARED, TRIAGE, World
from tests.slack.fake_slack import shown

BIDI = "".join(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def test_bidi_controls_are_removed_from_user_text() -> None:
    typed = f"invoice{BIDI}fdp.exe <b> & done"
    assert escape(typed) == "invoicefdp.exe &lt;b&gt; &amp; done"
    assert not set(BIDI) & set(clip_escaped("a\u202eb" * 50, 20))
    assert escape("\u200f kept, \u00e9 kept") == "\u200f kept, \u00e9 kept"


MASKED = "<https://evil.example|login>"  # what Slack sends for a masked link


async def test_a_masked_link_shows_its_url_in_everything_the_bot_posts(world: World) -> None:
    await world.slack.command(CUSTOMER, f"open Please {MASKED} now", channel=SHARED)
    await world.settle()
    case_message = world.fake.posts(SHARED, top=True)[0]
    await world.slack.say(CUSTOMER, SHARED, f"see {MASKED}", thread_ts=case_message["ts"])
    await world.settle()
    sent = json.dumps([c.params for c in world.fake.calls if c.method != "users.info"])
    assert "login (https://evil.example)" in sent
    assert "|login" not in sent and "<https://evil.example" not in sent
    staff = world.fake.posts(TRIAGE, thread=world.fake.posts(TRIAGE, top=True)[0]["ts"])
    assert any("see login (https://evil.example)" in m["text"] for m in staff)


def _mrkdwn(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for v in node.values() for t in _mrkdwn(v)]
    if isinstance(node, list):
        return [t for v in node for t in _mrkdwn(v)]
    return []


async def test_staff_read_what_the_customer_typed_not_slack_formatting(world: World) -> None:
    """Carl types Slack's markers; the triage alert and the staff thread show the
    characters he typed (rich_text, which Slack never formats), never bold or struck."""
    typed = "sync *stalls* ~since~ `10:00` _again_"
    await world.slack.command(CUSTOMER, f"open {typed}", channel=SHARED)
    await world.settle()
    case_message = world.fake.posts(SHARED, top=True)[0]
    await world.slack.say(CUSTOMER, SHARED, f"still {typed}", thread_ts=case_message["ts"])
    await world.settle()
    alert = world.fake.posts(TRIAGE, top=True)[0]
    staff = world.fake.posts(TRIAGE, thread=alert["ts"])
    seen = [shown(m["blocks"]) for m in [alert, *staff]]
    assert any(typed in text for text in seen)
    assert any(f"still {typed}" in text for text in seen)
    for m in [alert, *staff, case_message]:
        assert not any("*stalls*" in t or "~since~" in t for t in _mrkdwn(m["blocks"]))


# -- requests that must not reach a parser, or the listeners ------------------------------

FORM = "application/x-www-form-urlencoded"


async def rows(world: World) -> tuple[int, int]:
    from sqlalchemy import func, select

    from storage.models import Case, OutboxRow

    async with world.bot.db.read() as s:
        cases = (await s.execute(select(func.count()).select_from(Case))).scalar_one()
        out = (await s.execute(select(func.count()).select_from(OutboxRow))).scalar_one()
    return int(cases), int(out)


def interactive(payload: object) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(payload)}).encode()


UNSIGNED = [
    # (body, content type, timestamp, signature, status)
    (b"command=/case&text=open+x&user_id=U1", FORM, "yesterday", "v0=abc", 401),
    (b"command=/case&text=open+x&user_id=U1", FORM, None, "", 401),
    (b"payload=%7Bnot-json", FORM, None, "v0=deadbeef", 401),
    (b"command=/case&text=open+x&user_id=U1", FORM, "1000000000", None, 401),  # stale
    (b"x" * 2_000_000, FORM, None, None, 413),
]

SIGNED_GARBAGE = [
    interactive([1, 2, 3]),
    interactive({"type": "block_actions", "actions": [{"action_id": "case:CASE-1:claim"}]}),
    interactive({"type": "block_actions", "user": {"id": CUSTOMER}, "actions": []}),
    interactive({"type": "block_actions", "user": {"id": CUSTOMER}, "actions": [{"action_id": 7}]}),
    interactive({"type": "view_submission", "user": {"id": CUSTOMER}}),
    b"payload=%7Bnot-json",
    b"text=open+x",  # no command, no payload
]


async def test_unsigned_and_malformed_requests_are_refused_quietly(world: World, caplog) -> None:  # type: ignore[no-untyped-def]
    before = await rows(world)
    for body, kind, ts, sig, status in UNSIGNED:
        answer = await world.slack.post(body, kind, timestamp=ts, signature=sig)
        assert answer.status == status, (body[:40], answer.status)
    for body in SIGNED_GARBAGE:
        answer = await world.slack.post(body, FORM)
        assert answer.status == 400, (body[:60], answer.status)
    event = json.dumps({"type": "event_callback", "team_id": "T1"}).encode()
    assert (await world.slack.post(event, "application/json")).status == 400
    assert (await world.slack.post(b"[1]", "application/json")).status == 400
    await world.settle()
    assert await rows(world) == before
    assert not [r for r in caplog.records if r.exc_info], "a refusal logged a traceback"
    # One line per reason, however many came.
    refusals = [r for r in caplog.records if "refused a request" in r.getMessage()]
    assert len(refusals) == len({r.getMessage() for r in refusals})
