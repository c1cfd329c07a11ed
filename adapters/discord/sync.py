"""Syncing ``/case`` to Discord only when it changed.

Discord rate-limits command registration (creating commands is capped per day and
guild), so overwriting them on every restart is how bots get stuck. Before writing,
casebot reads the commands Discord has (one cheap GET) and compares them with its own
payload; it writes (one bulk overwrite) only when they differ.

Why compare with Discord rather than remember a hash in a file: Discord is the only
record that is always right. A file is lost with every fresh container, is not shared
between workers, and goes stale when someone edits the commands elsewhere; comparing
costs one read per guild at start and never syncs needlessly.

Only the fields casebot sends are compared, and a field Discord omits counts as its
documented default (``required`` false, ``nsfw`` false …), so the extra fields Discord
returns (ids, versions, localisations) never look like a change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import discord

log = logging.getLogger(__name__)

# What Discord assumes for a field it leaves out of a command or option.
_DEFAULTS: dict[str, Any] = {
    "type": 1,
    "required": False,
    "autocomplete": False,
    "nsfw": False,
    "dm_permission": True,
    "default_member_permissions": None,
    "options": [],
    "choices": [],
}
# Fields that mean nothing on a guild command (Discord may drop or rewrite them there).
_GLOBAL_ONLY = frozenset({"contexts", "integration_types", "dm_permission"})


def same_commands(
    local: Sequence[dict[str, Any]], remote: Sequence[dict[str, Any]], *, guild: bool
) -> bool:
    theirs = {(c.get("type", 1), c.get("name")): c for c in remote}
    if len(theirs) != len(local) or len(remote) != len(local):
        return False
    for command in local:
        other = theirs.get((command.get("type", 1), command.get("name")))
        if other is None or not _matches(
            command, other, skip=_GLOBAL_ONLY if guild else frozenset()
        ):
            return False
    return True


def _matches(
    mine: dict[str, Any], theirs: dict[str, Any], *, skip: frozenset[str] = frozenset()
) -> bool:
    for key, value in mine.items():
        if key in skip:
            continue
        other = theirs.get(key, _DEFAULTS.get(key))
        if key in ("options", "choices"):
            other = other or []
            value = value or []
            if len(value) != len(other):
                return False
            if not all(_matches(a, b) for a, b in zip(value, other, strict=True)):
                return False
        elif key in ("contexts", "integration_types"):
            if other is not None and sorted(value or []) != sorted(other or []):
                return False
        elif _blank(value) and _blank(other):
            continue
        elif value != other and str(value) != str(other):
            return False
    return True


def _blank(value: Any) -> bool:
    return value is None or value is False or value == [] or value == {} or value == ""


async def sync_scope(
    http: discord.http.HTTPClient,
    application_id: int,
    payload: list[dict[str, Any]],
    guild_id: int | None,
) -> bool:
    """Overwrite the commands of one guild (or the global ones) if they differ.

    Returns True when Discord was written to.
    """
    if guild_id is None:
        remote = await http.get_global_commands(application_id)
    else:
        remote = await http.get_guild_commands(application_id, guild_id)
    if same_commands(payload, [dict(c) for c in remote], guild=guild_id is not None):
        return False
    if guild_id is None:
        await http.bulk_upsert_global_commands(application_id, payload=payload)
    else:
        await http.bulk_upsert_guild_commands(application_id, guild_id, payload=payload)
    return True


async def sync_all(
    http: discord.http.HTTPClient,
    application_id: int,
    payload: list[dict[str, Any]],
    guild_ids: Iterable[int | None],
) -> list[str]:
    """Sync to each scope (None = global); one line per scope saying what happened."""
    lines: list[str] = []
    for guild_id in guild_ids:
        scope = "global commands" if guild_id is None else f"guild {guild_id}"
        try:
            changed = await sync_scope(http, application_id, payload, guild_id)
        except discord.Forbidden as exc:
            line = (
                f"{scope}: not allowed ({exc.text or exc.status}); invite the bot with the "
                "applications.commands scope (docs/discord.md)"
            )
            log.error("command sync: %s", line)
        except discord.HTTPException as exc:
            line = f"{scope}: failed ({exc})"
            log.error("command sync: %s", line)
        else:
            line = f"{scope}: {'synced /case' if changed else 'unchanged, not synced'}"
            log.info("command sync: %s", line)
        lines.append(line)
    return lines
