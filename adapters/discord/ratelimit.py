"""429s are waited out, nothing is dropped.

discord.py already sleeps through an ordinary 429 (one with a ``Via`` header, as
Discord's edge sends) and retries. What it does not retry is a 429 without ``Via``,
which it reads as a Cloudflare ban, and a wait longer than ``max_ratelimit_timeout``.
Those arrive here as exceptions:

- for outbox deliveries they become ``DeliveryError(retry_after=…)``, so the core's
  dispatcher tries again after the wait (it owns retries and backoff);
- for the adapter's own follow-up calls (thread members, reactions, interaction
  follow-ups) :func:`patiently` sleeps and retries a few times itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord

from bot.ports import DeliveryError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Discord error codes that retrying cannot fix (unknown channel / user / message,
# missing access or permissions, cannot DM this user, thread archived and locked …).
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 413})
DEFAULT_WAIT = 1.0


def retry_after_of(exc: BaseException) -> float | None:
    """The wait a rate-limit answer asked for, in seconds (None when not a 429)."""
    if isinstance(exc, discord.RateLimited):
        return float(exc.retry_after)
    if isinstance(exc, discord.HTTPException) and exc.status == 429:
        headers = getattr(exc.response, "headers", None) or {}
        for name in ("Retry-After", "X-RateLimit-Reset-After"):
            raw = headers.get(name)
            if raw:
                try:
                    return max(0.0, float(raw))
                except ValueError:
                    continue
        return DEFAULT_WAIT
    return None


def delivery_error(exc: BaseException) -> DeliveryError:
    """A failed Discord call as the outbox understands it."""
    wait = retry_after_of(exc)
    if wait is not None:
        return DeliveryError(f"Discord rate limit: {exc}", retry_after=wait)
    if isinstance(exc, discord.HTTPException):
        permanent = exc.status in PERMANENT_STATUSES
        return DeliveryError(f"Discord said {exc}", permanent=permanent)
    if isinstance(exc, (aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        return DeliveryError(f"Discord unreachable: {exc!r}")
    # Anything else is a fault in casebot, which retrying the same message cannot fix.
    return DeliveryError(f"Discord delivery failed: {exc!r}", permanent=True)


async def patiently(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    longest_wait: float = 60.0,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Run ``call``; on a 429 discord.py gave up on, wait as told and run it again."""
    for attempt in range(attempts):
        try:
            return await call()
        except (discord.HTTPException, discord.RateLimited) as exc:
            wait = retry_after_of(exc)
            if wait is None or attempt == attempts - 1 or wait > longest_wait:
                raise
            log.warning("Discord rate limit; retrying in %.2fs", wait)
            await sleep(wait)
    raise AssertionError("unreachable")
