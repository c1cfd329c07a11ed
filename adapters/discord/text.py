"""Text going to Discord: escaped, within Discord's limits, pinging only on purpose.

Everything the core says is plain text that may hold anything a user typed. Discord
renders mentions (``@everyone``, ``@here``, ``<@123>``, ``<@&456>``) and markdown
(``**``, masked links, headings, spoilers …) everywhere, so all of it is escaped: a
zero-width space after ``@`` breaks every mention, and a backslash before every markdown
character shows it as typed. Every ``[`` and ``]`` is escaped too, so no masked link
(``[label](url)``, nested, repeated, or with an ``<url>``) can hide where it points: the
reader sees the real URL. Bidi overrides and isolates, which reorder what follows them
(``exe.pdf`` shown for ``fdp.exe``), are removed. Messages are also sent with ``AllowedMentions.none()``, so
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


# Bidi embeddings/overrides (U+202A–U+202E) and isolates (U+2066–U+2069).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

# discord.utils.escape_markdown's rules, except masked links: its ``\[.+\]\(.+\)``
# escapes only the first ``[`` of a line and leaves everything up to the line's last
# ``)`` unescaped. Here, in any text where a ``](`` could close a link label, every
# ``[`` and ``]`` is escaped, and a link (left as typed, so an ``_`` in it is not
# doubled) never runs across a bracket. Text without one keeps its brackets as typed
# (``[S2]``): no masked link can form there.
_LABEL_END = re.compile(r"\]\s*\(")
_MARKDOWN = re.compile(
    r"(?P<url><[^: >\[\]]+:/[^ >\[\]]+>"
    r"|(?:https?|steam)://[^\s<\[\]]+[^<.,:;\"'\[\]\s])"
    r"|(?P<markdown>[_\\~|*`\[\]]|^>(?:>>)?\s|^#{1,3}|^\s*-)",
    re.MULTILINE,
)


def escape(text: str) -> str:
    """User text → Discord text that shows exactly as typed and can ping nobody."""
    text = _BIDI.sub("", text)
    text = _MENTION.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)
    brackets = _LABEL_END.search(text) is not None

    def one(match: re.Match[str]) -> str:
        url, markdown = match.group("url"), match.group("markdown")
        if url:
            return url
        return markdown if markdown in ("[", "]") and not brackets else "\\" + markdown

    return _MARKDOWN.sub(one, text)


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
    return clip(" ".join(_BIDI.sub("", text).split()), limit)


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
