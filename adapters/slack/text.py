"""Text going to Slack and text coming from it.

Outbound, everything the core says is plain text that may hold anything a user typed,
so it is escaped (``&``, ``<``, ``>``) before it reaches a text object: once escaped,
``<!channel>``, ``<!here>``, ``<!subteam^…>`` or ``<@U…>`` typed by a user is shown as
typed and pings nobody. Real mentions are written by the adapter itself, after escaping.

Inbound, Slack hands us its own markup (``&lt;``, ``<@U123|ann>``, ``<https://x|x>``);
the core wants plain words, so it is turned back into them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

ELLIPSIS = "…"


# Bidi embeddings/overrides (U+202A–U+202E) and isolates (U+2066–U+2069): they can make
# text read differently from what it is (a reversed file name or URL), so they are dropped.
_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def escape(text: str) -> str:
    """Slack's three control characters as entities, bidi controls removed; nothing else
    is touched."""
    text = text.translate(_BIDI)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, marking a cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def clip_escaped(text: str, limit: int) -> str:
    """Escape, then fit in ``limit`` characters without cutting an entity in half."""
    out = escape(text)
    if len(out) <= limit:
        return out
    cut = out[: max(0, limit - 1)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


USER_ID = re.compile(r"^[A-Z0-9]+$")


def mention(user_id: str) -> str:
    """A real Slack mention, for the people the core asked to ping (anything that is not
    a Slack user id is shown as escaped text, never as markup)."""
    return f"<@{user_id}>" if USER_ID.match(user_id) else escape(user_id)


_MARKUP = re.compile(r"<([^<>]*)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def unescape(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def from_slack(text: str, user_ref: Callable[[str], str] | None = None) -> str:
    """Slack's message / command markup → the plain text the core reads.

    ``<@U123|ann>`` becomes ``user_ref("U123")`` (by default ``<@U123>``, the platform's
    mention, which the core accepts for people); ``<#C1|general>`` → ``#general``;
    ``<https://x|label>`` → ``label (https://x)``; ``<!here>`` → ``@here`` (plain words now,
    and escaped again on the way out). Entities are decoded last, so ``&lt;@U1&gt;`` typed
    by a user stays literal text and never becomes a mention.
    """

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            user = target[1:]
            return user_ref(user) if user_ref else f"<@{user}>"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            name = target[1:].split("^", 1)[0]
            return f"@{label.lstrip('@') or name}"
        url = target.removeprefix("mailto:")
        if label and label != url:
            return f"{label} ({url})"
        return url

    return unescape(_MARKUP.sub(replace, text))
