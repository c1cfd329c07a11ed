"""Coordination inside one process: :class:`LocalCoordination` (the embedded default,
and the fallback of :class:`~storage.coordination.redis.RedisCoordination`), and the
:class:`Window` and :class:`Reservation` types both backends share.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog

# Named for the package, as before the split, so log records keep their logger name.
log = structlog.get_logger("storage.coordination")

DEDUPE_TTL = 24 * 3600.0  # seconds an event id is remembered
LOCK_TTL = 30.0  # seconds a case lock lives if its holder dies
LOCK_WAIT = 10.0  # seconds to wait for a case lock before going on without it

WakeCallback = Callable[[], None]


@dataclass(frozen=True)
class Window:
    """A rate allowance for one key (a platform's channel or route, or a global one).

    Without ``burst``: at most ``limit`` sends in any ``seconds`` long interval (a
    sliding log: never looser than a fixed window of the same numbers). With ``burst``:
    a token bucket of ``burst`` sends refilled at ``limit`` per ``seconds``.

    ``cold``: the first send after the key was idle may reach the platform this much
    later than its slot (a new connection); the platform's window then starts late, so
    the sends of that first window are counted ``cold`` later (a bucket: its rate
    resumes ``cold`` later once the burst is spent)."""

    key: str
    limit: int
    seconds: float
    burst: int | None = None
    cold: float = 0.0

    @property
    def interval(self) -> float:
        return self.seconds / self.limit


@dataclass(frozen=True)
class Reservation:
    """``granted``: a send slot is reserved ``delay`` seconds from now. Otherwise the
    earliest slot is ``delay`` seconds away, more than the caller was willing to wait,
    and nothing was reserved. ``ticket`` identifies the slot for :meth:`release`."""

    granted: bool
    delay: float
    ticket: Any = None


class LocalCoordination:
    """Everything in one process: the embedded default, and Redis's stand-in."""

    name = "local"

    def __init__(
        self,
        *,
        dedupe_ttl: float = DEDUPE_TTL,
        dedupe_size: int = 100_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dedupe_ttl = dedupe_ttl
        self.dedupe_size = dedupe_size
        self._now = now
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._windows: dict[str, list[float]] = {}
        # Token buckets: (theoretical arrival time, cold-start shift still to apply).
        self._buckets: dict[str, tuple[float, float]] = {}
        self._cold: dict[str, float] = {}  # window logs: when the last cold window began
        self._on_wake: WakeCallback | None = None

    @property
    def available(self) -> bool:
        return True

    async def start(self, on_wake: WakeCallback | None = None) -> None:
        self._on_wake = on_wake

    async def close(self) -> None:
        return None

    # -- de-duplication ---------------------------------------------------------------

    async def seen(self, key: str) -> bool:
        """True when ``key`` was remembered (its effect committed) within the TTL."""
        expires = self._seen.get(key)
        return expires is not None and expires > self._now()

    async def remember(self, key: str) -> None:
        now = self._now()
        self._seen[key] = now + self.dedupe_ttl
        self._seen.move_to_end(key)
        while self._seen:
            oldest, expires = next(iter(self._seen.items()))
            if expires > now and len(self._seen) <= self.dedupe_size:
                break
            del self._seen[oldest]

    # -- locks ------------------------------------------------------------------------

    @asynccontextmanager
    async def lock(
        self, name: str, *, ttl: float = LOCK_TTL, wait: float = LOCK_WAIT
    ) -> AsyncIterator[bool]:
        """Hold ``name`` exclusively; yields False when it could not be had within
        ``wait`` seconds (the caller goes on: database row locks still protect it)."""
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        acquired = False
        try:
            try:
                await asyncio.wait_for(lock.acquire(), timeout=wait)
                acquired = True
            except TimeoutError:
                log.warning("coordination.lock_timeout", lock=name, wait=wait)
            yield acquired
        finally:
            if acquired:
                lock.release()
            lock, users = self._locks[name]
            if users <= 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)

    # -- rate windows -----------------------------------------------------------------

    async def reserve(self, windows: Sequence[Window], max_wait: float) -> Reservation:
        """Reserve the earliest send slot that keeps every window within its limit, if
        it is at most ``max_wait`` seconds away."""
        if not windows:
            return Reservation(True, 0.0)
        now = self._now()
        send_at = now
        for w in windows:
            if w.burst:
                tat, shift = self._buckets.get(w.key, (now, 0.0))
                allow = tat - (w.burst - 1) * w.interval
                if allow > now:  # the burst is used up: a cold start's shift applies
                    allow += shift
                send_at = max(send_at, allow)
                continue
            times = self._windows.get(w.key, [])
            if len(times) >= w.limit:
                send_at = max(send_at, times[-w.limit] + w.seconds)
        delay = send_at - now
        if delay > max_wait:
            return Reservation(False, delay)
        ticket = []
        for w in windows:
            if w.burst:
                tat, shift = self._buckets.get(w.key, (now, 0.0))
                if tat <= now:  # idle: the bucket is full, and its next use is cold
                    tat, shift = now, w.cold
                if tat - (w.burst - 1) * w.interval > now:
                    tat, shift = tat + shift, 0.0
                tat = max(tat, send_at) + w.interval
                self._buckets[w.key] = (tat, shift)
                ticket.append(("bucket", w.key, tat, w.interval))
                continue
            times = self._windows.setdefault(w.key, [])
            if not times or times[-1] + w.seconds <= now:
                self._cold[w.key] = send_at  # idle until now: this window starts cold
            at = send_at
            if send_at < self._cold.get(w.key, -w.seconds) + w.seconds:
                at += w.cold
            bisect.insort(times, at)
            del times[: max(0, len(times) - w.limit)]
            ticket.append(("log", w.key, at, 0.0))
        return Reservation(True, delay, ticket)

    async def release(self, reservation: Reservation) -> None:
        """Give back a slot that was not used (a bucket only if no slot was taken
        after it)."""
        for kind, key, at, interval in reservation.ticket or ():
            if kind == "bucket":
                tat, shift = self._buckets.get(key, (0.0, 0.0))
                if tat == at:
                    self._buckets[key] = (tat - interval, shift)
                continue
            times = self._windows.get(key, [])
            i = bisect.bisect_left(times, at)
            if i < len(times) and times[i] == at:
                del times[i]

    async def block(self, window: Window, seconds: float) -> None:
        """Nothing more may be sent under ``window`` for ``seconds`` (the platform
        said so, e.g. a 429's ``Retry-After``)."""
        if window.burst:
            until = self._now() + seconds + (window.burst - 1) * window.interval
            tat, shift = self._buckets.get(window.key, (0.0, 0.0))
            self._buckets[window.key] = (max(tat, until), shift)
            return
        at = self._now() + seconds - window.seconds
        times = self._windows.setdefault(window.key, [])
        for _ in range(window.limit):
            bisect.insort(times, at)
        del times[: max(0, len(times) - window.limit)]

    # -- waking -----------------------------------------------------------------------

    def notify_nowait(self) -> None:
        """Work was queued: wake idle workers (in one process the app's own event
        already did)."""
        return None
