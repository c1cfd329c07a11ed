"""``/case`` on Discord is generated from the command table: every visible command at
its place with its typed options, within Discord's limits, and a new table entry is a
new subcommand. Subcommands hand typed values to ``Core.invoke``, never text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord import app_commands

from adapters.discord.tree import (
    GROUP_DESCRIPTIONS,
    PER_LEVEL,
    TreeError,
    case_group,
    command_payload,
)
from bot.exchange import Context, PersonRef, Reply
from bot.policy import Deed
from commands import handlers as h
from commands.params import Kind, Param
from commands.table import COMMANDS, Command, visible
from entrypoints.bootstrap import Casebot
from tests.discord.conftest import APPS, INES, OMAR, ROSA, ZED, World, make_world
from tests.discord.fake_discord import FakeDiscord

Json = dict[str, Any]
SUBCOMMAND, GROUP, STRING, INTEGER, BOOLEAN, USER = 1, 2, 3, 4, 5, 6
OPTION_TYPE = {
    Kind.CASE: STRING,
    Kind.ENG: STRING,
    Kind.KB: STRING,
    Kind.TEXT: STRING,
    Kind.CHOICE: STRING,
    Kind.AREA: STRING,
    Kind.RATING: INTEGER,
    Kind.PERSON: USER,
    Kind.IMPACT: STRING,
    Kind.FLAG: BOOLEAN,
}


def payload(table: tuple[Command, ...] = COMMANDS) -> Json:
    client = discord.Client(intents=discord.Intents.none())
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
    tree.add_command(case_group(table))
    (root,) = command_payload(tree)
    return root


def by_name(options: list[Json]) -> dict[str, Json]:
    return {o["name"]: o for o in options}


def place_of(root: Json, command: Command) -> Json:
    """The subcommand ``command`` became, where the table says it lives."""
    top = by_name(root["options"])
    group = command.group or command.section
    if group is None:
        node = top[command.name]
    else:
        assert top[group]["type"] == GROUP, group
        node = by_name(top[group]["options"])[command.word]
    assert node["type"] == SUBCOMMAND
    return node


def test_every_visible_command_is_a_subcommand_at_its_place() -> None:
    root = payload()
    assert root["name"] == "case" and root["type"] == 1
    assert root["contexts"] == [0, 1] and root["integration_types"] == [0]
    assert root["options"][0]["name"] == "help"
    for command in visible():
        node = place_of(root, command)
        assert node["description"] == command.does[0].upper() + command.does[1:]
        options = node.get("options", [])
        assert [o["name"] for o in options] == [
            p.name for p in sorted(command.params, key=lambda p: not p.required)
        ], command.name
        for p in command.params:
            option = by_name(options)[p.name]
            assert option["type"] == OPTION_TYPE[p.kind], (command.name, p.name)
            assert option["required"] is p.required, (command.name, p.name)
            assert option["description"] == p.describe
            assert bool(option.get("autocomplete")) is (
                p.kind in (Kind.CASE, Kind.AREA, Kind.IMPACT)
            )
            if p.kind is Kind.CHOICE:
                assert [c["value"] for c in option["choices"]] == list(p.choices)
            else:
                assert "choices" not in option
            if p.kind is Kind.RATING:
                assert (option["min_value"], option["max_value"]) == (1, 5)


def test_the_tree_has_what_the_table_has_and_nothing_else() -> None:
    root = payload()
    found: set[str] = set()
    for option in root["options"]:
        if option["type"] == GROUP:
            assert option["description"] == GROUP_DESCRIPTIONS[option["name"]]
            found |= {f"{option['name']} {o['name']}" for o in option["options"]}
        else:
            found.add(option["name"])
    expected = {"help"} | {
        f"{c.group or c.section} {c.word}" if (c.group or c.section) else c.name for c in visible()
    }
    assert found == expected
    hidden = [c for c in COMMANDS if c.hidden]
    assert hidden and not any(c.name in found for c in hidden)  # buttons and forms only
    # Today's shape: three groups, the names Discord users know.
    assert {o["name"] for o in root["options"] if o["type"] == GROUP} == {
        "eng",
        "kb",
        "reports",
        "triage",
    }
    triage = by_name(by_name(root["options"])["triage"]["options"])
    assert [o["name"] for o in triage["severity"]["options"]] == ["case", "level"]
    assert [o["name"] for o in triage["duplicate"]["options"]] == ["case", "of"]
    assert [o["name"] for o in by_name(root["options"])["assign"]["options"]] == [
        "case",
        "engineer",
    ]


def test_every_level_is_within_discord_s_limits() -> None:
    root = payload()
    assert len(root["options"]) <= PER_LEVEL
    for option in root["options"]:
        assert len(option.get("options", [])) <= PER_LEVEL
        if option["type"] == GROUP:
            for sub in option["options"]:
                assert len(sub.get("options", [])) <= PER_LEVEL
        for node in [option, *option.get("options", [])]:
            assert len(node["description"]) <= 100 and len(node["name"]) <= 32


STALE = Command(
    "stale",
    Deed.KB,
    "articles nobody opened for a year",
    (
        Param("older", Kind.CHOICE, "Older than", choices=("6m", "1y")),
        Param("case", Kind.CASE, "Only those suggested on a case", required=False),
    ),
    h.kb_drafts,
    reads_only=True,
    section="kb",
)


def test_a_new_table_entry_is_a_new_subcommand() -> None:
    table = (*COMMANDS, STALE)
    node = place_of(payload(table), STALE)
    assert node["description"] == "Articles nobody opened for a year"
    older, case = node["options"]
    assert older["required"] is True and [c["value"] for c in older["choices"]] == ["6m", "1y"]
    assert case["required"] is False and case["autocomplete"] is True
    assert "stale" not in by_name(by_name(payload()["options"])["kb"]["options"])
    # A new group is a new Discord group (the top level is full: one command moves out).
    own = replace(STALE, name="reports stale", section=None)
    root = payload((*(c for c in COMMANDS if c.name != "stats"), own))
    assert place_of(root, own)["name"] == "stale"
    assert by_name(root["options"])["reports"]["type"] == GROUP


async def test_a_generated_subcommand_invokes_the_core_with_typed_values() -> None:
    calls: list[tuple[str, Mapping[str, Any]]] = []

    class Handler:
        async def command(self, interaction: Any, name: str, args: Mapping[str, Any]) -> None:
            calls.append((name, args))

    group = case_group((*COMMANDS, STALE))
    kb = group.get_command("kb")
    assert isinstance(kb, app_commands.Group)
    stale = kb.get_command("stale")
    assert isinstance(stale, app_commands.Command)
    interaction = SimpleNamespace(client=SimpleNamespace(casebot=Handler()))
    values = {"older": "1y", "case": None}
    await stale.callback(interaction, **{p.name: values[p.display_name] for p in stale.parameters})  # type: ignore[call-arg, arg-type]
    assert calls == [("stale", {"older": "1y"})]  # None values are left out


def test_a_table_that_does_not_fit_discord_is_refused_with_the_fix() -> None:
    crowded = tuple(
        Command(f"extra{n}", Deed.STATS, "more", (), h.stats, True) for n in range(PER_LEVEL)
    )
    with pytest.raises(TreeError, match=r"/case would have more than 25 subcommands.*section"):
        case_group((*COMMANDS, *crowded))
    with pytest.raises(TreeError, match="twice"):
        case_group((*COMMANDS, COMMANDS[0]))


# -- through Discord --------------------------------------------------------------------


class Recording:
    """The real core, remembering what the adapter invoked."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.invoked: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.core, name)

    async def invoke(self, ctx: Context, name: str, args: Mapping[str, Any]) -> Reply:
        self.invoked.append((name, dict(args)))
        reply: Reply = await self.core.invoke(ctx, name, args)
        return reply

    async def run(self, ctx: Context, text: str) -> Reply:
        raise AssertionError(f"the adapter built /case text: {text!r}")


