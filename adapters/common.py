"""Guards every adapter shares.

:class:`RecentKeys` is the one bounded memory of what a platform just delivered: a
re-delivered event, a second click on the same button, a form shown to someone. It
lives in this process only; the core's ``event_id`` de-duplication covers what it
cannot see (another worker, a restart). Its job is to keep a repeat from even reaching
the core, so the person sees one answer rather than "Already done."
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentKeys(Generic[K, V]):
    """Keys seen in the last ``ttl`` seconds (None: for as long as there is room), at
    most ``size`` of them; the oldest are forgotten first. A key may carry a value."""

    def __init__(
        self,
        ttl: float | None = None,
        *,
        size: int = 10_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.size = size
        self._now = now
        self._items: OrderedDict[K, tuple[float, V | None]] = OrderedDict()

    def _expire(self) -> None:
        now = self._now()
        while self._items:
            _, (at, _) = next(iter(self._items.items()))
            fresh = self.ttl is None or now - at < self.ttl
            if fresh and len(self._items) <= self.size:
                break
            self._items.popitem(last=False)

    def claim(self, key: K, value: V | None = None) -> bool:
        """True the first time ``key`` is seen (within ``ttl``); False for a repeat."""
        self._expire()
        if key in self._items:
            return False
        self._items[key] = (self._now(), value)
        self._expire()
        return True

    def put(self, key: K, value: V) -> None:
        """Remember ``key`` with ``value`` (replacing what it had), as the newest."""
        self._items.pop(key, None)
        self._items[key] = (self._now(), value)
        self._expire()

    def get(self, key: K) -> V | None:
        self._expire()
        item = self._items.get(key)
        return item[1] if item else None

    def release(self, key: K) -> V | None:
        """Forget ``key`` (its work failed: a re-delivery must be let through)."""
        item = self._items.pop(key, None)
        return item[1] if item else None

    def __contains__(self, key: object) -> bool:
        self._expire()
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
