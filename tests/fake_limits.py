"""Rate limits as the platforms enforce them, for the fakes (one module, so the fake
Slack and the fake Discord count alike): a bucket refilled at a steady rate (Slack's
``chat.postMessage``, about one a second per channel with short bursts), a sliding log
(Slack's Tier 3 ``chat.update``, at most so many in any minute) and Discord's fixed
windows per route (``limit`` calls, then nothing until the window's reset), with the
numbers each platform reports in its answers."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # seconds until the key's window (or its next token) frees

    def retry_after(self) -> float:
        return 0.0 if self.allowed else self.reset_after


@dataclass
class Bucket:
    """``burst`` tokens per key, refilled at ``rate`` a second."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _tokens: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str) -> Verdict:
        now = self.clock()
        tokens, last = self._tokens.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._tokens[key] = (tokens, now)
            return Verdict(False, self.burst, 0, (1.0 - tokens) / self.rate)
        self._tokens[key] = (tokens - 1.0, now)
        return Verdict(True, self.burst, int(tokens - 1.0), 0.0)


@dataclass
class SlidingLog:
    """At most ``limit`` calls per key in any ``seconds``."""

    limit: int
    seconds: float
    clock: Callable[[], float] = time.monotonic
    _log: dict[str, deque[float]] = field(default_factory=dict)

    def take(self, key: str) -> Verdict:
        now = self.clock()
        log = self._log.setdefault(key, deque())
        while log and log[0] <= now - self.seconds:
            log.popleft()
        if len(log) >= self.limit:
            return Verdict(False, self.limit, 0, log[0] + self.seconds - now)
        log.append(now)
        return Verdict(True, self.limit, self.limit - len(log), log[0] + self.seconds - now)


@dataclass
class FixedWindow:
    """Discord's route buckets: the first call opens a window of ``seconds``; ``limit``
    calls fit in it; the window resets whole."""

    limit: int
    seconds: float
    clock: Callable[[], float] = time.monotonic
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def take(self, key: str) -> Verdict:
        now = self.clock()
        start, used = self._windows.get(key, (now, 0))
        if now >= start + self.seconds:
            start, used = now, 0
        reset_after = start + self.seconds - now
        if used >= self.limit:
            self._windows[key] = (start, used)
            return Verdict(False, self.limit, 0, reset_after)
        self._windows[key] = (start, used + 1)
        return Verdict(True, self.limit, self.limit - used - 1, reset_after)


def slack_retry_after(verdict: Verdict) -> str:
    """Slack's ``Retry-After``: whole seconds, never 0 for a refusal."""
    return str(max(1, math.ceil(verdict.retry_after())))


def discord_headers(verdict: Verdict, bucket: str) -> dict[str, str]:
    """The ``X-RateLimit-*`` headers Discord puts on every answer of a limited route
    (and, refused, ``Retry-After``, the scope and the edge's ``Via``)."""
    reset_after = round(max(verdict.reset_after, 0.0), 3)
    headers = {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket,
    }
    if not verdict.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(reset_after)))
        headers["X-RateLimit-Scope"] = "user"
        headers["Via"] = "1.1 google"
    return headers


def discord_429_body(verdict: Verdict) -> dict[str, object]:
    return {
        "message": "You are being rate limited.",
        "retry_after": round(verdict.retry_after(), 3),
        "global": False,
        "code": 0,
    }
