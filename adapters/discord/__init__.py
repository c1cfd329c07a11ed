"""The Discord adapter: the whole case life cycle in a Discord server (discord.py 2.x).

``casebot run`` calls :func:`start_discord` when :func:`discord_configured`;
``casebot discord sync [--global]`` calls :func:`sync_commands`. The setup a server
admin does (bot, intents, permissions, invite) is in docs/discord.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import discord

from adapters.discord.client import CasebotClient
from adapters.discord.core import PLATFORM, Core, team_channel_ids
from adapters.discord.delivery import DiscordDelivery
from adapters.discord.install import PERMISSIONS, invite_url
from adapters.discord.interactions import ANSWER_WITHIN
from adapters.discord.settings import (
    DiscordSettings,
    Endpoints,
    SettingsError,
    discord_configured,
)

__all__ = [
    "PERMISSIONS",
    "DiscordRunner",
    "DiscordSettings",
    "SettingsError",
    "discord_configured",
    "invite_url",
    "start_discord",
    "start_outbound",
    "sync_commands",
]

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
PRIVILEGED_HELP = (
    "Discord refused the Message Content intent: enable it for this bot in the Developer "
    "Portal (Bot → Privileged Gateway Intents → Message Content Intent); see docs/discord.md"
)


class DiscordRunner:
    """A connected adapter; ``stop()`` disconnects and puts discord.py's endpoints back."""

    def __init__(
        self, client: CasebotClient, task: asyncio.Task[None], endpoints: Endpoints
    ) -> None:
        self.client = client
        self.adapter: DiscordDelivery = client.delivery
        self._task = task
        self._endpoints = endpoints

    @property
    def sync_report(self) -> list[str]:
        return list(self.client.sync_report)

    async def stop(self) -> None:
        try:
            await self.client.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=10)
        finally:
            self._endpoints.restore()


async def start_discord(
    bot: Core,
    *,
    settings: DiscordSettings | None = None,
    answer_within: float = ANSWER_WITHIN,
    guild_ready_timeout: float = 2.0,
    ready_timeout: float = READY_TIMEOUT,
) -> DiscordRunner:
    """Log in, connect to the gateway, sync ``/case`` and register the adapter on ``bot``.

    Returns once the session is ready (or after ``ready_timeout``, still connecting in
    the background). A bad token or a refused privileged intent raises here, so
    ``casebot run`` fails at once with the reason.
    """
    settings = settings or DiscordSettings.from_env()
    endpoints = Endpoints(settings)
    endpoints.apply()
    client = CasebotClient(
        bot, settings, answer_within=answer_within, guild_ready_timeout=guild_ready_timeout
    )
    try:
        await client.login(settings.token)
    except BaseException:
        await client.close()
        endpoints.restore()
        raise
    if client.application_id is not None:
        log.info(
            "Discord: logged in as %s; invite link: %s",
            client.user,
            invite_url(client.application_id),
        )
    task = asyncio.create_task(client.connect(reconnect=True), name="casebot-discord-gateway")
    started = asyncio.create_task(client.started.wait())
    done, _ = await asyncio.wait(
        {task, started}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED
    )
    started.cancel()
    if task in done:
        await client.close()
        endpoints.restore()
        exc = task.exception()
        if isinstance(exc, discord.PrivilegedIntentsRequired):
            raise RuntimeError(PRIVILEGED_HELP) from exc
        raise RuntimeError(f"the Discord gateway closed while starting: {exc!r}") from exc
    if not done:
        log.warning("Discord is slow to get ready; still connecting in the background")
    bot.register_adapter(client.delivery)
    return DiscordRunner(client, task, endpoints)


async def start_outbound(
    bot: Core, *, settings: DiscordSettings | None = None
) -> Callable[[], Awaitable[None]]:
    """Delivery only, for ``casebot worker``: log in over REST (no gateway session, so
    no events are received and no second bot appears online), register the adapter,
    and return how to close it. Every send goes through REST, so workers need nothing
    the gateway caches."""
    settings = settings or DiscordSettings.from_env()
    endpoints = Endpoints(settings)
    endpoints.apply()
    client = CasebotClient(bot, settings)
    try:
        await client.login(settings.token)
    except BaseException:
        await client.close()
        endpoints.restore()
        raise
    bot.register_adapter(client.delivery)

    async def close() -> None:
        try:
            await client.close()
        finally:
            endpoints.restore()

    return close


async def sync_commands(
    bot: Core, *, global_: bool, settings: DiscordSettings | None = None
) -> str:
    """Sync ``/case`` now, over REST only (no gateway session): globally with
    ``global_``, else to DISCORD_GUILD_IDS or the servers of the configured team channels.
    Writes only what changed; returns one line per scope.
    """
    settings = settings or DiscordSettings.from_env()
    endpoints = Endpoints(settings)
    endpoints.apply()
    client = CasebotClient(bot, settings)
    try:
        await client.login(settings.token)
        if global_:
            lines = await client.sync_global()
        else:
            guilds = list(settings.guild_ids) or await _guilds_of_team_channels(client, bot)
            if not guilds:
                return (
                    "no guild to sync to: set DISCORD_GUILD_IDS, or give a team a "
                    f"channels.{PLATFORM} the bot can see"
                )
            lines = await client.sync_guilds(guilds)
        return "\n".join(lines)
    finally:
        await client.close()
        endpoints.restore()


async def _guilds_of_team_channels(client: CasebotClient, bot: Core) -> list[int]:
    guilds: list[int] = []
    for channel_id in sorted(team_channel_ids(bot.config)):
        try:
            data = await client.http.get_channel(channel_id)
        except discord.HTTPException as exc:
            log.warning("cannot see Discord channel %s: %s", channel_id, exc)
            continue
        guild = str(data.get("guild_id") or "")
        if guild.isdigit() and int(guild) not in guilds:
            guilds.append(int(guild))
    return guilds
