"""The Discord adapter: the whole case life cycle in a Discord server (discord.py 2.x).

The platform registry (``entrypoints.platforms``) calls :func:`configured` and
:func:`from_env`; the bootstrap starts the :class:`DiscordPlatform` with the core
(``Casebot.start_platform``). ``casebot discord sync [--global]`` calls
:func:`sync_commands`. The setup a server admin does (bot, intents, permissions,
invite) is in docs/discord.md.

Environment: ``DISCORD_TOKEN`` (required), ``DISCORD_API_BASE``, ``DISCORD_GATEWAY_URL``
and ``DISCORD_GUILD_IDS`` (see :mod:`adapters.discord.settings`).
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.discord.install import PERMISSIONS, invite_url
from adapters.discord.platform import (
    BAD_TOKEN,
    PRIVILEGED_HELP,
    DiscordPlatform,
    sync_commands,
)
from adapters.discord.settings import DiscordSettings, SettingsError, discord_configured
from bot.ports import PlatformOptions

__all__ = [
    "BAD_TOKEN",
    "PERMISSIONS",
    "PRIVILEGED_HELP",
    "DiscordPlatform",
    "DiscordSettings",
    "SettingsError",
    "configured",
    "from_env",
    "invite_url",
    "sync_commands",
]


def configured(env: Mapping[str, str]) -> bool:
    """Whether Discord should run when no platform is named: a bot token is set."""
    return discord_configured(env)


def from_env(env: Mapping[str, str], options: PlatformOptions) -> DiscordPlatform:
    """The platform for the environment's settings; a missing or unusable setting is a
    :class:`~bot.ports.PlatformError` (:class:`SettingsError`) saying what to fix."""
    return DiscordPlatform(DiscordSettings.from_env(env), options)
