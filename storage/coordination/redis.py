"""Coordination shared through Redis: :class:`RedisCoordination`, its Lua scripts and
:func:`attach_redis`. It degrades to :class:`~storage.coordination.local.LocalCoordination`
while Redis is unreachable (see :mod:`storage.coordination`).

Imports are absolute (``from __future__ import annotations``, Python 3), so the ``redis``
imported below is the library, never this module.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog

from storage.coordination.local import (
    DEDUPE_TTL,
    LOCK_TTL,
    LOCK_WAIT,
    LocalCoordination,
    Reservation,
    WakeCallback,
    Window,
)

# Named for the package, as before the split, so log records keep their logger name.
log = structlog.get_logger("storage.coordination")


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
