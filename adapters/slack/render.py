"""Neutral messages and replies → Block Kit (built with ``slack_sdk.models.blocks``).

A message becomes a header (the title, with an emoji saying what kind of message it
is), the text, its fields (short ones side by side, long ones full width), the people
to ping, and its buttons. Every message also carries a plain ``text`` fallback, which is
what notifications, screen readers and old clients show. All user-derived text is
escaped here and nowhere else; the only mentions in the output are the Slack users the
core resolved for ``message.mentions`` (``DeliveryContext.mention_users``), written by us.

Block Kit's limits are enforced by clipping, never by failing: a header holds 150
characters, a text object 3000, a field 2000, a button label 75, a message 50 blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from adapters.slack.rich import (
    Part,
    bold_escaped,
    clipped,
    ping,
    plain,
    plain_escaped,
    rich_blocks,
)
from adapters.slack.text import USER_ID, clip_escaped, escape, mention
from bot.messages import Action, Field, Kind, Message, Style

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_BUTTONS = 25
MAX_FALLBACK = 3900  # Slack truncates ``text`` after 40k; notifications show far less
SHORT_FIELD = 60  # values this short (one line) sit side by side

EMOJI: dict[Kind, str] = {
    Kind.CASE_OPENED: ":ticket:",
    Kind.KB_SUGGESTIONS: ":books:",
    Kind.TRIAGE_ALERT: ":inbox_tray:",
    Kind.TRIAGE_DIGEST: ":rotating_light:",
    Kind.ASSIGNMENT_PING: ":raising_hand:",
    Kind.INFO_REQUEST: ":question:",
    Kind.CHASE_REMINDER: ":alarm_clock:",
    Kind.PHONE_TASK: ":telephone_receiver:",
    Kind.ESCALATION_DM: ":rotating_light:",
    Kind.RESOLUTION_PROPOSAL: ":bulb:",
    Kind.ENG_UPDATE: ":hammer_and_wrench:",
    Kind.SURVEY_PROMPT: ":star:",
    Kind.KB_DRAFT: ":memo:",
    Kind.CASE_UPDATE: ":speech_balloon:",
    Kind.ALERT: ":warning:",
}

_STYLES = {Style.PRIMARY: "primary", Style.DANGER: "danger"}


@dataclass(frozen=True)
class Rendered:
    text: str
    blocks: list[Block]

    def block_dicts(self) -> list[dict[str, Any]]:
        return [b.to_dict() for b in self.blocks]


def _is_card(message: Message) -> bool:
    """Cards get a header; a short update in a thread reads better as a line of text."""
    if message.kind != Kind.CASE_UPDATE:
        return True
    return bool(message.ref or message.actions or message.fields)


def _mrkdwn(text: str) -> MarkdownTextObject:
    # verbatim: Slack must not auto-link channel names or parse "@here" in what we send.
    return MarkdownTextObject(text=text, verbatim=True)


def text_sections(text: str, *, pings: Sequence[str] = (), title: str | None = None) -> list[Block]:
    """Text as rich_text blocks, shown as typed (:mod:`adapters.slack.rich`): first the
    people to ping, then ``title`` in bold (one-liners), then the text."""
    parts: list[Part] = []
    for user in dict.fromkeys(u for u in pings if u):
        parts += [ping(user) if USER_ID.match(user) else plain(user), plain(" ")]
    if title is not None:
        parts.append(bold_escaped(clipped(title, MAX_TEXT // 2)))
        if text:
            parts.append(plain("\n"))
    if text:
        parts.append(plain(text))
    if not parts:
        return []
    return rich_blocks(parts)


def field_blocks(fields: Iterable[Field]) -> list[Block]:
    """Each field as a bold label and its value as typed: short ones on one line, long
    or multi-line ones under their label."""
    parts: list[Part] = []
    for f in fields:
        value = f.value if f.value.strip() else "—"
        if parts:
            parts.append(plain("\n"))
        parts.append(bold_escaped(clipped(f.label, 200)))
        short = len(value) <= SHORT_FIELD and "\n" not in value
        parts.append(plain_escaped((": " if short else "\n") + clipped(value, MAX_FIELD)))
    return rich_blocks(parts)


def button(action: Action) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=clip_escaped(action.label, MAX_BUTTON), emoji=True),
        action_id=action.id,
        value=action.id[:2000],
        style=_STYLES.get(action.style),
    )


def action_blocks(actions: list[Action], block_id: str | None = None) -> list[Block]:
    blocks: list[Block] = []
    for start in range(0, len(actions), MAX_BUTTONS):
        part = actions[start : start + MAX_BUTTONS]
        suffix = f":{start // MAX_BUTTONS}" if start else ""
        blocks.append(
            ActionsBlock(
                block_id=f"{block_id}{suffix}" if block_id else None,
                elements=[button(a) for a in part],
            )
        )
    return blocks


def mentions_markup(users: Sequence[str]) -> str:
    """The real pings: a Slack mention for each user the core resolved."""
    return " ".join(mention(u) for u in dict.fromkeys(users) if u)


def fallback_text(message: Message, pings: str = "") -> str:
    """The plain ``text`` every message carries (escaped; pings are trusted markup)."""
    lines = [message.title]
    if message.text:
        lines.append(message.text)
    lines.extend(f"{f.label}: {f.value}" for f in message.fields)
    body = clip_escaped("\n".join(lines), MAX_FALLBACK)
    return f"{pings} {body}" if pings else body


def render_message(message: Message, pings_for: Sequence[str] = ()) -> Rendered:
    """``pings_for``: the Slack user ids to mention (``DeliveryContext.mention_users``)."""
    pings = mentions_markup(pings_for)
    blocks: list[Block] = []
    if _is_card(message):
        emoji = EMOJI.get(message.kind, "")
        title = clip_escaped(message.title, MAX_HEADER - len(emoji) - 1)
        blocks.append(
            HeaderBlock(text=PlainTextObject(text=f"{emoji} {title}".strip(), emoji=True))
        )
        blocks.extend(text_sections(message.text, pings=pings_for))
    else:
        # A one-liner: the title in bold, the text under it.
        blocks.extend(text_sections(message.text, pings=pings_for, title=message.title))
    blocks.extend(field_blocks(message.fields))
    key = message.case_key or message.eng_key or "msg"
    buttons = action_blocks(message.actions, block_id=f"{message.kind}:{key}")
    room = MAX_BLOCKS - len(buttons)
    if len(blocks) > room:
        blocks = blocks[: room - 1]
        blocks.append(ContextBlock(elements=[_mrkdwn("_(shortened: too long for one message)_")]))
    return Rendered(text=fallback_text(message, pings), blocks=blocks + buttons)


def render_reply(text: str, *, ok: bool = True, link: tuple[str, str] | None = None) -> Rendered:
    """A ``Reply`` (plain words, maybe with user text in them) as a short message;
    ``link`` is a (Slack-made URL, our label) to add under it."""
    body = text if text.strip() else ("Done." if ok else "That didn't work.")
    blocks = text_sections(body)[: MAX_BLOCKS - 2]
    fallback = clip_escaped(body, MAX_FALLBACK)
    if link is not None:
        url, label = link
        markup = f"<{url.replace('|', '%7C')}|{escape(label)}>"
        blocks.append(SectionBlock(text=_mrkdwn(markup)))
        fallback = f"{fallback}\n{markup}"
    return Rendered(text=fallback, blocks=blocks)
