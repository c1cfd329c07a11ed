"""Text that may hold what a user typed, as Slack ``rich_text`` blocks.

In ``mrkdwn`` a customer's ``*urgent*``, ``~old~`` or `` `code` `` would be rendered as
bold, struck or code; no escape exists for those markers. A ``rich_text`` block's text
elements are not markup (Slack's own clients send what people type that way): no
formatting and no mentions are parsed in them, so the words reach staff exactly as
typed. Our own emphasis (a label, a title) is a ``bold`` style; the pings the core asked
for are ``user`` elements. ``&``, ``<`` and ``>`` are still written as entities and bidi
controls dropped (``text.escape``), as in every text casebot sends, so nothing typed can
ever read as Slack's ``<!here>`` syntax anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    Block,
    RichTextBlock,
    RichTextElementParts,
    RichTextSectionElement,
)

from adapters.slack.text import clip_escaped, escape

# Slack refuses a block whose text runs past a few thousand characters; we stay at the
# section limit.
MAX_RICH = 3000


@dataclass(frozen=True)
class Part:
    text: str = ""
    bold: bool = False
    user: str | None = None  # a Slack user id to mention (trusted: the core chose it)


def plain(text: str) -> Part:
    """Text as typed (escaped here)."""
    return Part(escape(text))


def plain_escaped(text: str) -> Part:
    """Text already escaped (by :func:`clipped`)."""
    return Part(text)


def bold_escaped(text: str) -> Part:
    return Part(text, bold=True)


def ping(user_id: str) -> Part:
    return Part(user=user_id)


def _element(part: Part) -> RichTextElementParts.Text | RichTextElementParts.User:
    if part.user:
        return RichTextElementParts.User(user_id=part.user)
    return RichTextElementParts.Text(text=part.text, style={"bold": True} if part.bold else None)


def _pieces(part: Part, limit: int) -> list[Part]:
    """A text part cut at line breaks (else hard) into pieces of at most ``limit``."""
    if part.user or len(part.text) <= limit:
        return [part]
    out: list[Part] = []
    rest = part.text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
            amp = rest.rfind("&", 0, cut)
            if amp != -1 and ";" not in rest[amp:cut]:
                cut = amp  # never inside an entity
        out.append(Part(rest[:cut], part.bold))
        rest = rest[cut:]
    if rest:
        out.append(Part(rest, part.bold))
    return out


def rich_blocks(parts: Iterable[Part], limit: int = MAX_RICH) -> list[Block]:
    """The parts as rich_text blocks of at most ``limit`` characters each."""
    blocks: list[Block] = []
    current: list[Part] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if any(p.user or p.text.strip() for p in current):
            elements = [_element(p) for p in current if p.user or p.text]
            blocks.append(RichTextBlock(elements=[RichTextSectionElement(elements=elements)]))
        current.clear()
        size = 0

    for part in parts:
        for piece in _pieces(part, limit):
            length = len(piece.text) if not piece.user else 12
            if size + length > limit:
                flush()
                piece = Part(piece.text.lstrip("\n"), piece.bold, piece.user)
            current.append(piece)
            size += length
    flush()
    return blocks


def clipped(text: str, limit: int) -> str:
    """Escaped and cut to ``limit`` (pair with the ``*_escaped`` parts)."""
    return clip_escaped(text, limit)
