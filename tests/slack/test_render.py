"""The Block Kit renderer and the text rules, without a server."""

from __future__ import annotations

import json
import re

import pytest
from slack_sdk.models.blocks import Block

from adapters.slack.render import MAX_BLOCKS, render_message, render_reply
from adapters.slack.text import clip_escaped, escape, from_slack
from bot.messages import Action, Field, Kind, Message, Style, Target

INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0TEAM|@support>",
    "<@U0EVE>",
    "<#C0APPSTRIAGE>",
    "<https://evil.example|click me>",
]


def everything(kind: Kind, **kw: object) -> Message:
    base: dict[str, object] = {
        "kind": kind,
        "target": Target.case_customer("CASE-3"),
        "title": "CASE-3: sync stalls",
        "text": "Details here.",
        "fields": [Field("Account", "Umbrella Labs"), Field("Severity", "S2")],
        "actions": [Action("case:CASE-3:claim", "Claim", Style.PRIMARY)],
        "case_key": "CASE-3",
    }
    base.update(kw)
    return Message(**base)  # type: ignore[arg-type]


def wire(blocks: list[Block]) -> str:
    """The blocks as they go to Slack (to_dict also validates Block Kit's limits)."""
    return json.dumps([b.to_dict() for b in blocks])


def unescaped_markup(text: str) -> list[str]:
    """Every ``<…>`` Slack would parse as a mention / link in ``text``."""
    return re.findall(r"<[^<>]*>", text)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_renders_valid_block_kit_with_a_fallback(kind: Kind) -> None:
    rendered = render_message(everything(kind))
    assert rendered.text.startswith("CASE-3: sync stalls")
    assert "Account: Umbrella Labs" in rendered.text
    data = json.loads(wire(rendered.blocks))
    assert data[-1]["type"] == "actions"
    assert data[-1]["elements"][0]["action_id"] == "case:CASE-3:claim"
    assert data[-1]["elements"][0]["style"] == "primary"


def test_a_card_has_a_header_and_fields_side_by_side() -> None:
    data = json.loads(wire(render_message(everything(Kind.TRIAGE_ALERT)).blocks))
    assert [b["type"] for b in data] == ["header", "section", "section", "actions"]
    assert data[0]["text"]["type"] == "plain_text"
    assert data[0]["text"]["text"] == ":inbox_tray: CASE-3: sync stalls"
    assert [f["text"] for f in data[2]["fields"]] == ["*Account*\nUmbrella Labs", "*Severity*\nS2"]


def test_a_thread_update_is_one_line_of_text() -> None:
    msg = Message(Kind.CASE_UPDATE, Target.case_staff("CASE-3"), "Note from Eve", "rebooted it")
    data = json.loads(wire(render_message(msg).blocks))
    assert data == [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Note from Eve*\nrebooted it", "verbatim": True},
        }
    ]


def test_long_fields_get_a_full_width_section() -> None:
    timeline = "\n".join(f"11-02 09:{i:02d} eve note" for i in range(10))
    msg = everything(
        Kind.ESCALATION_DM, fields=[Field("Severity", "S1"), Field("Timeline", timeline)]
    )
    data = json.loads(wire(render_message(msg).blocks))
    assert data[2]["fields"][0]["text"] == "*Severity*\nS1"
    assert data[3]["text"]["text"].startswith("*Timeline*\n11-02 09:00")


@pytest.mark.parametrize("typed", INJECTIONS)
def test_user_text_can_never_ping_or_link(typed: str) -> None:
    msg = everything(
        Kind.CASE_UPDATE,
        title=f"Case {typed}",
        text=f"help {typed} & more",
        fields=[Field(f"label {typed}", f"value {typed}")],
        actions=[Action("case:CASE-3:kb_accept:KB-1", f"This solved it {typed}")],
    )
    rendered = render_message(msg)
    out = wire(rendered.blocks) + rendered.text
    assert unescaped_markup(out) == []
    assert escape(typed) in out
    assert "&amp; more" in out


def test_only_the_mentions_the_core_resolved_are_real() -> None:
    msg = everything(
        Kind.ASSIGNMENT_PING, text="for <@U0FINN>", mentions=["eve", "slack:U0DORA", "nobody"]
    )
    # The delivery context's mention_users: the Slack users of eve and slack:U0DORA
    # (nobody has no Slack user).
    rendered = render_message(msg, ("U0EVE", "U0DORA"))
    out = wire(rendered.blocks)
    assert unescaped_markup(out) == ["<@U0EVE>", "<@U0DORA>"]
    assert rendered.text.startswith("<@U0EVE> <@U0DORA> CASE-3")
    assert "&lt;@U0FINN&gt;" in out


