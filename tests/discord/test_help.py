"""`/case help` on Discord: the commands as Discord users type them (from the generated
tree), never a bare `/case`, which Discord cannot run."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands

from adapters.discord.tree import case_group, command_payload
from tests.discord.conftest import APPS, KAI, OMAR, ROSA, World

GROUP = 2


def tree_paths() -> set[str]:
    """Every subcommand path Discord shows under /case ("eng defect", "claim", …)."""
    client = discord.Client(intents=discord.Intents.none())
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    tree.add_command(case_group())
    (root,) = command_payload(tree)
    paths: set[str] = set()
    for option in root["options"]:
        if option["type"] == GROUP:
            paths |= {f"{option['name']} {o['name']}" for o in option["options"]}
        else:
            paths.add(option["name"])
    return paths


def typed_paths(help_text: str, paths: set[str]) -> list[str]:
    """The subcommand each help line names (its longest known prefix)."""
    named = []
    for line in help_text.splitlines()[1:]:
        m = re.match(r"`/case ?([^`]*)`", line)
        assert m, line
        words = m.group(1).split()
        assert words, f"a bare /case in Discord's help: {line}"
        two = " ".join(words[:2])
        named.append(two if two in paths else words[0])
    return named


async def test_help_lists_commands_as_discord_users_type_them(world: World) -> None:
    paths = tree_paths()
    engineer = (await world.slash(OMAR, APPS, "help")).text()
    for path in typed_paths(engineer, paths):
        assert path in paths, f"help names /case {path}, which Discord does not have"
    assert "`/case eng defect CASE-n <title>` — log a defect" in engineer
    assert "`/case triage area CASE-n <area>`" in engineer
    assert "`/case kb drafts`" in engineer
    assert "`/case defect" not in engineer and "`/case area" not in engineer

    customer = (await world.slash(ROSA, APPS, "help")).text()
    for path in typed_paths(customer, paths):
        assert path in paths
    assert "`/case eng follow ENG-n`" in customer
    assert "`/case open [title] [--impact <impact>]` — open a case (no title: the form)" in customer
    assert "`/case` —" not in customer  # Discord cannot run a bare /case


async def test_a_usage_refusal_is_spelled_the_discord_way(world: World) -> None:
    lead = KAI
    refused = await world.slash(lead, APPS, "eng follow", issue=" ")
    assert "`/case eng follow ENG-n`" in refused.text(), refused.text()
