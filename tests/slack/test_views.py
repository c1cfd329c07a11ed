"""Modals from the core's prompts, their submissions, and the App Home view."""

from __future__ import annotations

import json

from adapters.slack.modals import field_errors
from adapters.slack.views import (
    Origin,
    form_id_of,
    form_modal,
    home_view,
    submitted_values,
)
from bot.exchange import CaseLine, HomeView, Option, Prompt, PromptField

OPEN = Prompt(
    form_id="open",
    title="Open a support case (long title)",
    fields=(
        PromptField("title", "Title", "text", max_length=200, placeholder="What is wrong"),
        PromptField(
            "area", "Product area", "select", (Option("sync", "Data sync"),), required=False
        ),
        PromptField(
            "impact", "Business impact", "select", (Option("down", "Production is <down>"),)
        ),
        PromptField("description", "Description", "textarea", required=False, max_length=5000),
    ),
    submit_label="Open case",
)


def test_a_prompt_becomes_a_modal_whose_inputs_are_named_after_its_fields() -> None:
    origin = Origin("U0CARL", "C0UMBRELLA", None, "https://hooks.example/r/1")
    view = form_modal(OPEN, origin).to_dict()  # to_dict validates Block Kit's limits
    assert view["type"] == "modal"
    assert view["callback_id"] == "casebot:open"
    assert len(view["title"]["text"]) <= 24
    assert view["submit"]["text"] == "Open case"
    assert [b["block_id"] for b in view["blocks"]] == ["title", "area", "impact", "description"]
    title, area, impact, description = view["blocks"]
    assert title["element"] == {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": False,
        "max_length": 200,
        "placeholder": {"type": "plain_text", "text": "What is wrong", "emoji": True},
    }
    assert title.get("optional", False) is False
    assert area["optional"] is True and area["element"]["type"] == "static_select"
    assert impact["element"]["options"][0]["text"]["text"] == "Production is &lt;down&gt;"
    assert description["element"]["multiline"] is True
    assert description["element"]["max_length"] == 3000
    assert Origin.from_metadata(view["private_metadata"], "U0CARL") == origin


def test_submitted_state_comes_back_as_field_values() -> None:
    view = {
        "callback_id": "casebot:reject:CASE-3",
        "state": {
            "values": {
                "title": {"value": {"type": "plain_text_input", "value": "Sync stalls"}},
                "area": {"value": {"type": "static_select", "selected_option": {"value": "sync"}}},
                "impact": {"value": {"type": "static_select", "selected_option": None}},
                "description": {"value": {"type": "plain_text_input", "value": None}},
            }
        },
    }
    assert form_id_of(view) == "reject:CASE-3"
    assert submitted_values(view) == {
        "title": "Sync stalls",
        "area": "sync",
        "impact": "",
        "description": "",
    }


def answered(view: dict, **values: str | None) -> dict:
    """The modal as Slack sends it back with these answers (None: a choice left empty)."""
    state = {}
    for name, value in values.items():
        if name in ("area", "impact"):
            state[name] = {
                "value": {"selected_option": None if value is None else {"value": value}}
            }
        else:
            state[name] = {"value": {"type": "plain_text_input", "value": value}}
    return {**view, "state": {"values": state}}


def test_a_submission_is_checked_against_the_inputs_the_modal_declared() -> None:
    view = form_modal(OPEN, Origin("U1")).to_dict()
    good = answered(view, title="Sync stalls", area=None, impact="down", description=None)
    assert field_errors(good) == {}
    # What Slack's own client would have stopped, in a submission that got past it.
    bad = answered(view, title="   ", area="ftp", impact=None, description="x" * 5001)
    assert field_errors(bad) == {
        "title": "Title is needed.",
        "area": "Choose one of the options for Product area.",
        "impact": "Business impact is needed.",
        "description": "Description is 5001 characters; keep it within 3000.",
    }


def test_metadata_survives_garbage_and_drops_the_response_url_when_too_long() -> None:
    assert Origin.from_metadata("not json", "U1") == Origin("U1")
    assert Origin.from_metadata("[1]", "U1") == Origin("U1")
    long = Origin("U1", "C1", None, "https://x/" + "a" * 4000)
    assert json.loads(long.to_metadata()) == {"user_id": "U1", "channel_id": "C1"}


def test_the_home_view_lists_each_section_and_stays_within_slack_limits() -> None:
    lines = [
        CaseLine(f"CASE-{i}", f"<!here> case {i}", "triaged", "S2", "Umbrella", "Eve", "2h")
        for i in range(80)
    ]
    home = HomeView("Eve's queue", [("Assigned to me", lines), ("Waiting for triage", [])])
    view = home_view(home).to_dict()
    assert view["type"] == "home"
    assert len(view["blocks"]) <= 100
    text = json.dumps(view, ensure_ascii=False)
    assert "*Assigned to me* (80)" in text
    assert "*Waiting for triage* (0)" in text and "Nothing here." in text
    assert "more: `/case list` shows all." in text
    assert "<!here>" not in text and "&lt;!here&gt; case 0" in text
    assert "waiting for an engineer · S2 · Umbrella · Eve · 2h left" in text


def test_people_casebot_does_not_know_get_a_polite_home() -> None:
    view = home_view(HomeView("Sorry, I don't know you yet.", known=False)).to_dict()
    assert "ask your support lead" in json.dumps(view)
