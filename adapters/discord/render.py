"""The core's neutral messages in Discord's idiom: one embed and rows of buttons.

The title, text and fields become an embed (coloured by the kind of message); actions
become persistent buttons; the people the core asked to ping are real mentions in the
message content, the only pings the message is allowed to make. Everything else is
escaped user-safe text (see :mod:`adapters.discord.text`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import discord

from adapters.discord import text as t
from adapters.discord.components import action_view
from bot.messages import Kind, Message

# Discord's own palette, so casebot's embeds look native in light and dark themes.
BLURPLE = 0x5865F2
GREEN = 0x57F287
YELLOW = 0xFEE75C
RED = 0xED4245
ORANGE = 0xE67E22
GREY = 0x99AAB5
TEAL = 0x1ABC9C
PURPLE = 0x9B59B6

COLOURS: dict[Kind, int] = {
    Kind.CASE_OPENED: BLURPLE,
    Kind.KB_SUGGESTIONS: TEAL,
    Kind.TRIAGE_ALERT: ORANGE,
    Kind.TRIAGE_DIGEST: RED,
    Kind.ASSIGNMENT_PING: BLURPLE,
    Kind.INFO_REQUEST: YELLOW,
    Kind.CHASE_REMINDER: YELLOW,
    Kind.PHONE_TASK: ORANGE,
    Kind.ESCALATION_DM: RED,
    Kind.RESOLUTION_PROPOSAL: GREEN,
    Kind.ENG_UPDATE: PURPLE,
    Kind.SURVEY_PROMPT: BLURPLE,
    Kind.KB_DRAFT: TEAL,
    Kind.CASE_UPDATE: GREY,
    Kind.ALERT: RED,
}

# A field this short (and on one line) sits beside its neighbours.
_INLINE_UP_TO = 40
_EMPTY = "—"
_DESCRIPTION_FLOOR = 1000


@dataclass
class Rendered:
    """Keyword arguments for ``send`` / ``edit`` (content, embed, view, allowed_mentions)."""

    content: str | None
    embed: discord.Embed
    view: discord.ui.View | None
    allowed_mentions: discord.AllowedMentions

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "content": self.content,
            "embed": self.embed,
            "allowed_mentions": self.allowed_mentions,
        }
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        # An edit replaces the components too: no view means "remove the buttons".
        return {
            "content": self.content,
            "embed": self.embed,
            "allowed_mentions": self.allowed_mentions,
            "view": self.view,
        }


def render(message: Message, mention_users: Iterable[str] = ()) -> Rendered:
    """``mention_users``: the Discord user ids of ``message.mentions``, as the core
    resolved them (``DeliveryContext.mention_users``); the only people it pings."""
    pinged = _unique(u for u in mention_users if u and u.isdigit())
    content = " ".join(t.mention(u) for u in pinged) or None
    return Rendered(
        content=content,
        embed=embed_for(message),
        view=action_view(message.actions),
        allowed_mentions=t.only_users(pinged),
    )


def embed_for(message: Message) -> discord.Embed:
    embed = discord.Embed(
        title=t.clip_escaped(message.title, t.EMBED_TITLE_LIMIT) or None,
        description=t.clip_escaped(message.text, t.EMBED_DESCRIPTION_LIMIT) or None,
        colour=COLOURS.get(message.kind, GREY),
    )
    for f in message.fields[: t.EMBED_FIELDS_MAX]:
        value = t.clip_escaped(f.value, t.EMBED_FIELD_VALUE_LIMIT) or _EMPTY
        embed.add_field(
            name=t.clip_escaped(f.label, t.EMBED_FIELD_NAME_LIMIT) or _EMPTY,
            value=value,
            inline=len(f.value) <= _INLINE_UP_TO and "\n" not in f.value,
        )
    footer = " · ".join(k for k in (message.case_key, message.eng_key) if k)
    if footer:
        embed.set_footer(text=t.clip(footer, t.EMBED_FOOTER_LIMIT))
    _fit_total(embed)
    return embed


def _fit_total(embed: discord.Embed) -> None:
    """Discord refuses an embed over 6000 characters in all. Shorten the description
    (to no less than ``_DESCRIPTION_FLOOR``), then drop fields from the end, then
    shorten the description further, until it fits."""
    for floor in (_DESCRIPTION_FLOOR, 0):
        _shorten_description(embed, floor)
        while len(embed) > t.EMBED_TOTAL_LIMIT and embed.fields and floor:
            embed.remove_field(len(embed.fields) - 1)


def _shorten_description(embed: discord.Embed, floor: int) -> None:
    excess = len(embed) - t.EMBED_TOTAL_LIMIT
    if excess <= 0 or not embed.description:
        return
    keep = max(floor, len(embed.description) - excess)
    embed.description = t.clip(embed.description, keep) if keep else None


def reply_payload(text: str) -> dict[str, Any]:
    """A private answer (``Reply.text``): plain content, or an embed when it is long."""
    safe = t.escape(text) or "Done."
    if len(safe) <= t.CONTENT_LIMIT:
        return {"content": safe, "allowed_mentions": t.no_pings()}
    embed = discord.Embed(description=t.clip(safe, t.EMBED_DESCRIPTION_LIMIT), colour=GREY)
    return {"embed": embed, "allowed_mentions": t.no_pings()}


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
