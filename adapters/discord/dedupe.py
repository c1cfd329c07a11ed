"""Small bounded memories: events already handled, presses just made, forms shown.

They live in this process only; the core's ``event_id`` dedupe covers what they cannot
see (another worker, a restart). Their job is to keep a repeated delivery or a double
click from even reaching the core, because Discord lets an interaction be answered once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A dict that forgets its oldest entries beyond ``size``."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


class SeenOnce(Generic[K]):
    """``first(key)`` is True the first time a key is seen, False on every repeat."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: Lru[K, bool] = Lru(size)

    def first(self, key: K) -> bool:
        if key in self._seen:
            return False
        self._seen.put(key, True)
        return True


class DoubleClicks(Generic[K]):
    """The same press by the same person within ``window`` seconds counts once."""

    def __init__(self, window: float, now: Callable[[], float], size: int = 10_000) -> None:
        self._window = window
        self._now = now
        self._last: Lru[K, float] = Lru(size)

    def is_repeat(self, key: K) -> bool:
        now = self._now()
        last = self._last.get(key)
        if last is not None and now - last < self._window:
            return True
        self._last.put(key, now)
        return False
