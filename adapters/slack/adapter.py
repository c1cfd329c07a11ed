"""Messages out: the core's neutral messages posted (or edited) in Slack.

Where each message goes follows ``docs/adapters.md``: a person → a DM with the bot; a
team → its configured Slack channel; the customer side of a case → the thread under
the customer-facing case message (``CASE_OPENED`` creates it in the channel the case
was opened in, or in a DM with the customer when the bot cannot post there); the staff
side → the triage alert's thread. ``update=True`` with a previous ref edits the message
in place (``chat.update``), falling back to a new post if the old one is gone.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError

from adapters.slack.client import SlackApi, delivery_error, error_code
from adapters.slack.people import PLATFORM, Directory
from adapters.slack.render import Rendered, render_message
from bot.messages import Kind, Message, TargetKind
from bot.ports import DeliveryContext, DeliveryError, PlatformRef

log = logging.getLogger(__name__)

# The bot cannot post where it was told to: try the next place (a DM) instead.
_CANNOT_POST_HERE = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
)
# The message to edit is gone: post it anew.
_CANNOT_EDIT = frozenset({"message_not_found", "cant_update_message", "channel_not_found"})

STAFF_THREADS_KEPT = 10_000

Place = tuple[str, str | None]  # (channel, thread ts); channel may be "@U…" for a DM


class SlackAdapter:
    """``bot.ports.PlatformAdapter`` for Slack."""

    name = PLATFORM

    def __init__(
        self,
        api: SlackApi,
        directory: Directory,
        *,
        on_delivered: Callable[[Message, DeliveryContext], None] | None = None,
    ) -> None:
        self.api = api
        self.directory = directory
        self.on_delivered = on_delivered
        self._dm_channels: dict[str, str] = {}
        # The staff thread of recent cases, as seen while delivering (for "Join").
        self._staff_threads: OrderedDict[str, PlatformRef] = OrderedDict()

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        try:
            ref = await self._deliver(message, ctx)
        except DeliveryError:
            raise
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            raise delivery_error(exc) from exc
        self._remember_staff_thread(message, ctx, ref)
        if self.on_delivered is not None:
            self.on_delivered(message, ctx)
        return ref

    async def _deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef:
        rendered = render_message(message, self.directory.slack_user)
        if message.update and ctx.previous is not None:
            try:
                await self.api.web.chat_update(
                    channel=ctx.previous.channel,
                    ts=ctx.previous.message_id,
                    text=rendered.text,
                    blocks=rendered.block_dicts(),
                )
                return ctx.previous
            except SlackApiError as exc:
                if error_code(exc) not in _CANNOT_EDIT:
                    raise
                log.info("cannot edit %s (%s); posting it anew", message.ref, error_code(exc))
                # Where it was: top level, or in the thread it was a reply in.
                prev = ctx.previous
                thread = prev.thread_id if prev.thread_id != prev.message_id else None
                places = [(prev.channel, thread), *self._places(message, ctx)]
                return await self._post_first(places, rendered, message)
        return await self._post_first(self._places(message, ctx), rendered, message)

    async def _post_first(
        self, places: list[Place], rendered: Rendered, message: Message
    ) -> PlatformRef:
        """Post in the first of ``places`` the bot may post in."""
        last: SlackApiError | None = None
        for channel, thread in places:
            try:
                return await self._post(channel, thread, rendered)
            except SlackApiError as exc:
                if error_code(exc) not in _CANNOT_POST_HERE:
                    raise
                log.info("cannot post %s in %s (%s)", message.kind, channel, error_code(exc))
                last = exc
        if last is not None:
            raise last
        raise DeliveryError(
            f"nowhere to deliver {message.kind} for {message.target.kind} "
            f"{message.target.id!r} on Slack",
            permanent=True,
        )

    def _places(self, message: Message, ctx: DeliveryContext) -> list[Place]:
        """Where the message may go, best first."""
        target = message.target
        config = self.directory.config
        if target.kind == TargetKind.PERSON:
            user = self.directory.slack_user(target.id)
            return [(f"@{user}", None)] if user else []
        if target.kind == TargetKind.TEAM:
            team = config.team(target.id)
            channel = team.channels.get(PLATFORM) if team else None
            return [(channel, None)] if channel else []
        if target.kind == TargetKind.CASE_STAFF:
            if ctx.staff_thread is not None:
                return [_thread_of(ctx.staff_thread)]
            return [(ctx.team_channel, None)] if ctx.team_channel else []
        # The customer's side of the case.
        if ctx.customer_thread is not None and message.kind != Kind.CASE_OPENED:
            return [_thread_of(ctx.customer_thread)]
        places: list[Place] = []
        if ctx.origin_channel:
            places.append((ctx.origin_channel, None))
        if ctx.customer_user:
            places.append((f"@{ctx.customer_user}", None))
        return places

    async def _post(self, channel: str, thread: str | None, rendered: Rendered) -> PlatformRef:
        if channel.startswith("@"):
            channel = await self.dm_channel(channel[1:])
        response = await self.api.web.chat_postMessage(
            channel=channel,
            thread_ts=thread,
            text=rendered.text,
            blocks=rendered.block_dicts(),
            unfurl_links=False,
            unfurl_media=False,
        )
        ts = str(response["ts"])
        return PlatformRef(channel=str(response["channel"]), message_id=ts, thread_id=thread or ts)

    def _remember_staff_thread(
        self, message: Message, ctx: DeliveryContext, ref: PlatformRef
    ) -> None:
        if not message.case_key:
            return
        thread = ctx.staff_thread
        if thread is None and message.kind == Kind.TRIAGE_ALERT and not message.update:
            thread = ref
        if thread is not None:
            self._staff_threads.pop(message.case_key, None)
            self._staff_threads[message.case_key] = thread
            while len(self._staff_threads) > STAFF_THREADS_KEPT:
                self._staff_threads.popitem(last=False)

    async def staff_thread_link(self, case_key: str) -> str | None:
        """A link to the case's staff thread, if this process has seen it."""
        ref = self._staff_threads.get(case_key)
        if ref is None:
            return None
        try:
            response = await self.api.web.chat_getPermalink(
                channel=ref.channel, message_ts=ref.thread_id or ref.message_id
            )
        except SlackApiError as exc:
            log.info("no permalink for the staff thread of %s: %s", case_key, error_code(exc))
            return None
        return str(response.get("permalink") or "") or None

    async def dm_channel(self, user_id: str) -> str:
        """The DM between the bot and ``user_id`` (``conversations.open``, cached)."""
        channel = self._dm_channels.get(user_id)
        if channel is None:
            response = await self.api.web.conversations_open(users=user_id)
            channel = str(response["channel"]["id"])
            self._dm_channels[user_id] = channel
        return channel


def _thread_of(ref: PlatformRef) -> Place:
    return ref.channel, ref.thread_id or ref.message_id


__all__ = ["SlackAdapter"]
