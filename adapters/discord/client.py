"""The discord.py client: gateway events in, wired to the core's interactions.

Intents are the fewest the features need:

- ``guilds``: servers, channels, threads and roles (where team channels live, which
  threads exist, thread events);
- ``guild_messages`` and ``dm_messages``: messages written in case threads and DMs;
- ``message_content`` (privileged): the words of those messages, without which a
  customer's answer in a case thread arrives empty. It must be switched on in the
  Developer Portal (docs/discord.md).

Not ``members`` nor ``presences``: interactions and messages carry the member's role ids,
and thread members are added by id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands

from adapters.common import RecentKeys
from adapters.discord.components import ActionButton, button_fits
from adapters.discord.delivery import DiscordDelivery
from adapters.discord.durable import Durable
from adapters.discord.interactions import ANSWER_WITHIN, DOUBLE_CLICK_WINDOW, Interactions
from adapters.discord.settings import DiscordSettings, team_channel_ids
from adapters.discord.sync import sync_all
from adapters.discord.tree import case_group, command_payload
from bot.config import Config
from bot.ports import Core, Inbox

log = logging.getLogger(__name__)

ROLES_TTL = 300.0  # seconds a DM user's looked-up roles are trusted


def casebot_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    return intents


class CasebotClient(discord.Client):
    """One Discord session. With ``core`` it answers interactions and messages (the
    ``casebot`` handler); without (delivery, or a command sync) it only talks REST.
    With an ``inbox`` too, what it accepts goes through it (:mod:`adapters.discord.durable`)."""

    def __init__(
        self,
        settings: DiscordSettings,
        config: Config,
        core: Core | None = None,
        *,
        answer_within: float = ANSWER_WITHIN,
        double_click_window: float = DOUBLE_CLICK_WINDOW,
        guild_ready_timeout: float = 2.0,
        inbox: Inbox | None = None,
    ) -> None:
        super().__init__(
            intents=casebot_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,
            max_messages=None,
            chunk_guilds_at_startup=False,
        )
        self.config = config
        self.settings = settings
        self.tree: app_commands.CommandTree[CasebotClient] = app_commands.CommandTree(self)
        self.tree.add_command(case_group())
        self.casebot: Interactions | None = None
        self.durable: Durable | None = None
        if core is not None:
            self.casebot = Interactions(
                core,
                roles_lookup=self.roles_in_servers,
                channel_lookup=self.channel_where,
                answer_within=answer_within,
                double_click_window=double_click_window,
            )
            if inbox is not None:
                self.durable = Durable(self.casebot, inbox, self)
        self.delivery = DiscordDelivery(self)
        self.started = asyncio.Event()  # READY seen and the first command sync done
        self.sync_report: list[str] = []
        self._synced_guilds: set[int] = set()
        self._roles: RecentKeys[int, tuple[str, ...]] = RecentKeys(ROLES_TTL, size=5_000)
        self._places: RecentKeys[int, tuple[str | None, str | None]] = RecentKeys(size=5_000)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton)

    # -- which servers casebot serves --------------------------------------------------

    def serves(self, guild: discord.Guild) -> bool:
        """A server holding one of the configured team channels."""
        return any(guild.get_channel(c) is not None for c in team_channel_ids(self.config))

    def target_guilds(self) -> list[int]:
        if self.settings.guild_ids:
            return list(self.settings.guild_ids)
        return [g.id for g in self.guilds if self.serves(g)]

    # -- gateway events ------------------------------------------------------------------

    async def on_ready(self) -> None:
        # discord.py fires this after READY and every GUILD_CREATE of the session start.
        try:
            if not self.started.is_set():
                await self.sync_guilds(self.target_guilds())
                if not self.target_guilds():
                    log.warning(
                        "no Discord server holds a configured team channel; set "
                        "DISCORD_GUILD_IDS or check teams[].channels.discord"
                    )
        finally:
            self.started.set()

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Added to a server while running: give it /case if it is one casebot serves."""
        if not self.settings.guild_ids and self.serves(guild):
            await self.sync_guilds([guild.id])

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """A server that was unavailable at READY (an outage) came back later."""
        if self.started.is_set():
            await self.on_guild_join(guild)

    async def on_message(self, message: discord.Message) -> None:
        if self.casebot is not None:
            await self.casebot.thread_message(message)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        # Commands and buttons are routed by the tree and ActionButton; modal
        # submissions are read here, so a form opened before a restart still works.
        if self.casebot is None:
            return
        if interaction.type is discord.InteractionType.modal_submit:
            await self.casebot.modal(interaction)
        elif interaction.type is discord.InteractionType.component:
            data: dict[str, Any] = dict(interaction.data or {})
            custom_id = str(data.get("custom_id", ""))
            if button_fits(custom_id) and not _on_message(interaction.message, custom_id):
                # ActionButton only answers for a button still on the message; one
                # pressed on a stale copy would go unanswered ("interaction failed").
                await self.casebot.button(interaction, custom_id)

    # -- commands --------------------------------------------------------------------------

    async def sync_guilds(self, guild_ids: list[int]) -> list[str]:
        fresh = [g for g in guild_ids if g not in self._synced_guilds]
        if not fresh or self.application_id is None:
            return []
        self._synced_guilds.update(fresh)
        lines = await sync_all(self.http, self.application_id, command_payload(self.tree), fresh)
        self.sync_report.extend(lines)
        return lines

    async def sync_global(self) -> list[str]:
        if self.application_id is None:
            return ["not logged in"]
        lines = await sync_all(self.http, self.application_id, command_payload(self.tree), [None])
        self.sync_report.extend(lines)
        return lines

    # -- look-ups the interactions need ------------------------------------------------------

    async def roles_in_servers(self, user_id: int) -> tuple[str, ...]:
        """A user's role ids in the servers casebot serves (for DMs, which carry none)."""
        cached = self._roles.get(user_id)
        if cached is not None:
            return cached
        roles: list[str] = []
        for guild_id in self.target_guilds():
            try:
                member = await self.http.get_member(guild_id, user_id)
            except discord.NotFound:
                continue
            roles.extend(str(r) for r in member.get("roles", []))
        found = tuple(dict.fromkeys(roles))
        self._roles.put(user_id, found)
        return found

    async def channel_where(self, channel_id: int) -> tuple[str | None, str | None]:
        """(channel, thread) for a channel discord.py has not cached."""
        known = self._places.get(channel_id)
        if known is not None:
            return known
        channel = await self.fetch_channel(channel_id)
        if isinstance(channel, discord.Thread):
            place: tuple[str | None, str | None] = (str(channel.parent_id), str(channel.id))
        else:
            place = (str(channel.id), None)
        self._places.put(channel_id, place)
        return place


def _on_message(message: discord.Message | None, custom_id: str) -> bool:
    if message is None:
        return False
    for row in message.components:
        for item in getattr(row, "children", [row]):
            if getattr(item, "custom_id", None) == custom_id:
                return True
    return False
