"""Pacing deliveries within each platform's rate limits, so that a burst queues instead of
tripping 429s.

The dispatcher asks for a send slot before it calls ``adapter.deliver``: each platform
maps a message to the windows it counts against (Slack: about one message per second
per channel, with short bursts; Discord: its per-route buckets and 50 requests a second
globally). The windows live in the coordination layer, so with Redis every worker
draws from the same allowance. A slot near enough is waited for; a farther one sends the
row back to the queue until then.

A window is a sliding log ("at most ``limit`` sends in any ``seconds``"): it is never
looser than the fixed windows or token buckets platforms enforce for the same numbers,
and it still allows their whole rate. ``MARGIN`` keeps clock skew, network jitter and a
busy event loop from pushing a send into the previous window: a send that would start
more than ``LATE`` after its slot takes a new slot rather than crowd the next one, and
the first window after a pause is counted ``COLD`` late (its first request may have to
open a connection, so the platform's window may start that much after ours).

Adapters that see rate-limit headers (Discord's ``X-RateLimit-*``) report them with
:func:`observe_headers` during ``deliver``; the pacer then follows the route's real
bucket and blocks it until its reset when it is used up.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import structlog

from bot.messages import Kind, Message, TargetKind
from bot.ports import DeliveryContext
from storage.coordination import Reservation, Window

log = structlog.get_logger(__name__)

MARGIN = 0.01  # widen every window by 1 % …
MARGIN_SECONDS = 0.04  # … and 40 ms,
LATE = 0.03  # of which a send may start up to 30 ms after its slot (else it re-queues)
COLD = 0.25  # a first send after idle may open a new connection first


@dataclass(frozen=True)
class Limit:
    """``limit`` sends per ``seconds``, per channel (``per_channel``) or for the whole
    platform; with ``burst``, a token bucket of that many (see ``Window``)."""

    limit: int
    seconds: float
    per_channel: bool = True
    burst: int | None = None


# Slack: chat.postMessage allows about one message per second per channel "with short
# bursts" (a bucket of three here). Discord: message routes are commonly 5 per 5 s per
# channel, in fixed windows (the headers correct this), and 50 requests per second per
# bot overall — spread out by a bucket of 10, since 50 requests fired at one instant
# leave the process late for most of them.
DEFAULT_LIMITS: dict[str, tuple[Limit, ...]] = {
    "slack": (Limit(1, 1.0, burst=3),),
    "discord": (Limit(5, 5.0), Limit(50, 1.0, per_channel=False)),
    # Mail: per recipient domain (the "channel" below), so one customer's server never
    # sees a burst that looks like spam; 30 a minute in bursts of ten.
    "email": (Limit(30, 60.0, burst=10),),
    # The engineering tracker (one channel, "team:tracker"): GitHub asks for a second
    # between mutating calls; a Retry-After there holds every tracker call (issue #12).
    "tracker": (Limit(1, 1.0, burst=5),),
}


# Edits have limits of their own (channel keys "edit:…"): Slack's chat.update is Tier 3,
# about 50 a minute for the workspace (a bucket of 5 refilled at 45 a minute never
# makes 50 in any minute); Discord's message edits a bucket per channel.
EDIT = "edit:"
EDIT_LIMITS: dict[str, tuple[Limit, ...]] = {
    "slack": (Limit(45, 60.0, per_channel=False, burst=5),),
    "discord": (Limit(5, 5.0), Limit(50, 1.0, per_channel=False)),
}


@dataclass
class _Delivery:
    pacer: Pacer
    platform: str
    channel: str


_current: contextvars.ContextVar[_Delivery | None] = contextvars.ContextVar(
    "casebot_delivery", default=None
)


class Pacer:
    """Send slots per platform and channel, drawn from shared windows."""

    def __init__(
        self,
        coordination: Callable[[], Any],
        limits: Mapping[str, tuple[Limit, ...]] | None = None,
        max_wait: float = 10.0,
    ) -> None:
        self._coordination = coordination
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.edit_limits = dict(EDIT_LIMITS if limits is None else {})
        self.max_wait = max_wait
        # Route limits learned from response headers: channel key -> (limit, seconds).
        self.learned: dict[tuple[str, str], tuple[int, float]] = {}
        self.blocked = 0  # how many times a platform told us to wait (429s, empty buckets)
        self.tolerance = LATE
        self.late = 0  # sends that missed their slot and took another

    def _limits(self, platform: str, channel: str) -> tuple[Limit, ...]:
        if channel.startswith(EDIT) and platform in self.edit_limits:
            return self.edit_limits[platform]
        return self.limits.get(platform, ())

    def windows(self, platform: str, channel: str) -> list[Window]:
        out = []
        edit = EDIT if channel.startswith(EDIT) and platform in self.edit_limits else ""
        for i, lim in enumerate(self._limits(platform, channel)):
            limit, seconds = lim.limit, lim.seconds
            if lim.per_channel:
                if not lim.burst:
                    limit, seconds = self.learned.get((platform, channel), (limit, seconds))
                key = f"{platform}:{i}:{channel}"
            else:  # a platform-wide allowance is shared by edits and posts alike
                normal = self.limits.get(platform, ())
                at = f"{normal.index(lim)}" if lim in normal else f"{edit}{i}"
                key = f"{platform}:{at}:all"
            out.append(Window(key, limit, seconds * (1 + MARGIN) + MARGIN_SECONDS, lim.burst, COLD))
        return out

    def lookahead(self, platform: str, channel: str) -> float:
        """How far ahead a slot may be reserved. Under several windows (a route and a
        global allowance) only about one window ahead: a slot far ahead in one window,
        taken because another window is full until then, would block the sends that
        could go earlier (a window counts its latest sends)."""
        windows = self.windows(platform, channel)
        if len(windows) > 1:
            return min(self.max_wait, min(w.seconds for w in windows))
        return self.max_wait

    async def reserve(
        self, platform: str, channel: str, max_wait: float | None = None
    ) -> Reservation:
        windows = self.windows(platform, channel)
        if not windows:
            return Reservation(True, 0.0)
        wait = self.lookahead(platform, channel) if max_wait is None else max_wait
        return await self._coordination().reserve(windows, wait)

    async def release(self, slot: Reservation) -> None:
        """A slot missed (the send could not start in time) is given back."""
        await self._coordination().release(slot)

    async def penalize(
        self, platform: str, channel: str, seconds: float, everything: bool = False
    ) -> None:
        """The platform asked us to wait ``seconds`` before sending here again."""
        self.blocked += 1
        for w, lim in zip(
            self.windows(platform, channel), self._limits(platform, channel), strict=True
        ):
            if lim.per_channel != everything:
                await self._coordination().block(w, seconds)

    def delivering(self, platform: str, channel: str) -> contextvars.Token[_Delivery | None]:
        """Mark the running task as delivering to ``channel`` (for observe_headers)."""
        return _current.set(_Delivery(self, platform, channel))

    @staticmethod
    def done(token: contextvars.Token[_Delivery | None]) -> None:
        _current.reset(token)

    async def observe(self, platform: str, channel: str, headers: Mapping[str, Any]) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        try:
            limit = int(h["x-ratelimit-limit"]) if "x-ratelimit-limit" in h else None
            remaining = int(h["x-ratelimit-remaining"]) if "x-ratelimit-remaining" in h else None
            reset_after = (
                float(h["x-ratelimit-reset-after"]) if "x-ratelimit-reset-after" in h else None
            )
        except (TypeError, ValueError):
            return
        if limit and remaining is not None and reset_after is not None:
            if remaining == limit - 1 and reset_after > 0:
                # The first send of a window: its reset is the window's length.
                self.learned[(platform, channel)] = (limit, reset_after)
            if remaining == 0:
                await self.penalize(platform, channel, reset_after)
        if str(h.get("x-ratelimit-global", "")).lower() == "true" and "retry-after" in h:
            with suppress(ValueError):
                await self.penalize(platform, channel, float(h["retry-after"]), everything=True)


async def observe_headers(headers: Mapping[str, Any]) -> None:
    """For adapters: report a platform response's rate-limit headers while delivering an
    outbox message (a no-op outside a delivery)."""
    current = _current.get()
    if current is not None:
        await current.pacer.observe(current.platform, current.channel, headers)


def channel_key(platform: str, message: Message, ctx: DeliveryContext) -> str:
    """Which platform channel (rate-limit route) a message will be posted in: exact
    enough to pace by, without asking the adapter."""
    target = message.target
    if platform == "email":
        to = ctx.customer_user if target.kind == TargetKind.CASE_CUSTOMER else ctx.address
        return "domain:" + (to or target.id).rpartition("@")[2].lower()
    thread_is_channel = platform == "discord"  # a Discord thread is a channel of its own

    def of(ref: Any) -> str | None:
        if ref is None:
            return None
        return (ref.thread_id or ref.channel) if thread_is_channel else ref.channel

    if message.update and ctx.previous is not None:
        return EDIT + (of(ctx.previous) or ctx.previous.channel)
    if target.kind == TargetKind.TEAM:
        return ctx.address or f"team:{target.id}"
    if target.kind == TargetKind.PERSON:
        return f"dm:{target.id}"
    if target.kind == TargetKind.CASE_CUSTOMER:
        if (
            thread_is_channel
            and ctx.customer_thread is None
            and message.kind == Kind.CASE_OPENED
            and (ctx.account_channel or ctx.team_channel)
        ):
            # The confirmation opens the case's private thread and is its first message:
            # a channel of its own, never counted against the team channel it opens in.
            return f"thread:{message.case_key or target.id}"
        return (
            of(ctx.customer_thread) or ctx.origin_channel or f"dm:{ctx.customer_user or target.id}"
        )
    return of(ctx.staff_thread) or ctx.team_channel or f"staff:{target.id}"
