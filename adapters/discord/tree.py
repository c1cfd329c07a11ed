"""The ``/case`` command tree, generated from the command table (:mod:`commands.table`).

Every visible command of the table is one subcommand: at the top level when it has
neither a ``group`` (``eng status``) nor a ``section`` (``follow``, filed under ``eng``),
else inside the ``app_commands.Group`` of that name, as its ``word``. A ``help``
subcommand comes first. Descriptions are the table's ``does`` and ``describe``; option
types follow each parameter's :class:`~commands.params.Kind`. A new subcommand is one
table entry; nothing here names a command.

A subcommand hands its options, typed, to the client's ``casebot`` handler, which calls
``Core.invoke(ctx, command.name, {param.name: value})``: never text to parse again.
Who may do what is the core's call, so every member sees every subcommand and a refused
one answers with the core's polite refusal.

Discord allows 25 subcommands (and 25 options) per level; :func:`case_group` refuses a
table that does not fit, naming the level, so the fix (a ``section``) is obvious.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import discord
from discord import app_commands

from adapters.discord import text as t
from adapters.discord.settings import PLATFORM
from bot.exchange import PersonRef
from commands.params import Kind, Param
from commands.table import COMMANDS, Command

ROOT = "case"
ROOT_DESCRIPTION = "Support cases: open, follow and work them"
HELP = "help"
HELP_DESCRIPTION = "What you can do with /case"
# A group's line in Discord's command picker (the table names groups, not what they are).
GROUP_DESCRIPTIONS = {
    "eng": "Engineering issues (ENG-n)",
    "kb": "The knowledge base",
    "triage": "Correct a case's triage",
    "reports": "Statistics, the dashboard, transcripts",
}
PER_LEVEL = 25  # Discord's limit on subcommands in a group, and on options in a command
DESCRIPTION_LIMIT = 100
RATING = app_commands.Range[int, 1, 5]


class TreeError(ValueError):
    """The command table does not fit Discord (the message says where and how to fix)."""


class CaseHandler(Protocol):
    async def command(
        self, interaction: discord.Interaction[Any], name: str, args: Mapping[str, Any]
    ) -> None: ...

    async def autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]: ...

    def area_choices(self, current: str) -> list[app_commands.Choice[str]]: ...

    def impact_choices(self, current: str) -> list[app_commands.Choice[str]]: ...


def _handler(interaction: discord.Interaction[Any]) -> CaseHandler:
    return interaction.client.casebot  # type: ignore[attr-defined, no-any-return]


async def case_keys(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    return await _handler(interaction).autocomplete(interaction, current)


async def area_keys(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    return _handler(interaction).area_choices(current)


async def impact_keys(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    return _handler(interaction).impact_choices(current)


_AUTOCOMPLETE = {Kind.CASE: case_keys, Kind.AREA: area_keys, Kind.IMPACT: impact_keys}


class CaseGroup(app_commands.Group):
    """``/case``: its subcommands and groups come from the table (:func:`case_group`)."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """Option conversion failed before the core saw anything: say so, privately."""
        message = t.clip_escaped(f"That did not work: {error}", t.CONTENT_LIMIT)
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(
                    message, ephemeral=True, allowed_mentions=t.no_pings()
                )
        except discord.HTTPException:
            pass


def case_group(table: Iterable[Command] = COMMANDS) -> CaseGroup:
    """``/case`` for ``table``: every visible command where its group or section says."""
    root = CaseGroup(
        name=ROOT,
        description=ROOT_DESCRIPTION,
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=True, private_channel=False
        ),
        allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
    )
    _add(root, subcommand(HELP, HELP_DESCRIPTION, HELP, ()))
    groups: dict[str, app_commands.Group] = {}
    for command in table:
        if command.hidden:
            continue
        path = command.path(sectioned=True).split(" ")
        place = path[0] if len(path) > 1 else None
        parent: app_commands.Group = root
        if place is not None:
            if place not in groups:
                groups[place] = app_commands.Group(
                    name=place, description=GROUP_DESCRIPTIONS.get(place, f"/case {place} …")
                )
                _add(root, groups[place])
            parent = groups[place]
        _add(parent, subcommand(command.word, sentence(command.does), command.name, command.params))
    return root


def _add(
    group: app_commands.Group, child: app_commands.Command[Any, ..., Any] | app_commands.Group
) -> None:
    path = f"/{group.qualified_name}"
    if group.get_command(child.name) is not None:
        raise TreeError(f"{path} {child.name} is in the command table twice")
    if len(group.commands) >= PER_LEVEL:
        raise TreeError(
            f"{path} would have more than {PER_LEVEL} subcommands (Discord's limit) with "
            f"{child.name!r}: give some commands a section in commands/table.py"
        )
    group.add_command(child)


def subcommand(
    word: str, description: str, name: str, params: Sequence[Param]
) -> app_commands.Command[Any, ..., None]:
    """One subcommand whose options are ``params``; it invokes the core's ``name``."""
    if len(params) > PER_LEVEL:
        raise TreeError(f"/case {name} has more than {PER_LEVEL} parameters (Discord's limit)")
    # Python names for the callback; Discord's names (the table's) come as renames, so
    # any name Discord accepts works, and Discord's own checks apply to it.
    names = [f"p{i}" for i in range(len(params))]

    async def callback(interaction: discord.Interaction[Any], **values: Any) -> None:
        args = typed(params, [values.get(n) for n in names])
        await _handler(interaction).command(interaction, name, args)

    pairs = list(zip(names, params, strict=True))
    first = inspect.Parameter(
        "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
    )
    options = [
        inspect.Parameter(
            n,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=_annotation(p),
            **({} if p.required else {"default": None}),
        )
        for n, p in pairs
    ]
    attributes: dict[str, Any] = {
        "__signature__": inspect.Signature([first, *options]),
        "__discord_app_commands_param_rename__": {n: p.name for n, p in pairs},
        "__discord_app_commands_param_description__": {
            n: t.one_line(p.describe, DESCRIPTION_LIMIT) or p.name for n, p in pairs
        },
        "__discord_app_commands_param_choices__": {n: _choices(p) for n, p in pairs if _choices(p)},
        "__discord_app_commands_param_autocomplete__": {
            n: _AUTOCOMPLETE[p.kind] for n, p in pairs if p.kind in _AUTOCOMPLETE
        },
    }
    # What discord.py's decorators (describe, rename, choices, autocomplete) would set.
    for attribute, value in attributes.items():
        setattr(callback, attribute, value)
    return app_commands.Command(name=word, description=description, callback=callback)


