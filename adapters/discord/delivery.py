"""Messages out: the core's neutral messages posted (or edited) on Discord.

Where a message goes, by target (docs/adapters.md). The core resolves every address
(:class:`~bot.ports.DeliveryContext`): ``address`` is the target person's Discord user id
or the team's channel id, ``mention_users`` the people to ping and bring into a thread,
``customer_user`` / ``assignee_user`` / ``team_channel`` the case's.

- ``person``: a DM to ``ctx.address``;
- ``team``: the channel ``ctx.address`` (the team's staff-only channel when
  ``teams[].staff_channels.discord`` sets one, else its channel); a triage alert's ref
  names the thread that will hang from it (on Discord a thread started from a message has the
  message's id), which the core keeps as the case's staff thread;
- ``case_customer``: the case's **private thread** in the team channel (or in the
  account's own Discord channel when it has one, see :meth:`DiscordDelivery._case_parent`).
  ``CASE_OPENED`` creates it (not a channel per case: Discord caps a category at 50
  channels and a server at 500) and adds the customer; the assigned engineer, and anyone
  a message pings, are added as they appear. Without a thread, the customer gets a DM;
- ``case_staff``: the staff thread under the triage alert (created on first use, so in
  the staff channel when there is one), else the staff channel, else the team channel.
  A case thread never opens in the staff channel.

Refs: ``channel`` is the channel posted in, or the thread's parent; ``thread_id`` the
thread. Sends carry a nonce derived from the destination and the message, with
``enforce_nonce``, so a retry after a lost response returns the message already posted
instead of posting it twice.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Literal

import discord

from adapters.common import RecentKeys
from adapters.discord import text as t
from adapters.discord.ratelimit import delivery_error, patiently
from adapters.discord.render import Rendered, render
from adapters.discord.settings import PLATFORM
from bot.messages import Kind, Message, TargetKind
from bot.ports import DeliveryContext, DeliveryError, PlatformRef

log = logging.getLogger(__name__)

PRIVATE_THREAD: Literal[12] = 12
WEEK_IN_MINUTES: Literal[10080] = 10080  # the longest auto-archive Discord offers
THREAD_ALREADY_CREATED = 160004  # "A thread has already been created for this message"
THREAD_ARCHIVED = 50083
NOT_RUNNING_RETRY = 5.0


class DiscordDelivery:
    """Messages out for :class:`~adapters.discord.platform.DiscordPlatform`."""

    name = PLATFORM

    def __init__(
        self,
        client: discord.Client,
    ) -> None:
        self._client = client
        # Remembered in this process so a retried delivery never opens a second thread
        # and members are not re-added on every message (adding twice is harmless).
        self._case_threads: RecentKeys[str, int] = RecentKeys(size=10_000)
        self._members: RecentKeys[tuple[int, int], bool] = RecentKeys(size=50_000)
        self._staff_threads: RecentKeys[int, bool] = RecentKeys(size=10_000)
        self._dms: RecentKeys[int, bool] = RecentKeys(size=10_000)

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        if self._client.is_closed():
            raise DeliveryError("the Discord client is not running", retry_after=NOT_RUNNING_RETRY)
        token = _delivery.set(ctx.delivery_id)
        try:
            return await self._deliver(message, ctx)
        except DeliveryError:
            raise
        except Exception as exc:
            error = delivery_error(exc)
            if error.permanent:
                log.error("Discord delivery of %s failed for good: %s", message.kind, exc)
            raise error from exc
        finally:
            _delivery.reset(token)

    async def _deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef:
        rendered = render(message, ctx.mention_users)
        target = message.target
        if target.kind is TargetKind.CASE_CUSTOMER:
            return await self._to_customer(message, ctx, rendered)
        if message.update and ctx.previous is not None:
            edited = await self._edit(ctx.previous, rendered)
            if edited is not None:
                return edited
        if target.kind is TargetKind.PERSON:
            user = _snowflake(ctx.address)
            if user is None:
                raise DeliveryError(f"{target.id} has no Discord identity", permanent=True)
            return await self._dm(user, message, rendered)
        if target.kind is TargetKind.TEAM:
            channel = _snowflake(ctx.address)
            if channel is None:
                raise DeliveryError(f"team {target.id} has no Discord channel", permanent=True)
            posted = await self._send(channel, message, rendered)
            # The staff thread will hang from the alert, and share its id.
            thread = str(posted.id) if message.kind is Kind.TRIAGE_ALERT else None
            return PlatformRef(channel=str(channel), message_id=str(posted.id), thread_id=thread)
        return await self._to_staff(message, ctx, rendered)

    # -- destinations --------------------------------------------------------------

    async def _dm(self, user_id: int, message: Message, rendered: Rendered) -> PlatformRef:
        dm = await self._client.create_dm(discord.Object(id=user_id))
        posted = await self._send(dm.id, message, rendered)
        return PlatformRef(channel=str(dm.id), message_id=str(posted.id))

    async def _to_customer(
        self, message: Message, ctx: DeliveryContext, rendered: Rendered
    ) -> PlatformRef:
        place = ctx.customer_thread
        if place is None:
            parent = await self._case_parent(ctx) if message.kind is Kind.CASE_OPENED else None
            if parent is not None:
                return await self._open_case_thread(parent, message, ctx, rendered)
            if not ctx.customer_user:
                raise DeliveryError(
                    f"no Discord thread or customer for {message.case_key}", permanent=True
                )
            # No thread (the team has no Discord channel): the case lives in a DM.
            return await self._dm(int(ctx.customer_user), message, rendered)
        if await self._is_dm(int(place.channel)):
            if message.update and ctx.previous is not None:
                edited = await self._edit(ctx.previous, rendered)
                if edited is not None:
                    return edited
            posted = await self._send(int(place.channel), message, rendered)
            return PlatformRef(channel=place.channel, message_id=str(posted.id))
        thread = int(place.thread_id or place.message_id)
        # Whoever the case now involves can read its thread; a status edit is often how
        # a newly assigned engineer first reaches it.
        late = await self._add_members(thread, self._people_in(ctx))
        if message.update and ctx.previous is not None:
            edited = await self._edit(ctx.previous, rendered)
            if edited is not None:
                return edited
        posted = await self._send(thread, message, rendered)
        if late:  # the thread was archived; the message above reopened it
            await self._add_members(thread, late)
        return PlatformRef(channel=place.channel, message_id=str(posted.id), thread_id=str(thread))

    async def _is_dm(self, channel_id: int) -> bool:
        """Whether a case's conversation is a DM rather than a thread in a server.

        Team channels are in discord.py's cache (GUILD_CREATE); a DM is too once casebot
        opened it, so Discord is only asked after a restart, once per DM.
        """
        known = self._dms.get(channel_id)
        if known is not None:
            return known
        channel = self._client.get_channel(channel_id)
        if channel is None:
            channel = await self._client.fetch_channel(channel_id)
        is_dm = isinstance(channel, discord.DMChannel)
        self._dms.put(channel_id, is_dm)
        return is_dm

    async def _case_parent(self, ctx: DeliveryContext) -> int | None:
        """The channel a case's private thread opens in.

        The team channel, as the contract says, unless the customer's account has its
        own Discord channel (``accounts[].channels.discord``): Discord shows a private
        thread only to people who can view its parent channel, and the team channel also
        carries the triage alerts of every account, so an account channel keeps each
        customer's view to their own account.
        """
        parent = ctx.account_channel or ctx.team_channel
        return int(parent) if parent and str(parent).isdigit() else None

    async def _open_case_thread(
        self, parent: int, message: Message, ctx: DeliveryContext, rendered: Rendered
    ) -> PlatformRef:
        key = message.case_key or message.title
        thread = self._case_threads.get(key)
        if thread is None:
            data = await self._client.http.start_thread_without_message(
                parent,
                name=t.one_line(message.title, t.THREAD_NAME_LIMIT) or key,
                auto_archive_duration=WEEK_IN_MINUTES,
                type=PRIVATE_THREAD,
                invitable=False,
                reason=f"casebot: {key}",
            )
            thread = int(data["id"])
            self._case_threads.put(key, thread)
        await self._add_members(thread, self._people_in(ctx))
        posted = await self._send(thread, message, rendered)
        return PlatformRef(channel=str(parent), message_id=str(posted.id), thread_id=str(thread))

    async def _to_staff(
        self, message: Message, ctx: DeliveryContext, rendered: Rendered
    ) -> PlatformRef:
        staff = ctx.staff_thread
        if staff is not None:
            thread = await self._staff_thread(staff, message)
            posted = await self._send(thread, message, rendered)
            return PlatformRef(
                channel=staff.channel, message_id=str(posted.id), thread_id=str(thread)
            )
        channel = ctx.staff_channel or ctx.team_channel
        if not channel:
            raise DeliveryError(
                f"no Discord staff thread or team channel for {message.case_key}", permanent=True
            )
        posted = await self._send(int(channel), message, rendered)
        return PlatformRef(channel=channel, message_id=str(posted.id))

    async def _staff_thread(self, alert: PlatformRef, message: Message) -> int:
        """The public thread hanging from the triage alert, started on first use."""
        thread = int(alert.thread_id or alert.message_id)
        if thread != int(alert.message_id) or thread in self._staff_threads:
            return thread
        name = f"{message.case_key} · staff" if message.case_key else "staff"
        try:
            await self._client.http.start_thread_with_message(
                int(alert.channel),
                int(alert.message_id),
                name=t.one_line(name, t.THREAD_NAME_LIMIT),
                auto_archive_duration=WEEK_IN_MINUTES,
            )
        except discord.HTTPException as exc:
            if exc.code != THREAD_ALREADY_CREATED:
                raise
        self._staff_threads.put(thread, True)
        return thread

    # -- primitives ----------------------------------------------------------------------

    async def _send(self, channel_id: int, message: Message, rendered: Rendered) -> discord.Message:
        channel = self._client.get_partial_messageable(channel_id)
        return await channel.send(**rendered.send_kwargs(), nonce=_nonce(channel_id, message))

    async def _edit(self, previous: PlatformRef, rendered: Rendered) -> PlatformRef | None:
        """Edit in place; None when the message is gone (it is then posted anew)."""
        channel_id = int(_holder(previous))
        partial = self._client.get_partial_messageable(channel_id).get_partial_message(
            int(previous.message_id)
        )
        try:
            await partial.edit(**rendered.edit_kwargs())
        except discord.NotFound:
            log.info("message %s is gone; posting it anew", previous.message_id)
            return None
        return previous

    def _people_in(self, ctx: DeliveryContext) -> list[int]:
        ids = [ctx.customer_user, ctx.assignee_user, *ctx.mention_users]
        return _unique(int(i) for i in ids if i and str(i).isdigit())

    async def _add_member(self, thread: int, user: int) -> None:
        await patiently(lambda: self._client.http.add_user_to_thread(thread, user))

    async def _add_members(self, thread: int, users: Iterable[int]) -> list[int]:
        """Add people to a private thread (once each); returns those to add again after
        a message reopened the archived thread."""
        late: list[int] = []
        for user in users:
            if (thread, user) in self._members:
                continue
            try:
                await self._add_member(thread, user)
            except discord.HTTPException as exc:
                if exc.code == THREAD_ARCHIVED:
                    late.append(user)
                    continue
                if exc.status in (403, 404):  # left the server, or blocked: post anyway
                    log.warning("could not add %s to thread %s: %s", user, thread, exc)
                    continue
                raise
            self._members.put((thread, user), True)
        return late


def _holder(ref: PlatformRef) -> str:
    """The channel a posted message lives in. A thread's starter message (the triage
    alert, whose thread shares its id) lives in the parent; others in their thread."""
    if ref.thread_id and ref.thread_id != ref.message_id:
        return ref.thread_id
    return ref.channel


# The outbox row being delivered: retries of one notification share a nonce, two equal
# notifications don't.
_delivery: contextvars.ContextVar[str | None] = contextvars.ContextVar("delivery", default=None)


def _nonce(channel_id: int, message: Message) -> str:
    body = json.dumps([channel_id, _delivery.get(), message.to_dict()], sort_keys=True, default=str)
    return str(int.from_bytes(hashlib.sha256(body.encode()).digest()[:8], "big") >> 1)


def _snowflake(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _unique(items: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(items))