def test_a_user_id_that_is_not_one_never_becomes_markup() -> None:
    rendered = render_message(everything(Kind.ASSIGNMENT_PING), ("U0EVE> <!channel", "U0EVE"))
    out = wire(rendered.blocks) + rendered.text
    assert unescaped_markup(out) == ["<@U0EVE>", "<@U0EVE>"]  # blocks, then fallback text
    assert "U0EVE&gt; &lt;!channel" in out


def test_mrkdwn_is_verbatim_so_slack_parses_nothing_by_itself() -> None:
    data = json.loads(
        wire(render_message(everything(Kind.INFO_REQUEST, text="see #general @here")).blocks)
    )
    texts = [b["text"] for b in data if b["type"] == "section" and "text" in b]
    assert texts and all(t["verbatim"] is True for t in texts)


def test_block_kit_limits_are_kept_by_clipping() -> None:
    msg = everything(
        Kind.KB_SUGGESTIONS,
        title="T" * 400,
        text=("x" * 120 + "\n") * 200,  # 24k characters
        fields=[Field(f"F{i}", "v") for i in range(25)],
        actions=[Action(f"case:CASE-3:rate:{i}", "L" * 100) for i in range(30)],
    )
    rendered = render_message(msg)
    data = json.loads(wire(rendered.blocks))  # to_dict validates every limit
    assert len(data) <= MAX_BLOCKS
    assert len(data[0]["text"]["text"]) <= 150
    sections = [b for b in data if b["type"] == "section" and "text" in b]
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert all(len(b.get("fields", [])) <= 10 for b in data)
    buttons = [e for b in data if b["type"] == "actions" for e in b["elements"]]
    assert len(buttons) == 30  # every button survives; the text gives way
    assert all(len(e["text"]["text"]) <= 75 for e in buttons)
    assert len(rendered.text) < 4000


def test_the_survey_prompt_has_five_rating_buttons() -> None:
    msg = Message(
        Kind.SURVEY_PROMPT,
        Target.case_customer("CASE-3"),
        "CASE-3 is closed. How did we do?",
        actions=[Action(f"case:CASE-3:rate:{n}", str(n)) for n in range(1, 6)],
        case_key="CASE-3",
    )
    data = json.loads(wire(render_message(msg).blocks))
    assert [e["text"]["text"] for e in data[-1]["elements"]] == ["1", "2", "3", "4", "5"]


def test_reply_text_is_escaped_and_split() -> None:
    rendered = render_reply("Opened CASE-1: <!here> & co\n" + "y" * 5000)
    data = json.loads(wire(rendered.blocks))
    assert data[0]["text"]["text"].startswith("Opened CASE-1: &lt;!here&gt; &amp; co")
    assert len(data) == 3
    assert render_reply("", ok=False).text == "That didn't work."


def test_clipping_never_cuts_an_entity_in_half() -> None:
    assert clip_escaped("abc<", 6) == "abc…"
    assert clip_escaped("a&b", 10) == "a&amp;b"


@pytest.mark.parametrize(
    ("incoming", "plain"),
    [
        ("a &amp; b &lt;3 &gt;", "a & b <3 >"),
        ("ping <!here> and <!channel>", "ping @here and @channel"),
        ("team <!subteam^S123|@support>", "team @support"),
        ("see <#C0ABC|general>", "see #general"),
        ("go <https://x.example/a?b=1|the docs>", "go the docs (https://x.example/a?b=1)"),
        ("<mailto:a@b.example|a@b.example>", "a@b.example"),
        ("<https://x.example>", "https://x.example"),
        ("literal &lt;@U0EVE&gt;", "literal <@U0EVE>"),
    ],
)
def test_slack_markup_comes_in_as_plain_words(incoming: str, plain: str) -> None:
    assert from_slack(incoming) == plain


def test_mentions_come_in_through_the_given_resolver() -> None:
    assert (
        from_slack("assign CASE-1 <@U0FINN|finn>", lambda u: {"U0FINN": "finn"}[u])
        == "assign CASE-1 finn"
    )
    assert from_slack("hi <@U0X>") == "hi <@U0X>"