def _annotation(p: Param) -> Any:
    base: Any = str
    if p.kind is Kind.RATING:
        base = RATING
    elif p.kind is Kind.PERSON:
        base = discord.User
    elif p.kind is Kind.FLAG:
        base = bool
    return base if p.required else base | None


def _choices(p: Param) -> list[app_commands.Choice[str]]:
    if p.kind is not Kind.CHOICE or not 0 < len(p.choices) <= PER_LEVEL:
        return []  # a longer list is typed; the core checks it
    return [app_commands.Choice(name=c, value=c) for c in p.choices]


def typed(params: Sequence[Param], values: Sequence[Any]) -> dict[str, Any]:
    """Discord's option values as the core's arguments (given options only)."""
    args: dict[str, Any] = {}
    for p, value in zip(params, values, strict=True):
        if value is None:
            continue
        if p.kind is Kind.PERSON:
            value = PersonRef(PLATFORM, str(value.id))
        elif p.kind is Kind.RATING:
            value = int(value)
        args[p.name] = value
    return args


def sentence(words: str) -> str:
    """A help line as a Discord description: capitalised, within 100 characters."""
    line = t.one_line(words, DESCRIPTION_LIMIT)
    return line[:1].upper() + line[1:]


def command_payload(tree: app_commands.CommandTree[Any]) -> list[dict[str, Any]]:
    """What Discord is told about the commands (the body of the bulk overwrite)."""
    return [command.to_dict(tree) for command in tree.get_commands()]
