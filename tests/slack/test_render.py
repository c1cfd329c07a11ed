"""The Block Kit renderer and the text rules, without a server."""

from __future__ import annotations

import json
import re
from typing import Any

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


def parts(block: dict[str, Any]) -> list[tuple[str, str]]:
    """A rich_text block as (style, text) runs: "b" bold, "t" plain, "@" a mention."""
    runs: list[tuple[str, str]] = []
    for section in block["elements"]:
        for e in section["elements"]:
            if e["type"] == "user":
                runs.append(("@", e["user_id"]))
                continue
            style = "b" if (e.get("style") or {}).get("bold") else "t"
            if runs and runs[-1][0] == style:
                runs[-1] = (style, runs[-1][1] + e["text"])
            else:
                runs.append((style, e["text"]))
    return runs


def mrkdwn_texts(data: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn text object: the only places Slack would render formatting."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    return found


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


def test_a_card_has_a_header_text_and_labelled_fields() -> None:
    data = json.loads(wire(render_message(everything(Kind.TRIAGE_ALERT)).blocks))
    assert [b["type"] for b in data] == ["header", "rich_text", "rich_text", "actions"]
    assert data[0]["text"]["type"] == "plain_text"
    assert data[0]["text"]["text"] == ":inbox_tray: CASE-3: sync stalls"
    assert parts(data[1]) == [("t", "Details here.")]
    assert parts(data[2]) == [
        ("b", "Account"),
        ("t", ": Umbrella Labs\n"),
        ("b", "Severity"),
        ("t", ": S2"),
    ]


def test_a_thread_update_is_one_line_of_text() -> None:
    msg = Message(Kind.CASE_UPDATE, Target.case_staff("CASE-3"), "Note from Eve", "rebooted it")
    data = json.loads(wire(render_message(msg).blocks))
    assert len(data) == 1 and data[0]["type"] == "rich_text"
    assert parts(data[0]) == [("b", "Note from Eve"), ("t", "\nrebooted it")]


def test_long_fields_go_under_their_label() -> None:
    timeline = "\n".join(f"11-02 09:{i:02d} eve note" for i in range(10))
    msg = everything(
        Kind.ESCALATION_DM, fields=[Field("Severity", "S1"), Field("Timeline", timeline)]
    )
    runs = parts(json.loads(wire(render_message(msg).blocks))[2])
    assert runs[:3] == [("b", "Severity"), ("t", ": S1\n"), ("b", "Timeline")]
    assert runs[3][1].startswith("\n11-02 09:00 eve note\n11-02 09:01")


@pytest.mark.parametrize("typed", ["*urgent*", "~old~", "`code`", "_quiet_", "```block```"])
def test_what_a_customer_types_is_shown_as_typed_never_as_formatting(typed: str) -> None:
    """Slack's mrkdwn has no escape for its markers, so user text never goes in mrkdwn:
    it sits in rich_text elements, which Slack shows literally, with no style."""
    line = Message(
        Kind.CASE_UPDATE, Target.case_staff("CASE-3"), f"Carl wrote {typed}", f"it is {typed}"
    )
    card = everything(Kind.TRIAGE_ALERT, text=f"it is {typed}", fields=[Field("Title", typed)])
    for msg in (line, card):
        data = json.loads(wire(render_message(msg).blocks))
        assert not any(typed in t for t in mrkdwn_texts(data))
    assert parts(json.loads(wire(render_message(line).blocks))[0]) == [
        ("b", f"Carl wrote {typed}"),
        ("t", f"\nit is {typed}"),
    ]
    data = json.loads(wire(render_message(card).blocks))
    assert parts(data[1]) == [("t", f"it is {typed}")]
    assert parts(data[2]) == [("b", "Title"), ("t", f": {typed}")]


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
    data = json.loads(wire(rendered.blocks))
    assert unescaped_markup(wire(rendered.blocks)) == []
    assert parts(data[1]) == [
        ("@", "U0EVE"),
        ("t", " "),
        ("@", "U0DORA"),
        ("t", " for &lt;@U0FINN&gt;"),
    ]
    assert rendered.text.startswith("<@U0EVE> <@U0DORA> CASE-3")
    assert "&lt;@U0FINN&gt;" in wire(rendered.blocks)


def test_a_user_id_that_is_not_one_never_becomes_markup() -> None:
    rendered = render_message(everything(Kind.ASSIGNMENT_PING), ("U0EVE> <!channel", "U0EVE"))
    out = wire(rendered.blocks) + rendered.text
    assert unescaped_markup(out) == ["<@U0EVE>"]  # the fallback text's one real ping
    assert "U0EVE&gt; &lt;!channel" in out
    assert ("@", "U0EVE") in parts(json.loads(wire(rendered.blocks))[1])


def test_the_only_mrkdwn_is_ours_and_verbatim() -> None:
    rendered = render_reply("see #general @here", link=("https://x.example/p", "the page"))
    data = json.loads(wire(rendered.blocks))
    marked = [b["text"] for b in data if b["type"] == "section"]
    assert marked == [
        {"type": "mrkdwn", "text": "<https://x.example/p|the page>", "verbatim": True}
    ]


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
    rich = [b for b in data if b["type"] == "rich_text"]
    assert rich and all(sum(len(t) for _, t in parts(b)) <= 3000 for b in rich)
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
    assert parts(data[0])[0][1].startswith("Opened CASE-1: &lt;!here&gt; &amp; co")
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