@pytest.fixture
async def recorded(bot: Casebot, fake: FakeDiscord) -> Any:
    recording = Recording(bot.commands)
    bot.commands = recording  # type: ignore[assignment]
    world = await make_world(bot, fake)
    try:
        yield world, recording
    finally:
        await world.stop()


async def test_options_reach_the_core_typed(recorded: tuple[World, Recording]) -> None:
    world, core = recorded
    asked = await world.slash(ROSA, APPS, "open")
    assert asked.modal is not None  # no title: the core answers with the form
    done = await world.submit(
        ROSA, asked, title="Invoice charged twice", area="billing", type="broken"
    )
    assert done.text().startswith("Opened CASE-1")
    lead = next(int(p.identities["discord"]) for p in world.config.leads())
    assigned = await world.slash(lead, APPS, "assign", case="CASE-1", engineer=INES)
    assert assigned.text() == "CASE-1 is now assigned to Ines Duarte."
    severity = await world.slash(INES, APPS, "triage severity", case="CASE-1", level="S1")
    assert severity.text() == "CASE-1 severity is now S1."
    helped = await world.slash(OMAR, APPS, "help")
    assert "/case kb drafts" in helped.text()
    drafts = await world.slash(OMAR, APPS, "kb drafts")
    assert drafts.ephemeral() and drafts.text() == "No drafts waiting."
    assert core.invoked == [
        ("open", {}),
        ("assign", {"case": "CASE-1", "engineer": PersonRef("discord", str(INES))}),
        ("severity", {"case": "CASE-1", "level": "S1"}),
        ("help", {}),
        ("kb drafts", {}),
    ]


async def test_a_rating_is_a_number_and_an_unknown_user_is_refused_by_the_core(
    recorded: tuple[World, Recording],
) -> None:
    world, core = recorded
    await world.slash(ROSA, APPS, "open", title="Sync lag")
    rated = await world.slash(ROSA, APPS, "survey", case="CASE-1", rating=4)
    assert ("survey", {"case": "CASE-1", "rating": 4}) in core.invoked
    assert rated.ephemeral()
    lead = next(int(p.identities["discord"]) for p in world.config.leads())
    stranger = ZED
    refused = await world.slash(lead, APPS, "assign", case="CASE-1", engineer=stranger)
    assert refused.text() == (
        "That Discord user isn't anyone casebot knows: pick an engineer from the configuration."
    )
    assert refused.ephemeral()
