"""The Discord adapter's settings: secrets and endpoints from the environment only.

``DISCORD_TOKEN``        the bot token (required; its presence turns the adapter on)
``DISCORD_API_BASE``     the REST base, e.g. ``http://127.0.0.1:8080/api/v10`` (proxies, tests)
``DISCORD_GATEWAY_URL``  the gateway websocket, e.g. ``ws://127.0.0.1:8080/gateway``
``DISCORD_GUILD_IDS``    comma-separated guild ids to sync ``/case`` to; unset: the guilds
                         holding the configured team channels
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.config import Config
from bot.ports import PlatformError

PLATFORM = "discord"

_API_VERSION_PATH = re.compile(r"/api/v\d+/?$")


class SettingsError(PlatformError, ValueError):
    """A Discord setting in the environment cannot be used (the message says why)."""


@dataclass(frozen=True)
class DiscordSettings:
    token: str
    api_base: str | None = None
    gateway_url: str | None = None
    guild_ids: tuple[int, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DiscordSettings:
        env = os.environ if env is None else env
        token = (env.get("DISCORD_TOKEN") or "").strip()
        if not token:
            raise SettingsError("DISCORD_TOKEN is not set: put the bot token in the environment")
        return cls(
            token=token,
            api_base=_api_base(env.get("DISCORD_API_BASE")),
            gateway_url=_gateway(env.get("DISCORD_GATEWAY_URL")),
            guild_ids=parse_guild_ids(env.get("DISCORD_GUILD_IDS")),
        )


def discord_configured(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool((env.get("DISCORD_TOKEN") or "").strip())


def team_channel_ids(config: Config) -> set[int]:
    """Every configured team channel on Discord (where alerts and case threads live),
    and every team's staff-only channel."""
    ids: set[int] = set()
    for team in config.teams:
        for channel in (team.channels.get(PLATFORM), team.staff_channels.get(PLATFORM)):
            if channel and str(channel).isdigit():
                ids.add(int(channel))
    return ids


def parse_guild_ids(raw: str | None) -> tuple[int, ...]:
    ids: list[int] = []
    for part in (raw or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise SettingsError(
                f"DISCORD_GUILD_IDS: {part!r} is not a guild id (a number such as "
                "123456789012345678; separate several with commas)"
            )
        if int(part) not in ids:
            ids.append(int(part))
    return tuple(ids)


def _api_base(raw: str | None) -> str | None:
    """Accept ``https://proxy.example`` as well as ``https://proxy.example/api/v10``."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.startswith(("http://", "https://")):
        raise SettingsError(f"DISCORD_API_BASE must be an http(s) URL, got {raw!r}")
    raw = raw.rstrip("/")
    return raw if _API_VERSION_PATH.search(raw) else raw + "/api/v10"


def _gateway(raw: str | None) -> str | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.startswith(("ws://", "wss://")):
        raise SettingsError(f"DISCORD_GATEWAY_URL must be a ws(s) URL, got {raw!r}")
    return raw


class Endpoints:
    """Points discord.py at other REST / gateway endpoints, and back again.

    discord.py keeps both in class attributes (``Route.BASE``,
    ``DiscordWebSocket.DEFAULT_GATEWAY``), so they are process-wide: applied when the
    adapter starts and restored when it stops.
    """

    def __init__(self, settings: DiscordSettings) -> None:
        self._settings = settings
        self._saved: tuple[str, yarl.URL] | None = None

    def apply(self) -> None:
        if self._saved is None:
            self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        if self._settings.api_base:
            Route.BASE = self._settings.api_base
        if self._settings.gateway_url:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._settings.gateway_url)

    def restore(self) -> None:
        if self._saved is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None
