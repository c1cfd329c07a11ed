"""The core's neutral messages as Discord embeds, buttons and modals (no network)."""

from __future__ import annotations

import discord
import pytest

from adapters.discord import text as t
from adapters.discord.components import (
    FORM_PREFIX,
    ActionButton,
    action_view,
    form_id_of,
    modal_values,
    prompt_modal,
)
from adapters.discord.render import COLOURS, embed_for, render, reply_payload
from bot import actions as bot_actions
from bot.exchange import Option, Prompt, PromptField
from bot.messages import Action, Field, Kind, Message, Style, Target

pytestmark = pytest.mark.asyncio  # views and modals need a running loop


def msg(**kw: object) -> Message:
    base: dict[str, object] = {
        "kind": Kind.TRIAGE_ALERT,
        "target": Target.team("apps"),
        "title": "New case CASE-3 [S2]: sync lag",
        "case_key": "CASE-3",
    }
    base.update(kw)
    return Message(**base)  # type: ignore[arg-type]


# -- escaping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "@everyone look",
        "@here now",
        "<@710000000000000201>",
        "<@!710000000000000201>",
        "<@&710000000000000401>",
    ],
)
async def test_mentions_are_broken_with_a_zero_width_space(typed: str) -> None:
    out = t.escape(typed)
    assert "@\u200b" in out
    for live in ("@everyone", "@here", "<@7", "<@!7", "<@&7"):
        assert live not in out


async def test_markdown_is_shown_as_typed() -> None:
    out = t.escape(
        "**bold** _it_ ~~x~~ ||spoiler|| `code` > quote\n# Heading\n[click](https://evil.example)"
    )
    assert out.startswith("\\*\\*bold\\*\\* \\_it\\_ \\~\\~x\\~\\~ \\|\\|spoiler\\|\\| \\`code\\`")
    assert "\n\\# Heading" in out
    assert "\\[click\\](https://evil.example)" in out
    assert t.escape("CASE-1 [S2]: sync") == "CASE-1 [S2]: sync"  # no link, nothing to hide


async def test_links_stay_clickable() -> None:
    assert t.escape("see https://docs.example/a_b_c") == "see https://docs.example/a_b_c"


async def test_clip_never_leaves_a_dangling_backslash() -> None:
    escaped = t.escape("a*b*c*d")  # a\*b\*c\*d
    for limit in range(2, len(escaped)):
        clipped = t.clip(escaped, limit)
        assert len(clipped) <= limit
        body = clipped.removesuffix(t.ELLIPSIS)
        assert (len(body) - len(body.rstrip("\\"))) % 2 == 0


async def test_only_the_listed_users_may_be_pinged() -> None:
    none = t.no_pings().to_dict()
    assert none == {"parse": []}
    some = t.only_users(["710000000000000201"]).to_dict()
    assert some["parse"] == [] and some["users"] == [710000000000000201]


# -- embeds ------------------------------------------------------------------------------------


async def test_a_message_becomes_one_embed_with_its_fields_and_footer() -> None:
    m = msg(
        text="The sync lags.",
        fields=[Field("Account", "Helix Bio"), Field("Knowledge base", "KB-1\nKB-2")],
    )
    embed = embed_for(m).to_dict()
    assert embed["title"] == "New case CASE-3 [S2]: sync lag"
    assert embed["description"] == "The sync lags."
    assert embed["color"] == COLOURS[Kind.TRIAGE_ALERT]
    assert embed["fields"][0] == {"name": "Account", "value": "Helix Bio", "inline": True}
    assert embed["fields"][1]["inline"] is False  # several lines get a row of their own
    assert embed["footer"]["text"] == "CASE-3"


async def test_an_embed_stays_within_every_discord_limit() -> None:
    huge = "x" * 10_000
    m = msg(title=huge, text=huge, fields=[Field(huge, huge) for _ in range(30)])
    embed = embed_for(m)
    data = embed.to_dict()
    assert len(data["title"]) <= 256 and len(data["description"]) <= 4096
    assert len(data["fields"]) <= 25
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in data["fields"])
    assert len(embed) <= 6000
    assert len(data["description"]) >= 1000  # the text outranks the twentieth field


async def test_an_empty_field_value_is_never_sent_empty() -> None:
    data = embed_for(msg(fields=[Field("Note", "")])).to_dict()
    assert data["fields"][0]["value"]


async def test_pings_go_in_the_content_and_only_for_the_people_asked() -> None:
    m = msg(kind=Kind.ASSIGNMENT_PING, target=Target.person("omar"), mentions=["omar", "ghost"])
    # The core resolved the mentions to Discord ids ("ghost" has none on Discord).
    rendered = render(m, ("710000000000000201", "710000000000000201"))
    assert rendered.content == "<@710000000000000201>"
    assert rendered.allowed_mentions.to_dict() == {"parse": [], "users": [710000000000000201]}


async def test_without_pings_nothing_may_ping() -> None:
    rendered = render(msg(text="@everyone <@&710000000000000401>"), ())
    assert rendered.content is None
    assert rendered.allowed_mentions.to_dict() == {"parse": []}
    assert "@\u200beveryone" in (rendered.embed.description or "")


async def test_a_long_private_answer_moves_into_an_embed() -> None:
    assert reply_payload("short")["content"] == "short"
    long = reply_payload("line\n" * 600)
    assert "content" not in long and len(long["embed"].description) <= 4096


# -- buttons --------------------------------------------------------------------------------


