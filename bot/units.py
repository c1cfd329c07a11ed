"""The unit-of-work factory: every use case runs in one of these.

A unit is one database transaction with the clock read once. With an ``event_id`` a
second delivery of the same platform event raises :class:`~bot.errors.Duplicate` and
changes nothing (the marker commits with the effect, so a crash before the commit
leaves the event unhandled, not lost). With a ``case_key`` the case is held across
workers for the whole unit. Observers (the service levels) see each unit begin and,
before it commits, finish; the bootstrap registers them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.errors import Duplicate, Refusal
from bot.keys import normalize_key
from bot.ports import Clock, Coordination, Links
from bot.work import Work
from storage.db import Database
from storage.models import ProcessedEvent


class Observer(Protocol):
    """Follows every unit of work (``begin`` as it opens, ``finish`` before commit)."""

    def begin(self, w: Work) -> None: ...

    async def finish(self, w: Work) -> None: ...


class Units:
    def __init__(
        self,
        db: Database,
        config: Config,
        clock: Clock,
        coordination: Coordination,
        *,
        platforms: Callable[[], tuple[str, ...]] = lambda: ("console",),
        observers: Sequence[Observer] = (),
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.coordination = coordination
        self.platforms = platforms
        self.observers = list(observers)
        self.on_queued = on_queued
        # Signed links to the web pages, plugged in by the entry point that serves them.
        self.links: Links | None = None

    @asynccontextmanager
    async def work(
        self,
        event_id: str | None = None,
        *,
        case_key: str | None = None,
        case_keys: Sequence[str] = (),
        origin_channel: str | None = None,
    ) -> AsyncIterator[Work]:
        if event_id and await self.coordination.seen(event_id):
            raise Duplicate(event_id)
        async with self.case_locks([case_key, *case_keys]):
            async with self.db.transaction() as s:
                marker = await self._mark(s, event_id) if event_id else None
                w = Work(
                    session=s,
                    config=self.config,
                    now=self.clock.now(),
                    platforms=self.platforms(),
                    origin_channel=origin_channel,
                    links=self.links,
                )
                for o in self.observers:
                    o.begin(w)
                yield w
                for o in self.observers:
                    await o.finish(w)
                await w.flush_outbox()
                if marker is not None:
                    marker.outcome = w.answer
                await w.run_last()
        if event_id:
            await self.coordination.remember(event_id)
        if w.woke:
            self.on_queued()

    async def _mark(self, s: AsyncSession, event_id: str) -> ProcessedEvent:
        marker = ProcessedEvent(key=event_id[:200], at=self.clock.now())
        try:
            async with s.begin_nested():
                s.add(marker)
        except IntegrityError:
            raise Duplicate(event_id) from None
        return marker

    @asynccontextmanager
    async def case_locks(self, keys: Sequence[str | None]) -> AsyncIterator[None]:
        """Hold every case a request touches, always in the same order (by key), so two
        requests naming the same cases the other way round take turns."""
        names = sorted({k for k in (_lock_name(key) for key in keys) if k})
        async with AsyncExitStack() as stack:
            for name in names:
                await stack.enter_async_context(self.coordination.lock(name))
            yield


def _lock_name(key: str | None) -> str | None:
    if not key:
        return None
    try:
        return "case:" + normalize_key(key, "CASE")
    except Refusal:
        return None
