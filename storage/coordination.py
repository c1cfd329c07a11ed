"""Coordination between workers: de-duplication of re-delivered platform events, per-case
locks, shared rate-limit windows and waking idle workers.

:class:`LocalCoordination` does all of it inside one process (the embedded default, and
the fallback). :class:`RedisCoordination` shares it between any number of processes
through Redis, and falls back to its local twin while Redis is unreachable: the database
stays the system of record (event ids are also recorded in ``processed_events``, cases
are also locked with ``FOR UPDATE``), so losing Redis costs politeness (per-process rate
windows, polling instead of wake-ups), never correctness. It logs the degradation,
retries in the background and picks Redis up again when it returns.
"""

from __future__ import annotations

import asyncio
import bisect
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)

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


# Per key either a window log in a sorted set (score = send time in ms: the send may
# start once the limit-th latest send is ``seconds`` old) or a token bucket kept as its
# theoretical arrival time (GCRA: the send may start at TAT - (burst - 1) * interval).
# Redis's own clock is used so that every worker agrees on "now".
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max_wait = tonumber(ARGV[1])
local member = ARGV[2]
local send_at = now
local n = #KEYS / 2
for i = 1, n do
  local key = KEYS[2 * i - 1]
  local limit = tonumber(ARGV[4 * i - 1])
  local window = tonumber(ARGV[4 * i])
  local burst = tonumber(ARGV[4 * i + 1])
  if burst > 0 then
    local b = redis.call('HMGET', key, 'tat', 'shift')
    local tat = tonumber(b[1] or now)
    local allow = tat - (burst - 1) * window / limit
    if allow > now then allow = allow + tonumber(b[2] or 0) end
    if allow > send_at then send_at = allow end
  else
    local nth = redis.call('ZREVRANGE', key, limit - 1, limit - 1, 'WITHSCORES')
    if nth[2] then
      local allow = tonumber(nth[2]) + window
      if allow > send_at then send_at = allow end
    end
  end
end
local delay = send_at - now
if delay > max_wait then return {0, delay} end
local out = {1, delay}
for i = 1, n do
  local key = KEYS[2 * i - 1]
  local limit = tonumber(ARGV[4 * i - 1])
  local window = tonumber(ARGV[4 * i])
  local burst = tonumber(ARGV[4 * i + 1])
  local cold = tonumber(ARGV[4 * i + 2])
  if burst > 0 then
    local b = redis.call('HMGET', key, 'tat', 'shift')
    local tat = tonumber(b[1] or now)
    local shift = tonumber(b[2] or 0)
    if tat <= now then tat = now; shift = cold end
    if tat - (burst - 1) * window / limit > now then tat = tat + shift; shift = 0 end
    if tat < send_at then tat = send_at end
    tat = tat + window / limit
    redis.call('HSET', key, 'tat', tostring(tat), 'shift', tostring(shift))
    redis.call('PEXPIRE', key, math.floor(tat - now) + 1000)
    out[#out + 1] = tostring(tat)
  else
    local coldkey = KEYS[2 * i]
    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if not last[2] or tonumber(last[2]) + window <= now then
      redis.call('SET', coldkey, send_at, 'PX', window + cold + 1000)
    end
    local began = tonumber(redis.call('GET', coldkey) or -window)
    local at = send_at
    if send_at < began + window then at = at + cold end
    redis.call('ZADD', key, at, member)
    redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
    last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    redis.call('PEXPIRE', key, math.max(tonumber(last[2]) - now, 0) + window + 1000)
  end
end
return out
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local burst = tonumber(ARGV[5])
if burst > 0 then
  local tat = now + wait + (burst - 1) * window / limit
  local old = tonumber(redis.call('HGET', KEYS[1], 'tat') or 0)
  if old > tat then tat = old end
  redis.call('HSET', KEYS[1], 'tat', tostring(tat))
  redis.call('PEXPIRE', KEYS[1], math.floor(tat - now) + 1000)
  return 1
end
local at = now + wait - window
for j = 1, limit do
  redis.call('ZADD', KEYS[1], at, ARGV[4] .. ':' .. j)
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(limit + 1))
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(last[2]) - now, 0) + window + 1000)
return 1
"""

# KEYS: the log keys, then the bucket keys; ARGV: the member, then per bucket key the
# TAT our reservation left and the interval (a bucket is rolled back only if untouched).
_RELEASE = """
local logs = tonumber(ARGV[2])
for i = 1, logs do redis.call('ZREM', KEYS[i], ARGV[1]) end
for i = logs + 1, #KEYS do
  local j = 3 + 2 * (i - logs - 1)
  if redis.call('HGET', KEYS[i], 'tat') == ARGV[j] then
    redis.call('HSET', KEYS[i], 'tat', tostring(tonumber(ARGV[j]) - tonumber(ARGV[j + 1])))
  end
