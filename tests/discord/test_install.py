"""The setup guide and the code agree on what casebot needs."""

from __future__ import annotations

import re
from pathlib import Path

import discord

from adapters.discord.client import casebot_intents
from adapters.discord.install import PERMISSIONS, invite_url

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "discord.md"


def test_the_guide_gives_the_permissions_integer_the_bot_needs() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert f"permissions={PERMISSIONS.value}" in text
    assert f"**`{PERMISSIONS.value}`**" in text
    assert invite_url(1).endswith(
        f"&scope=bot+applications.commands&permissions={PERMISSIONS.value}"
    )
    # Every permission in the table is in the integer, and nothing else is.
    shifts = [int(n) for n in re.findall(r"\| `1 << (\d+)` \|", text)]
    assert sum(1 << n for n in shifts) == PERMISSIONS.value
    assert not PERMISSIONS.mention_everyone and not PERMISSIONS.administrator


def test_the_only_privileged_intent_is_message_content() -> None:
    intents = casebot_intents()
    assert intents.message_content
    assert not intents.members and not intents.presences
    privileged = discord.Intents.none()
    privileged.message_content = privileged.members = privileged.presences = True
    assert intents.value & privileged.value == discord.Intents(message_content=True).value
