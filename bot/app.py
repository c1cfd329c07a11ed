"""The bootstrap: one place that wires configuration, storage, clock, adapters, the
outbox dispatcher and the timer runner together."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot import outbox, timers
from bot.clock import SystemClock
from bot.config import Config
from bot.ports import Clock, PlatformAdapter
from bot.work import Work
from storage.db import Database, database_url_from_env
from storage.models import AccountRow, PersonRow, ProcessedEvent

log = structlog.get_logger(__name__)

DEDUPE_TTL = timedelta(days=1)


class Duplicate(Exception):
    """The same platform event was already handled."""


class Casebot:
    def __init__(self, config: Config, db: Database, clock: Clock | None = None,
                 worker_id: str | None = None) -> None:
        from commands.router import CaseCommands

        self.config = config
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.adapters: dict[str, PlatformAdapter] = {}
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.retry = outbox.RetryPolicy()
        self.commands = CaseCommands(self)
        self.coordination = None  # a Redis coordinator, when configured
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.poll_interval = 1.0

    @classmethod
    async def create(cls, config: Config, database_url: str | None = None,
                     clock: Clock | None = None, migrate: bool = True,
                     worker_id: str | None = None) -> Casebot:
        db = Database(database_url or database_url_from_env())
        if migrate:
            await db.migrate()
        bot = cls(config, db, clock, worker_id)
        await bot.sync_config()
        return bot

    async def sync_config(self) -> None:
        """Accounts and people in the database follow the configuration."""
        async with self.db.transaction() as s:
            for a in self.config.accounts:
                row = await s.get(AccountRow, a.key)
                if row is None:
                    s.add(AccountRow(key=a.key, name=a.name, tier=a.tier, csm_id=a.csm,
                                     phone=a.phone))
                else:
                    row.name, row.tier, row.csm_id, row.phone = a.name, a.tier, a.csm, a.phone
            for p in self.config.people:
                prow = await s.get(PersonRow, p.id)
                if prow is None:
                    s.add(PersonRow(id=p.id, name=p.name, role=p.role, team=p.team,
                                    account_key=p.account, configured=True,
                                    identities=dict(p.identities)))
                else:
                    prow.name, prow.role, prow.team = p.name, p.role, p.team
                    prow.account_key, prow.identities = p.account, dict(p.identities)
                    prow.configured = True

    def register_adapter(self, adapter: PlatformAdapter) -> None:
        self.adapters[adapter.name] = adapter
        self.wake()

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(self.adapters) or ("console",)

    # -- running use cases --------------------------------------------------------

    @asynccontextmanager
    async def work(self, event_id: str | None = None) -> AsyncIterator[Work]:
        """A unit of work. With ``event_id``, a second delivery of the same platform
        event raises :class:`Duplicate` and changes nothing (the marker commits with
        the effect, so a crash before commit leaves the event unhandled, not lost)."""
        if event_id and self.coordination is not None and await self.coordination.seen(event_id):
            raise Duplicate(event_id)
        async with self.db.transaction() as s:
            if event_id:
                try:
                    async with s.begin_nested():
                        s.add(ProcessedEvent(key=event_id[:200], at=self.clock.now()))
                except IntegrityError:
                    raise Duplicate(event_id) from None
            w = Work(session=s, config=self.config, now=self.clock.now(),
                     platforms=self.platforms)
            yield w
            await w.flush_outbox()
        if w.woke:
            self.wake()

    def wake(self) -> None:
        self._wake.set()
        if self.coordination is not None:
            self.coordination.notify_nowait()

    # -- background work -------------------------------------------------------------

    async def run_due_work(self) -> int:
        """One round: deliver claimable outbox rows and fire due timers. Returns how
        many things it did."""
        now = self.clock.now()
        done = 0
        ids = await outbox.claim(self.db, now, self.worker_id, list(self.adapters), self.retry)
        for row_id in ids:
            if await outbox.deliver_one(self, row_id, self.worker_id, self.retry):
                done += 1
        timer_ids = await timers.claim_due(self.db, now, self.worker_id)
        for tid in timer_ids:
            try:
                if await timers.fire(self, tid, self.worker_id):
                    done += 1
            except Exception:  # noqa: BLE001 - one bad timer must not stop the others
                log.exception("timer.failed", id=tid)
        return done + len(ids)

    async def drain(self, max_rounds: int = 200) -> None:
        """Work until nothing is due (tests and the demo call this after each step)."""
        for _ in range(max_rounds):
            if await self.run_due_work() == 0:
                return
        raise RuntimeError("drain did not settle: something keeps producing work")

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                busy = await self.run_due_work()
            except Exception:  # noqa: BLE001 - keep serving; the database may come back
                log.exception("worker.round_failed")
                busy = 0
            if busy:
                continue
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)

    async def start(self) -> None:
        self._stopping = False
        self._tasks.append(asyncio.create_task(self._loop(), name="casebot-worker"))

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def close(self) -> None:
        await self.stop()
        await self.db.dispose()

    async def prune_events(self) -> int:
        async with self.db.transaction() as s:
            result = await s.execute(delete(ProcessedEvent).where(
                ProcessedEvent.at < self.clock.now() - DEDUPE_TTL))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def failed_outbox(self) -> list[int]:
        from storage.models import OutboxRow

        async with self.db.read() as s:
            return list((await s.scalars(
                select(OutboxRow.id).where(OutboxRow.state == "failed"))).all())
