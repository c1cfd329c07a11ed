"""Discord as a :class:`bot.ports.Platform`, and ``casebot discord sync``.

:meth:`DiscordPlatform.start` logs in over REST; when receiving it connects the gateway,
syncs ``/case`` (only what changed) and returns once the session is ready (or after
``ready_timeout``, still connecting in the background). With
``PlatformOptions(receive=False)`` (``casebot worker``) it stays REST only: no gateway
session, so no events are received and no second bot appears online; every send goes
through REST, so a worker needs nothing the gateway caches.

Whatever stops Discord from starting raises :class:`~bot.ports.PlatformError` with one
line saying what to fix, and leaves discord.py's endpoints as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import discord
from discord.http import Route

from adapters.discord.client import CasebotClient
from adapters.discord.install import invite_url
from adapters.discord.interactions import ANSWER_WITHIN, DOUBLE_CLICK_WINDOW
from adapters.discord.settings import PLATFORM, DiscordSettings, Endpoints, team_channel_ids
from bot.config import Config
from bot.messages import Message
from bot.ports import (
    Core,
    DeliveryContext,
    DeliveryError,
    Inbox,
    PlatformError,
    PlatformOptions,
    PlatformRef,
)

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
NOT_RUNNING_RETRY = 5.0
AUTHENTICATION_FAILED = 4004  # the gateway's close code for a refused token
BAD_TOKEN = (
    "Discord refused DISCORD_TOKEN: copy the bot token again from the Developer Portal "
    "(Bot → Reset Token); see docs/discord.md"
)
PRIVILEGED_HELP = (
    "Discord refused the Message Content intent: enable it for this bot in the Developer "
    "Portal (Bot → Privileged Gateway Intents → Message Content Intent); see docs/discord.md"
)


class DiscordPlatform:
    """One Discord bot session, started with the core (see the module's docstring)."""

    name = PLATFORM

    def __init__(
        self,
        settings: DiscordSettings,
        options: PlatformOptions | None = None,
        *,
        answer_within: float = ANSWER_WITHIN,
        double_click_window: float = DOUBLE_CLICK_WINDOW,
        guild_ready_timeout: float = 2.0,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.options = options or PlatformOptions()
        self.answer_within = answer_within
        self.double_click_window = double_click_window
        self.guild_ready_timeout = guild_ready_timeout
        self.ready_timeout = ready_timeout
        self.client: CasebotClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._endpoints = Endpoints(settings)
        self._stopped = asyncio.Event()
        self.inbox: Inbox | None = None

    def use_inbox(self, inbox: Inbox) -> None:
        """Write every accepted request to ``inbox`` first (the bootstrap, before start)."""
        self.inbox = inbox

    @property
    def sync_report(self) -> list[str]:
        return list(self.client.sync_report) if self.client else []

    async def start(self, core: Core) -> None:
        if self.client is not None:
            raise PlatformError("Discord is already started")
        self._stopped.clear()
        self._endpoints.apply()
        receive = self.options.receive
        client = CasebotClient(
            self.settings,
            core.config,
            core if receive else None,
            answer_within=self.answer_within,
            double_click_window=self.double_click_window,
            guild_ready_timeout=self.guild_ready_timeout,
            inbox=self.inbox if receive else None,
        )
        try:
            await log_in(client, self.settings)
            if client.durable is not None:
                # Logged in: rows left by a process that died can be answered from here.
                client.durable.serve()
            if receive:
                if client.application_id is not None:
                    log.info(
                        "Discord: logged in as %s; invite link: %s",
                        client.user,
                        invite_url(client.application_id),
                    )
                self._task = await self._connect(client)
        except BaseException:
            await client.close()
            self._endpoints.restore()
            raise
        self.client = client

    async def _connect(self, client: CasebotClient) -> asyncio.Task[None]:
        task = asyncio.create_task(client.connect(reconnect=True), name="casebot-discord-gateway")
        started = asyncio.create_task(client.started.wait())
        done, _ = await asyncio.wait(
            {task, started}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        started.cancel()
        if task in done:
            exc = task.exception()
            if isinstance(exc, discord.PrivilegedIntentsRequired):
                raise PlatformError(PRIVILEGED_HELP) from exc
            if isinstance(exc, discord.LoginFailure) or (
                isinstance(exc, discord.ConnectionClosed) and exc.code == AUTHENTICATION_FAILED
            ):
                raise PlatformError(BAD_TOKEN) from exc
            raise PlatformError(f"the Discord gateway closed while starting: {exc!r}") from exc
        if not done:
            log.warning("Discord is slow to get ready; still connecting in the background")
        return task

    async def stop(self) -> None:
        client, task = self.client, self._task
        self.client, self._task = None, None
        try:
            if client is not None:
                if client.durable is not None:
                    client.durable.leave()
                await client.close()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=10)
        finally:
            self._endpoints.restore()
            self._stopped.set()

    async def finished(self) -> None:
        """Discord never ends by itself (discord.py reconnects); this returns after stop."""
        await self._stopped.wait()

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        client = self.client
        if client is None or client.is_closed():
            raise DeliveryError("the Discord client is not running", retry_after=NOT_RUNNING_RETRY)
        return await client.delivery.deliver(message, ctx)


async def log_in(client: CasebotClient, settings: DiscordSettings) -> None:
    """Log in over REST; what refuses it is a :class:`PlatformError` saying what to fix."""
    try:
        await client.login(settings.token)
    except discord.LoginFailure as exc:
        raise PlatformError(BAD_TOKEN) from exc
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        raise PlatformError(f"could not reach Discord at {Route.BASE}: {exc}") from exc


async def sync_commands(
    config: Config, *, global_: bool, settings: DiscordSettings | None = None
) -> str:
    """Sync ``/case`` now, over REST only (no gateway session): globally with
    ``global_``, else to DISCORD_GUILD_IDS or the servers of the configured team channels.
    Writes only what changed; returns one line per scope.
    """
    settings = settings or DiscordSettings.from_env()
    endpoints = Endpoints(settings)
    endpoints.apply()
    client = CasebotClient(settings, config)
    try:
        await log_in(client, settings)
        if global_:
            lines = await client.sync_global()
        else:
            guilds = list(settings.guild_ids) or await _guilds_of_team_channels(client, config)
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


async def _guilds_of_team_channels(client: CasebotClient, config: Config) -> list[int]:
    guilds: list[int] = []
    for channel_id in sorted(team_channel_ids(config)):
        try:
            data = await client.http.get_channel(channel_id)
        except discord.HTTPException as exc:
            log.warning("cannot see Discord channel %s: %s", channel_id, exc)
            continue
        guild = str(data.get("guild_id") or "")
        if guild.isdigit() and int(guild) not in guilds:
            guilds.append(int(guild))
    return guilds
