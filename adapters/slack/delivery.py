"""Messages out: the core's neutral messages posted (or edited) in Slack.

Every address comes resolved in the :class:`~bot.ports.DeliveryContext`: a person →
a DM with ``ctx.address`` (their Slack user id); a team → ``ctx.address`` (its
channel); the customer side of a case → the thread under the customer-facing case
message (``CASE_OPENED`` creates it in ``ctx.origin_channel``, or in a DM with
``ctx.customer_user`` when the bot cannot post there); the staff side →
``ctx.staff_thread`` (the triage alert's thread), else ``ctx.team_channel``. The people
to ping are ``ctx.mention_users``. ``update=True`` with a previous ref edits the
message in place (``chat.update``), falling back to a new post if the old one is gone.

Every post carries its outbox row id (``ctx.delivery_id``) in its metadata; a re-send
that may have been posted already (``ctx.maybe_posted_since``) looks for it first
(:mod:`adapters.slack.posted`), so a crash between Slack's answer and the outbox's
commit does not post it twice. Edits need no lookup: ``chat.update`` is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError

from adapters.common import RecentKeys
from adapters.slack.client import SlackApi, delivery_error, error_code
from adapters.slack.people import PLATFORM, Directory
from adapters.slack.posted import CannotRead, Posted, metadata
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

# No DM can be opened with this person.
_NO_DM = frozenset({"user_not_found", "cannot_dm_bot", "user_disabled"})

STAFF_THREADS_KEPT = 10_000


@dataclass(frozen=True)
class Place:
    """Somewhere to post: a channel (maybe a thread in it), or a DM with ``user``."""

    channel: str | None = None
    thread: str | None = None
    user: str | None = None

    @classmethod
    def of_thread(cls, ref: PlatformRef) -> Place:
        return cls(ref.channel, ref.thread_id or ref.message_id)

    def __str__(self) -> str:
        return self.channel or f"the DM with {self.user}"


class SlackDelivery:
    """How the Slack platform delivers (:meth:`bot.ports.Platform.deliver`)."""

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
        self.posted = Posted(api.web)
        # The staff thread of recent cases, as seen while delivering (for "Join").
        self._staff_threads: RecentKeys[str, PlatformRef] = RecentKeys(size=STAFF_THREADS_KEPT)

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
        rendered = render_message(message, ctx.mention_users)
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
                places = [Place(prev.channel, thread), *self._places(message, ctx)]
                return await self._post_first(places, rendered, message, ctx)
        return await self._post_first(self._places(message, ctx), rendered, message, ctx)

    async def _post_first(
        self, places: list[Place], rendered: Rendered, message: Message, ctx: DeliveryContext
    ) -> PlatformRef:
        """Post in the first of ``places`` the bot may post in — unless an earlier
        attempt already did, in any of them."""
        found = await self._posted_before(places, ctx)
        if found is not None:
            return found
        last: SlackApiError | None = None
        for place in places:
            try:
                return await self._post(place, rendered, ctx.delivery_id)
            except SlackApiError as exc:
                if error_code(exc) not in _CANNOT_POST_HERE:
                    raise
                log.info("cannot post %s in %s (%s)", message.kind, place, error_code(exc))
                last = exc
        if last is not None:
            raise last
        raise DeliveryError(
            f"nowhere to deliver {message.kind} for {message.target.kind} "
            f"{message.target.id!r} on Slack",
            permanent=True,
        )

    async def _posted_before(self, places: list[Place], ctx: DeliveryContext) -> PlatformRef | None:
        """Where an earlier attempt posted this delivery, if it may have and did."""
        since, delivery = ctx.maybe_posted_since, ctx.delivery_id
        if since is None or delivery is None:
            return None
        for place in places:
            try:
                channel = await self._channel(place)
            except SlackApiError as exc:
                if error_code(exc) not in _CANNOT_POST_HERE | _NO_DM:
                    raise
                continue  # nowhere the earlier attempt could have posted either
            try:
                return await self.posted.find(channel, place.thread, delivery, since)
            except CannotRead:
                continue  # maybe the earlier attempt could not post there either
        return None

    @staticmethod
    def _places(message: Message, ctx: DeliveryContext) -> list[Place]:
        """Where the message may go, best first."""
        kind = message.target.kind
        if kind == TargetKind.PERSON:
            return [Place(user=ctx.address)] if ctx.address else []
        if kind == TargetKind.TEAM:
            return [Place(ctx.address)] if ctx.address else []
        if kind == TargetKind.CASE_STAFF:
            if ctx.staff_thread is not None:
                return [Place.of_thread(ctx.staff_thread)]
            return [Place(ctx.team_channel)] if ctx.team_channel else []
        # The customer's side of the case.
        if ctx.customer_thread is not None and message.kind != Kind.CASE_OPENED:
            return [Place.of_thread(ctx.customer_thread)]
        places: list[Place] = []
        if ctx.origin_channel:
            places.append(Place(ctx.origin_channel))
        if ctx.customer_user:
            places.append(Place(user=ctx.customer_user))
        return places

    async def _channel(self, place: Place) -> str:
        if place.channel is not None:
            return place.channel
        assert place.user is not None
        return await self.directory.dm_channel(place.user)

    async def _post(self, place: Place, rendered: Rendered, delivery_id: str | None) -> PlatformRef:
        response = await self.api.posts.chat_postMessage(
            channel=await self._channel(place),
            thread_ts=place.thread,
            text=rendered.text,
            blocks=rendered.block_dicts(),
            unfurl_links=False,
            unfurl_media=False,
            metadata=metadata(delivery_id),
        )
        ts = str(response["ts"])
        return PlatformRef(
            channel=str(response["channel"]), message_id=ts, thread_id=place.thread or ts
        )

    def _remember_staff_thread(
        self, message: Message, ctx: DeliveryContext, ref: PlatformRef
    ) -> None:
        if not message.case_key:
            return
        thread = ctx.staff_thread
        if thread is None and message.kind == Kind.TRIAGE_ALERT and not message.update:
            thread = ref
        if thread is not None:
            self._staff_threads.put(message.case_key, thread)

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


__all__ = ["Place", "SlackDelivery"]