async def test_actions_become_persistent_buttons_whose_id_is_the_action() -> None:
    actions = [
        Action("case:CASE-3:claim", "Claim", Style.PRIMARY),
        Action("case:CASE-3:assign", "Assign…"),
    ]
    actions += [Action(f"case:CASE-3:rate:{n}", str(n)) for n in range(1, 6)]
    view = action_view(actions)
    assert view is not None
    assert view.is_finished()  # nothing is kept in memory waiting for presses
    rows = view.to_components()
    assert [len(r["components"]) for r in rows] == [5, 2]
    first = rows[0]["components"][0]
    assert (
        first["custom_id"] == "case:CASE-3:claim"
        and first["style"] == discord.ButtonStyle.primary.value
    )
    assert all(isinstance(item, ActionButton) for item in view.children)


async def test_no_more_buttons_than_discord_allows_and_none_it_would_refuse() -> None:
    actions = [Action(f"case:CASE-{n}:claim", "x" * 100) for n in range(40)]
    actions.append(Action("case:CASE-3:" + "y" * 120, "too long an id"))
    view = action_view(actions)
    assert view is not None
    rows = view.to_components()
    assert len(rows) == 5 and sum(len(r["components"]) for r in rows) == 25
    assert all(
        len(c["label"]) <= 80 and len(c["custom_id"]) <= 100 for r in rows for c in r["components"]
    )
    assert action_view([]) is None


async def test_every_core_action_id_matches_the_button_template() -> None:
    pattern = ActionButton.__discord_ui_compiled_template__
    for action_id in (
        "case:CASE-12:claim",
        "case:CASE-12:rate:4",
        "case:CASE-1:kb_accept:KB-3",
        "eng:ENG-3:follow",
        "kb:KB-7:publish",
        "case:CASE-9:called:not-reached",
    ):
        match = pattern.fullmatch(action_id)
        assert match and match["action_id"] == action_id


async def test_the_button_template_is_the_core_grammar_and_nothing_looser() -> None:
    pattern = ActionButton.__discord_ui_compiled_template__
    assert bot_actions.PATTERN in pattern.pattern  # one grammar, owned by bot.actions
    assert pattern.fullmatch(bot_actions.action_id("kb", "KB-7", "discard"))
    for foreign in ("ticket:T-1:close", "case:claim", "case:case-1:claim", "hello"):
        assert not pattern.fullmatch(foreign), foreign
    # The adapter's own "reopen the form" button is routed as well.
    assert pattern.fullmatch("discord:form:reject:CASE-3")


# -- modals ---------------------------------------------------------------------------------


def open_form() -> Prompt:
    return Prompt(
        "open",
        "Open a support case",
        (
            PromptField("title", "Title", "text", max_length=200, placeholder="What is wrong"),
            PromptField(
                "area",
                "Product area",
                "select",
                (Option("sync", "Data sync"), Option("auth", "Sign-in")),
                required=False,
            ),
            PromptField("description", "Description", "textarea", required=False),
        ),
    )


async def test_a_prompt_becomes_a_modal_of_labelled_inputs() -> None:
    modal = prompt_modal(open_form())
    data = modal.to_dict()
    assert data["custom_id"] == FORM_PREFIX + "open" and form_id_of(data["custom_id"]) == "open"
    labels = data["components"]
    assert [c["type"] for c in labels] == [18, 18, 18]
    assert [c["label"] for c in labels] == ["Title", "Product area", "Description"]
    title, area, description = (c["component"] for c in labels)
    assert title["type"] == 4 and title["style"] == 1 and title["max_length"] == 200
    assert (
        area["type"] == 3
        and area["min_values"] == 0
        and [o["value"] for o in area["options"]] == ["sync", "auth"]
    )
    assert description["style"] == 2 and description["required"] is False
    assert modal.is_finished()  # submissions are read from the payload, not a stored object


async def test_a_modal_is_prefilled_with_what_the_person_typed() -> None:
    data = prompt_modal(open_form(), {"title": "Lag", "area": "auth"}).to_dict()
    title, area, _ = (c["component"] for c in data["components"])
    assert title["value"] == "Lag"
    assert [o.get("default") for o in area["options"]] == [False, True]


async def test_a_choice_too_long_for_a_select_becomes_a_text_input() -> None:
    many = tuple(Option(f"p{n}", f"Person {n}") for n in range(30))
    data = prompt_modal(
        Prompt(
            "assign:CASE-1", "Assign CASE-1", (PromptField("person", "Engineer", "select", many),)
        )
    ).to_dict()
    inner = data["components"][0]["component"]
    assert inner["type"] == 4 and inner["placeholder"].startswith("One of: p0, p1")


async def test_modal_titles_and_labels_fit_discord() -> None:
    long = "A very long title that Discord would refuse for a modal"
    data = prompt_modal(Prompt("x", long, (PromptField("a", long),))).to_dict()
    assert len(data["title"]) <= 45 and len(data["components"][0]["label"]) <= 45


async def test_submitted_values_are_read_from_both_layouts() -> None:
    labels = {
        "custom_id": "casebot-form:open",
        "components": [
            {"type": 18, "id": 1, "component": {"type": 4, "custom_id": "title", "value": "Lag"}},
            {
                "type": 18,
                "id": 2,
                "component": {"type": 3, "custom_id": "area", "values": ["sync"]},
            },
            {"type": 18, "id": 3, "component": {"type": 3, "custom_id": "type", "values": []}},
        ],
    }
    assert modal_values(labels) == {"title": "Lag", "area": "sync", "type": ""}
    rows = {
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "reason", "value": "no"}]}
        ]
    }
    assert modal_values(rows) == {"reason": "no"}
    assert modal_values(None) == {}
