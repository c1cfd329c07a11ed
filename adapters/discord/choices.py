"""Autocomplete choices as Discord shows them: case keys, product areas, impacts.

Discord shows at most 25 choices of at most 100 characters each; the key comes first so
a person picks by it.
"""

from __future__ import annotations

from collections.abc import Iterable

from discord import app_commands

from adapters.discord import text as t
from bot.config import Config

Choices = list[app_commands.Choice[str]]


def cases(found: Iterable[tuple[str, str]]) -> Choices:
    """The core's (key, label) pairs of cases this person may see."""
    return [
        app_commands.Choice(
            name=t.one_line(_choice_name(key, label), t.CHOICE_NAME_LIMIT), value=key
        )
        for key, label in list(found)[: t.CHOICES_MAX]
    ]


def areas(config: Config, current: str) -> Choices:
    """The configured product areas matching what the person typed."""
    needle = current.strip().lower()
    return [
        app_commands.Choice(
            name=t.one_line(f"{a.name} ({a.key})", t.CHOICE_NAME_LIMIT), value=a.key
        )
        for a in config.product_areas
        if needle in a.key.lower() or needle in a.name.lower()
    ][: t.CHOICES_MAX]


def impacts(config: Config, current: str) -> Choices:
    """The configured business impacts matching what the person typed."""
    needle = current.strip().lower()
    return [
        app_commands.Choice(name=t.one_line(f"{i.label} ({key})", t.CHOICE_NAME_LIMIT), value=key)
        for key, i in config.impacts.items()
        if needle in key.lower() or needle in i.label.lower()
    ][: t.CHOICES_MAX]


def _choice_name(key: str, label: str) -> str:
    """The key first, so a person picks by it; the core's label may already start with it."""
    if not label:
        return key
    return label if label.startswith(key) else f"{key} · {label}"