end
return 1
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisCoordination:
    """The same features shared through Redis, degrading to :class:`LocalCoordination`
    while Redis is away (see the module docstring)."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "casebot:",
        retry_every: float = 1.0,
        timeout: float = 1.0,
        dedupe_ttl: float = DEDUPE_TTL,
        max_connections: int = 32,
        client: Any = None,
    ) -> None:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.url = url
        self.prefix = prefix
        self.retry_every = retry_every
        self.dedupe_ttl = dedupe_ttl
        # No client-side retries: a failure means "degrade now", not "stall for seconds".
        # A bounded pool that waits for a free connection: hundreds of paced deliveries
        # in flight share a few dozen connections instead of failing for want of one.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout * 5,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self.redis = client or Redis(connection_pool=pool)
        self.local = LocalCoordination(dedupe_ttl=dedupe_ttl)
        self._available = False
        self._on_wake: WakeCallback | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._publishing: asyncio.Task[None] | None = None
        self._publish_again = False
        self._closed = False
        self._reserve = self.redis.register_script(_RESERVE)
        self._block = self.redis.register_script(_BLOCK)
        self._unlock = self.redis.register_script(_UNLOCK)
        self._release = self.redis.register_script(_RELEASE)
        self.degradations = 0  # how many times Redis went away (for tests and metrics)

    @property
    def available(self) -> bool:
        return self._available

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # -- life cycle -------------------------------------------------------------------

    async def start(self, on_wake: WakeCallback | None = None) -> None:
        """Connect (or note that Redis is away and keep trying) and listen for wake-ups."""
        self._on_wake = on_wake
        await self.local.start(on_wake)
        try:
            await self.redis.ping()
            self._available = True
            log.info("coordination.redis", url=_redact(self.url))
        except Exception as exc:  # noqa: BLE001 - any failure means "not now"
            self._degrade(exc)
        self._supervisor = asyncio.create_task(self._supervise(), name="casebot-redis")

    async def close(self) -> None:
        self._closed = True
        for task in (self._supervisor, self._publishing):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await task
        with suppress(Exception):
            await self.redis.aclose(close_connection_pool=True)

    def _degrade(self, exc: BaseException) -> None:
        if self._available or self.degradations == 0:
            self.degradations += 1
            log.warning(
                "coordination.degraded",
                error=f"{exc.__class__.__name__}: {exc}",
                note="serving on the database alone until Redis returns",
            )
        self._available = False

    async def _supervise(self) -> None:
        """Listen for wake-ups while Redis is there; probe for it while it is not."""
        channel = self._key("wake")
        while not self._closed:
            if not self._available:
                try:
                    await self.redis.ping()
                except Exception:  # noqa: BLE001
                    await asyncio.sleep(self.retry_every)
                    continue
                self._available = True
                log.warning("coordination.restored", url=_redact(self.url))
                if self._on_wake is not None:
                    self._on_wake()  # anything queued meanwhile is looked at now
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                while not self._closed:
                    message = await pubsub.get_message(timeout=self.retry_every)
                    if message is not None and self._on_wake is not None:
                        self._on_wake()
                    elif message is None:
                        # A silent channel proves nothing: check the server answers.
                        await self.redis.ping()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                self._degrade(exc)
            finally:
                with suppress(Exception):
                    await pubsub.aclose()

    async def _try(self, call: Callable[[], Any]) -> tuple[bool, Any]:
        if not self._available:
            return False, None
        try:
            return True, await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - Redis errors of every kind degrade
            self._degrade(exc)
            return False, None

    # -- de-duplication ---------------------------------------------------------------

    async def seen(self, key: str) -> bool:
        if await self.local.seen(key):
            return True
        ok, value = await self._try(lambda: self.redis.exists(self._key("event", key)))
        return bool(ok and value)

    async def remember(self, key: str) -> None:
        await self.local.remember(key)
        await self._try(
            lambda: self.redis.set(self._key("event", key), b"1", ex=int(self.dedupe_ttl))
        )

    # -- locks ------------------------------------------------------------------------

    @asynccontextmanager
    async def lock(
        self, name: str, *, ttl: float = LOCK_TTL, wait: float = LOCK_WAIT
    ) -> AsyncIterator[bool]:
        if not self._available:
            async with self.local.lock(name, ttl=ttl, wait=wait) as got:
                yield got
            return
        key = self._key("lock", name)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        acquired = False
        pause = 0.005
        while True:
            ok, value = await self._try(
                lambda: self.redis.set(key, token, nx=True, px=int(ttl * 1000))
            )
            if not ok:  # Redis went away while we waited: fall back to this process
                async with self.local.lock(
                    name, ttl=ttl, wait=max(deadline - time.monotonic(), 0)
                ) as got:
                    yield got
                return
            if value:
                acquired = True
                break
            if time.monotonic() >= deadline:
                log.warning("coordination.lock_timeout", lock=name, wait=wait)
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        try:
            yield acquired
        finally:
            if acquired:
                await self._try(lambda: self._unlock(keys=[key], args=[token]))

    # -- rate windows -----------------------------------------------------------------

    async def reserve(self, windows: Sequence[Window], max_wait: float) -> Reservation:
        if not windows:
            return Reservation(True, 0.0)
        args: list[Any] = [int(max_wait * 1000), uuid.uuid4().hex]
        for w in windows:
            args += [w.limit, int(w.seconds * 1000), w.burst or 0, int(w.cold * 1000)]
        keys = []
        for w in windows:
            keys += [self._key("bucket" if w.burst else "rate", w.key), self._key("cold", w.key)]
        ok, value = await self._try(lambda: self._reserve(keys=keys, args=args))
        if not ok:
            return await self.local.reserve(windows, max_wait)
        granted, delay_ms = int(value[0]), int(value[1])
        if not granted:
            return Reservation(False, delay_ms / 1000)
        logs = [k for k, w in zip(keys[::2], windows, strict=True) if not w.burst]
        buckets = [
            (k, _text(tat), w.seconds * 1000 / w.limit)
            for (k, w), tat in zip(
                [(k, w) for k, w in zip(keys[::2], windows, strict=True) if w.burst],
                value[2:],
                strict=True,
            )
        ]
        return Reservation(True, delay_ms / 1000, (args[1], logs, buckets))

    async def release(self, reservation: Reservation) -> None:
        if reservation.ticket is None:
            return
        if not isinstance(reservation.ticket, tuple):  # reserved while Redis was away
            await self.local.release(reservation)
            return
        member, logs, buckets = reservation.ticket
        args: list[Any] = [member, len(logs)]
        for _, tat, interval in buckets:
            args += [tat, interval]
        await self._try(lambda: self._release(keys=logs + [k for k, _, _ in buckets], args=args))

    async def block(self, window: Window, seconds: float) -> None:
        await self.local.block(window, seconds)
        await self._try(
            lambda: self._block(
                keys=[self._key("bucket" if window.burst else "rate", window.key)],
                args=[
                    int(seconds * 1000),
                    window.limit,
                    int(window.seconds * 1000),
                    uuid.uuid4().hex,
                    window.burst or 0,
                ],
            )
        )

    # -- waking -----------------------------------------------------------------------

    def notify_nowait(self) -> None:
        if not self._available or self._closed:
            return
        if self._publishing is not None and not self._publishing.done():
            self._publish_again = True
            return
        self._publishing = asyncio.create_task(self._publish())

    async def _publish(self) -> None:
        while True:
            self._publish_again = False
            await self._try(lambda: self.redis.publish(self._key("wake"), b"1"))
            if not self._publish_again:
                return


async def attach_redis(bot: Any, url: str, **options: Any) -> RedisCoordination:
    """Share coordination through Redis at ``url`` (``CASEBOT_REDIS_URL``)."""
    coordination = RedisCoordination(url, **options)
    await bot.attach_coordination(coordination)
    return coordination


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
