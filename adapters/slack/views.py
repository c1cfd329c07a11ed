"""Modals and the App Home, built from the core's ``Prompt`` and ``HomeView``.

A modal's ``callback_id`` is ``casebot:<form_id>`` so its submission finds its way back
to ``CaseCommands.submit`` after a restart; each input block's ``block_id`` is the
field's name, so the core's ``Reply.errors`` (by field name) land on the right input.
``private_metadata`` remembers where the form was opened (channel, thread, the slash
command's ``response_url``): the customer's account may be recognised by its shared
channel, and the answer goes back where the person was.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from adapters.slack.rich import bold_escaped, clipped, plain_escaped, rich_blocks
from adapters.slack.text import clip_escaped
from bot.exchange import CaseLine, HomeView, Prompt, PromptField
from bot.lifecycle import STATE_WORDS, State

CALLBACK_PREFIX = "casebot:"
VALUE = "value"  # the action_id of every input's element
MAX_TITLE = 24
MAX_LABEL = 2000
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_INPUT = 3000
MAX_HOME_BLOCKS = 100
MAX_METADATA = 3000


@dataclass(frozen=True)
class Origin:
    """Where a person was when a form was opened: where its answer goes."""

    user_id: str
    channel_id: str | None = None
    thread_ts: str | None = None
    response_url: str | None = None

    def to_metadata(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v}
        text = json.dumps(data, separators=(",", ":"))
        if len(text) > MAX_METADATA:  # response URLs are long but never this long
            data.pop("response_url", None)
            text = json.dumps(data, separators=(",", ":"))
        return text

    @classmethod
    def from_metadata(cls, text: str | None, user_id: str) -> Origin:
        try:
            data = json.loads(text or "{}")
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        return cls(
            user_id=user_id,
            channel_id=data.get("channel_id"),
            thread_ts=data.get("thread_ts"),
            response_url=data.get("response_url"),
        )


def _plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=clip_escaped(text, limit) or " ", emoji=True)


def _element(field: PromptField) -> Any:
    placeholder = _plain(field.placeholder, 150) if field.placeholder else None
    if field.kind == "select" and field.options:
        return StaticSelectElement(
            action_id=VALUE,
            placeholder=placeholder or _plain("Choose…", 150),
            options=[
                Option(
                    value=o.value[:MAX_OPTION_VALUE],
                    text=_plain(o.label, MAX_OPTION_TEXT),
                )
                for o in field.options[:MAX_OPTIONS]
            ],
        )
    return PlainTextInputElement(
        action_id=VALUE,
        multiline=field.kind == "textarea",
        max_length=min(field.max_length, MAX_INPUT) if field.max_length > 0 else None,
        placeholder=placeholder,
    )


def form_modal(prompt: Prompt, origin: Origin) -> View:
    blocks: list[Block] = [
        InputBlock(
            block_id=field.name,
            label=_plain(field.label, MAX_LABEL),
            element=_element(field),
            optional=not field.required,
        )
        for field in prompt.fields
    ]
    return View(
        type="modal",
        callback_id=f"{CALLBACK_PREFIX}{prompt.form_id}"[:255],
        title=_plain(prompt.title, MAX_TITLE),
        submit=_plain(prompt.submit_label, MAX_TITLE),
        close=_plain("Cancel", MAX_TITLE),
        blocks=blocks,
        private_metadata=origin.to_metadata(),
    )


def form_id_of(view: dict[str, Any]) -> str:
    return str(view.get("callback_id", ""))[len(CALLBACK_PREFIX) :]


def submitted_values(view: dict[str, Any]) -> dict[str, str]:
    """``view.state.values`` → ``{field name: text}`` (empty optional inputs → ``""``)."""
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, inputs in state.items():
        element = (inputs or {}).get(VALUE) or next(iter((inputs or {}).values()), None)
        if not isinstance(element, dict):
            continue
        if "selected_option" in element:
            option = element.get("selected_option") or {}
            values[block_id] = str(option.get("value") or "")
        else:
            values[block_id] = str(element.get("value") or "")
    return values


# ---------------------------------------------------------------------------- App Home


def _state_words(state: str) -> str:
    try:
        return STATE_WORDS[State(state)]
    except ValueError:
        return state


def _case_line(line: CaseLine) -> Block:
    facts = [_state_words(line.state), line.severity, line.account]
    if line.assignee:
        facts.append(line.assignee)
    if line.time_left:
        facts.append(f"{line.time_left} left")
    # rich_text: a title typed by a customer is shown as typed (adapters.slack.rich).
    parts = [
        bold_escaped(clipped(line.key, 40)),
        plain_escaped(" " + clipped(line.title, 300) + "\n"),
        plain_escaped(clipped(" · ".join(facts), 500)),
    ]
    return rich_blocks(parts)[0]


def home_view(home: HomeView) -> View:
    blocks: list[Block] = [HeaderBlock(text=_plain(home.title, 150))]
    if not home.known:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=(
                        "casebot doesn't know you yet, so there is nothing to show here. "
                        "If you are a customer, open a case from your company's shared "
                        "channel with `/case`; if you work in support, ask your support "
                        "lead to add your Slack user to casebot's configuration."
                    )
                )
            )
        )
        return View(type="home", blocks=blocks)
    # Leave room for each section's heading, divider and "more" note.
    budget = MAX_HOME_BLOCKS - len(blocks) - 3 * len(home.sections)
    for title, lines in home.sections:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*{clip_escaped(title, 200)}* ({len(lines)})", verbatim=True
                )
            )
        )
        if not lines:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Nothing here.")]))
        shown = lines[: max(0, min(len(lines), budget // max(1, len(home.sections))))]
        blocks.extend(_case_line(line) for line in shown)
        if len(shown) < len(lines):
            blocks.append(
                ContextBlock(
                    elements=[
                        MarkdownTextObject(
                            text=f"…and {len(lines) - len(shown)} more: `/case list` shows all."
                        )
                    ]
                )
            )
        blocks.append(DividerBlock())
    return View(type="home", blocks=blocks[:MAX_HOME_BLOCKS])
