"""Who is acting, and where: a Discord interaction or message as the core's
:class:`~bot.exchange.Context`.

A message in a thread is in the thread's parent channel, thread = the thread's id (how
the core keys conversations, docs/adapters.md). Roles are the member's role ids without
@everyone; in a DM Discord sends none, so a customer known only by their account's role
is looked up in the servers casebot serves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from adapters.discord.settings import PLATFORM
from bot.config import Config
from bot.exchange import Context

log = logging.getLogger(__name__)

RolesLookup = Callable[[int], Awaitable[tuple[str, ...]]]
# A channel id → (channel, thread) as the core keys conversations (see :func:`where`).
ChannelLookup = Callable[[int], Awaitable[tuple[str | None, str | None]]]


async def no_roles(user_id: int) -> tuple[str, ...]:
    return ()


async def channel_as_is(channel_id: int) -> tuple[str | None, str | None]:
    return (str(channel_id), None)


class Contexts:
    def __init__(
        self,
        config: Config,
        *,
        roles_lookup: RolesLookup = no_roles,
        channel_lookup: ChannelLookup = channel_as_is,
    ) -> None:
        self._config = config
        self._roles_lookup = roles_lookup
        self._channel_lookup = channel_lookup

    async def of_interaction(self, interaction: discord.Interaction[Any]) -> Context:
        user = interaction.user
        roles = member_roles(user)
        if not roles and not isinstance(user, discord.Member):
            roles = await self._dm_roles(user.id)
        channel_id, thread_id = await self._where(interaction.channel, interaction.channel_id)
        return Context(
            platform=PLATFORM,
            user_id=str(user.id),
            channel_id=channel_id,
            thread_id=thread_id,
            user_name=user.display_name,
            roles=roles,
            event_id=str(interaction.id),
            sectioned=True,
        )

    async def of_message(self, message: discord.Message) -> Context:
        channel_id, thread_id = await self._where(message.channel, message.channel.id)
        roles = member_roles(message.author)
        if not roles and message.guild is None:
            roles = await self._dm_roles(message.author.id)
        return Context(
            platform=PLATFORM,
            user_id=str(message.author.id),
            channel_id=channel_id,
            thread_id=thread_id,
            user_name=message.author.display_name,
            roles=roles,
            event_id=str(message.id),
            sectioned=True,
        )

    async def _where(self, channel: Any, channel_id: int | None) -> tuple[str | None, str | None]:
        known = where(channel, channel_id)
        if isinstance(channel, discord.PartialMessageable) and channel.guild_id and channel_id:
            # A server channel discord.py has not cached (a thread it never saw open):
            # only Discord knows whether it is a thread, and of which channel.
            try:
                return await self._channel_lookup(channel_id)
            except discord.HTTPException:
                log.warning("could not look up Discord channel %s", channel_id)
        return known

    async def _dm_roles(self, user_id: int) -> tuple[str, ...]:
        """In a DM Discord sends no roles; a customer known only by their account's role
        is looked up in the servers casebot serves (configured people need no lookup)."""
        if self._config.person_by_identity(PLATFORM, str(user_id)) is not None:
            return ()
        try:
            return await self._roles_lookup(user_id)
        except Exception:  # a failed lookup means "no roles", never a failed command
            log.exception("could not look up the Discord roles of %s", user_id)
            return ()


def where(channel: Any, channel_id: int | None) -> tuple[str | None, str | None]:
    """(channel, thread) as the core keys conversations: a message in a thread is in
    the thread's parent channel, thread = the thread's id (docs/adapters.md)."""
    if isinstance(channel, discord.Thread):
        return (str(channel.parent_id), str(channel.id))
    if channel_id is None:
        return (None, None)
    return (str(channel_id), None)


def member_roles(user: Any) -> tuple[str, ...]:
    """A server member's role ids (without @everyone, whose id is the server's)."""
    if not isinstance(user, discord.Member):
        return ()
    guild_id = user.guild.id if user.guild else None
    # The raw ids from the payload: Member.roles drops ids of roles not in the cache.
    raw = getattr(user, "_roles", None)
    ids = list(raw) if raw is not None else [r.id for r in user.roles]
    return tuple(str(r) for r in ids if r != guild_id)


def message_text(message: discord.Message) -> str:
    """What the person wrote, with attachments as links (the core keeps text only)."""
    parts = [message.content] if message.content else []
    parts.extend(f"[attachment] {a.url}" for a in message.attachments)
    return "\n".join(parts)
