"""Text going to Discord: escaped, within Discord's limits, pinging only on purpose.

Everything the core says is plain text that may hold anything a user typed. Discord
renders mentions (``@everyone``, ``@here``, ``<@123>``, ``<@&456>``) and markdown
(``**``, masked links, headings, spoilers …) everywhere, so all of it is escaped: a
zero-width space after ``@`` breaks every mention, and a backslash before every markdown
character shows it as typed. Messages are also sent with ``AllowedMentions.none()``, so
even a mention that slipped through could not ping. Real pings are written by the adapter
itself (:func:`mention`), outside the escaped text, and allowed user by user.
"""

from __future__ import annotations

import re

import discord

ELLIPSIS = "…"

# Discord's documented limits (characters).
CONTENT_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FIELDS_MAX = 25
EMBED_TOTAL_LIMIT = 6000
EMBED_FOOTER_LIMIT = 2048
BUTTON_LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100
THREAD_NAME_LIMIT = 100
MODAL_TITLE_LIMIT = 45
LABEL_LIMIT = 45
PLACEHOLDER_LIMIT = 100
SELECT_OPTIONS_MAX = 25
SELECT_OPTION_LIMIT = 100
TEXT_INPUT_MAX = 4000
CHOICE_NAME_LIMIT = 100
CHOICES_MAX = 25

# Mentions Discord renders: @everyone / @here, users <@1> <@!1>, roles <@&1>, and bare
# snowflakes after "@" (discord.utils.escape_mentions' own pattern, kept in one place).
_MENTION = re.compile(r"@(everyone|here|[!&]?[0-9]{15,21})")
_ZWSP = "\u200b"


def escape(text: str) -> str:
    """User text → Discord text that shows exactly as typed and can ping nobody."""
    text = _MENTION.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)
    return discord.utils.escape_markdown(text)


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, marking a cut with an ellipsis.

    A cut never leaves a dangling backslash, which would escape the ellipsis instead
    of the character it was written for.
    """
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + ELLIPSIS


def clip_escaped(text: str, limit: int) -> str:
    return clip(escape(text), limit)


def one_line(text: str, limit: int) -> str:
    """For places Discord shows as one line and never renders (thread names, labels)."""
    return clip(" ".join(text.split()), limit)


def mention(user_id: str) -> str:
    """A real user mention, for the people the core asked to ping."""
    return f"<@{user_id}>"


def no_pings() -> discord.AllowedMentions:
    return discord.AllowedMentions.none()


def only_users(user_ids: list[str]) -> discord.AllowedMentions:
    """Ping exactly these users, never @everyone, @here or a role."""
    if not user_ids:
        return no_pings()
    return discord.AllowedMentions(
        everyone=False,
        roles=False,
        replied_user=False,
        users=[discord.Object(id=int(u)) for u in user_ids],
    )
