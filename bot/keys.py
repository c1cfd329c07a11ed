"""The grammar of human keys: ``CASE-12``, ``ENG-3``, ``KB-7``."""

from __future__ import annotations

from bot.errors import Refusal


def normalize_key(text: str, prefix: str) -> str:
    """``case-3``, ``CASE-3``, ``#3`` or ``3`` → ``CASE-3``; anything else is refused."""
    t = text.strip().upper().lstrip("#")
    if t.isdigit():
        return f"{prefix}-{int(t)}"
    if t.startswith(prefix + "-") and t[len(prefix) + 1 :].isdigit():
        return f"{prefix}-{int(t[len(prefix) + 1 :])}"
    raise Refusal(f"'{text}' is not a {prefix} key (they look like {prefix}-12).")
