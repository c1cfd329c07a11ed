"""The bootstrap: one place that wires configuration, storage, clock, adapters, the
outbox dispatcher, the timer runner, pacing and coordination together."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError

from bot import outbox, sla, timers
from bot.clock import SystemClock
from bot.config import Config
from bot.errors import Refusal
from bot.pacing import Pacer
from bot.ports import Clock, PlatformAdapter
from bot.work import Work, normalize_key
from storage.coordination import LocalCoordination
from storage.db import Database, database_url_from_env
from storage.models import AccountRow, OutboxRow, PersonRow, ProcessedEvent, Timer

log = structlog.get_logger(__name__)

DEDUPE_TTL = timedelta(days=1)
# Finished timers and delivered notifications are kept this long, then pruned.
KEEP_DONE = timedelta(days=30)
HOUSEKEEPING_EVERY = 3600.0  # seconds
REMOTE_WAKE_GATHER = 0.02  # seconds


class Duplicate(Exception):
    """The same platform event was already handled."""


class Casebot:
    """The running bot. Tunables (set after construction, before ``start``):

    ``retry`` (the outbox :class:`~bot.outbox.RetryPolicy`, with its lease),
    ``timer_lease``, ``outbox_batch`` / ``timer_batch`` (rows claimed per round),
    ``delivery_concurrency``, ``poll_interval`` (seconds an idle worker waits before
    looking again), ``pacer`` (platform rate limits; None disables pacing). With a fake
    clock (tests, the demo) pacing is off and deliveries are sequential, so a test sees
    them in order and never waits on the wall clock.
    """

    def __init__(
        self, config: Config, db: Database, clock: Clock | None = None, worker_id: str | None = None
    ) -> None:
        from commands.router import CaseCommands

        self.config = config
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.adapters: dict[str, PlatformAdapter] = {}
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.retry = outbox.RetryPolicy()
        self.timer_lease = timers.LEASE
        self.outbox_batch = 50
        self.timer_batch = 50
        self.commands = CaseCommands(self)
        # In-process coordination until attach_coordination() brings a shared one.
        self.coordination: Any = LocalCoordination()
        real_time = isinstance(self.clock, SystemClock)
        self.pacer: Pacer | None = Pacer(lambda: self.coordination) if real_time else None
        self.delivery_concurrency = 64 if real_time else 1
        self.poll_interval = 1.0
        self._wake = asyncio.Event()
        self._wake_outbox = asyncio.Event()
        self._wake_timers = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._grace = 5.0
        self._remote_pending = False

    @classmethod
    async def create(
        cls,
        config: Config,
        database_url: str | None = None,
        clock: Clock | None = None,
        migrate: bool = True,
        worker_id: str | None = None,
    ) -> Casebot:
        db = Database(database_url or database_url_from_env())
        if migrate:
            await migrate_once(db)
        bot = cls(config, db, clock, worker_id)
        bot.tune()
        for attempt in range(3):
            try:
                await bot.sync_config()
                break
            except IntegrityError:
                # Another worker starting at the same moment inserted the same rows.
                if attempt == 2:
                    raise
        return bot

    def tune(self, env: Mapping[str, str] | None = None) -> None:
        """Leases, retry horizon, backoff and poll interval from the environment
        (``CASEBOT_TIMER_LEASE``, ``CASEBOT_OUTBOX_LEASE``, ``CASEBOT_OUTBOX_HORIZON``,
        ``CASEBOT_OUTBOX_BACKOFF``, ``CASEBOT_OUTBOX_BACKOFF_CAP``,
        ``CASEBOT_POLL_INTERVAL``); ``create`` applies it."""
        env = os.environ if env is None else env
        self.retry = outbox.RetryPolicy.from_env(env)
        if v := env.get("CASEBOT_TIMER_LEASE"):
            self.timer_lease = outbox.parse_seconds(v)
        if v := env.get("CASEBOT_POLL_INTERVAL"):
            self.poll_interval = float(v)
        if self.pacer is not None:
            # A paced send waits at most a quarter of the lease; farther slots re-queue.
            self.pacer.max_wait = min(10.0, self.retry.lease.total_seconds() / 4)

    async def sync_config(self) -> None:
        """Accounts and people in the database follow the configuration."""
        async with self.db.transaction() as s:
            for a in self.config.accounts:
                row = await s.get(AccountRow, a.key)
                if row is None:
                    s.add(
                        AccountRow(key=a.key, name=a.name, tier=a.tier, csm_id=a.csm, phone=a.phone)
                    )
                else:
                    row.name, row.tier, row.csm_id, row.phone = a.name, a.tier, a.csm, a.phone
            for p in self.config.people:
                prow = await s.get(PersonRow, p.id)
                if prow is None:
                    s.add(
                        PersonRow(
                            id=p.id,
                            name=p.name,
                            role=p.role,
                            team=p.team,
                            account_key=p.account,
                            configured=True,
                            identities=dict(p.identities),
                        )
                    )
                else:
                    prow.name, prow.role, prow.team = p.name, p.role, p.team
                    prow.account_key, prow.identities = p.account, dict(p.identities)
                    prow.configured = True

    def register_adapter(self, adapter: PlatformAdapter) -> None:
        self.adapters[adapter.name] = adapter
        self.wake()

    async def attach_coordination(self, coordination: Any) -> None:
        """Share de-duplication, case locks, rate windows and wake-ups with other
        workers (``storage.coordination.attach_redis``)."""
        await coordination.start(self._wake_remote)
        previous, self.coordination = self.coordination, coordination
        with suppress(Exception):
            await previous.close()

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(self.adapters) or ("console",)

    # -- running use cases --------------------------------------------------------

    @asynccontextmanager
    async def work(
        self, event_id: str | None = None, *, case_key: str | None = None
    ) -> AsyncIterator[Work]:
        """A unit of work. With ``event_id``, a second delivery of the same platform
        event raises :class:`Duplicate` and changes nothing (the marker commits with
        the effect, so a crash before commit leaves the event unhandled, not lost).
        With ``case_key``, the case is locked across workers for the whole unit."""
        if event_id and await self.coordination.seen(event_id):
            raise Duplicate(event_id)
        async with self.case_lock(case_key):
            async with self.db.transaction() as s:
                if event_id:
                    try:
                        async with s.begin_nested():
                            s.add(ProcessedEvent(key=event_id[:200], at=self.clock.now()))
                    except IntegrityError:
                        raise Duplicate(event_id) from None
                w = Work(
                    session=s, config=self.config, now=self.clock.now(), platforms=self.platforms
                )
                w.sla_text = sla.texter(w)  # type: ignore[attr-defined]
                sla.begin(w)
                yield w
                await sla.follow(w)
                await w.flush_outbox()
        if event_id:
            await self.coordination.remember(event_id)
        if w.woke:
            self.wake()

    @asynccontextmanager
    async def case_lock(self, case_key: str | None) -> AsyncIterator[None]:
        """Hold a case across workers (a no-op without a key). Taken before the
        database transaction, never inside one, so it cannot deadlock with row locks."""
        if not case_key:
            yield
            return
        try:
            name = "case:" + normalize_key(case_key, "CASE")
        except Refusal:
            yield
            return
        async with self.coordination.lock(name):
            yield

    def wake(self) -> None:
        """Work was queued: look at it now, here and (through Redis) in idle workers."""
        self._wake_here()
        self.coordination.notify_nowait()

    def _wake_here(self) -> None:
        self._wake.set()
        self._wake_outbox.set()
        self._wake_timers.set()

    def _wake_remote(self) -> None:
        """Another worker queued notifications. Wake-ups come in bursts (one per commit
        everywhere), so they are gathered for a moment into one look at the outbox."""
        if self._remote_pending:
            return
        self._remote_pending = True

        def wake() -> None:
            self._remote_pending = False
            self._wake.set()
            self._wake_outbox.set()

        asyncio.get_running_loop().call_later(REMOTE_WAKE_GATHER, wake)

    # -- background work -------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Claim and deliver one batch of notifications; returns how many were claimed."""
        ids = await outbox.claim(
            self.db,
            self.clock.now(),
            self.worker_id,
            list(self.adapters),
            self.retry,
            limit=self.outbox_batch,
        )
        if ids:
            await outbox.deliver_claimed(
                self, ids, self.worker_id, self.retry, self.delivery_concurrency
            )
        return len(ids)

    async def fire_due(self) -> int:
        """Claim and fire one batch of due timers; returns how many were claimed."""
        claimed = await timers.claim(
            self.db,
            self.clock.now(),
            self.worker_id,
            limit=self.timer_batch,
            lease=self.timer_lease,
        )
        for c in claimed:
            if self._stopping:
                break  # the rest come back to someone when their lease ends
            try:
                await timers.fire(self, c.id, self.worker_id, c.case_key)
            except Exception:  # noqa: BLE001 - one bad timer must not stop the others
                log.exception("timer.failed", id=c.id)
        return len(claimed)

    async def run_due_work(self) -> int:
        """One round: deliver claimable outbox rows and fire due timers. Returns how
        many things it did."""
        return await self.deliver_due() + await self.fire_due()

    async def drain(self, max_rounds: int = 200) -> None:
        """Work until nothing is due (tests and the demo call this after each step)."""
        for _ in range(max_rounds):
            if await self.run_due_work() == 0:
                return
        raise RuntimeError("drain did not settle: something keeps producing work")

    async def _serve(self, name: str, round_: Any, wake: asyncio.Event) -> None:
        failures = 0
        while not self._stopping:
            try:
                busy = await round_()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep serving; the database may come back
                failures += 1
                log.exception(f"worker.{name}_round_failed", failures=failures)
                busy = 0
                await asyncio.sleep(min(self.poll_interval * failures, 10.0))
            if busy:
                continue
            wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self.poll_interval)

    async def _dispatch(self) -> None:
        """Deliver continuously: keep up to ``delivery_concurrency`` rows in flight
        (paced ones wait for their slots side by side) and claim more as they finish, so
        a slow channel never holds up the others."""
        inflight: set[asyncio.Task[int]] = set()
        failures = 0
        try:
            while not self._stopping:
                self._wake_outbox.clear()
                capacity = max(self.delivery_concurrency, 1)
                room = capacity - len(inflight)
                claimed = 0
                # Claim in batches: when the pipe is half empty (or empty), not per slot.
                if room > 0 and (not inflight or room * 2 >= capacity):
                    try:
                        ids = await outbox.claim(
                            self.db,
                            self.clock.now(),
                            self.worker_id,
                            list(self.adapters),
                            self.retry,
                            limit=min(room, self.outbox_batch),
                        )
                        failures = 0
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001 - the database may come back
                        failures += 1
                        log.exception("worker.outbox_round_failed", failures=failures)
                        await asyncio.sleep(min(self.poll_interval * failures, 10.0))
                        continue
                    for row_id in ids:
                        inflight.add(
                            asyncio.create_task(
                                outbox.deliver_safely(self, row_id, self.worker_id, self.retry)
                            )
                        )
                    claimed = len(ids)
                    if claimed == room:
                        continue  # there may be more: fill the pipe before waiting
                woken = asyncio.ensure_future(self._wake_outbox.wait())
                done, _ = await asyncio.wait(
                    inflight | {woken},
                    timeout=self.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()
                inflight -= done
        finally:
            if inflight:
                # Let deliveries under way finish; cut short, a paced one gives its row
                # back and an interrupted one comes back when its lease ends.
                _, rest = await asyncio.wait(inflight, timeout=self._grace)
                for task in rest:
                    task.cancel()
                await asyncio.gather(*rest, return_exceptions=True)

    async def _housekeeping(self) -> None:
        while not self._stopping:
            try:
                await self.housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("worker.housekeeping_failed")
            await asyncio.sleep(HOUSEKEEPING_EVERY)

    async def housekeeping(self) -> dict[str, int]:
        """Forget old event ids; drop timers and notifications finished long ago."""
        cutoff = self.clock.now() - KEEP_DONE
        async with self.db.transaction() as s:
            t = await s.execute(
                delete(Timer).where(
                    Timer.state.in_(("done", "cancelled")), Timer.created_at < cutoff
                )
            )
            o = await s.execute(
                delete(OutboxRow).where(OutboxRow.state == "sent", OutboxRow.created_at < cutoff)
            )
        return {
            "events": await self.prune_events(),
            "timers": int(t.rowcount or 0),  # type: ignore[attr-defined]
            "outbox": int(o.rowcount or 0),  # type: ignore[attr-defined]
        }

    async def start(self) -> None:
        self._stopping = False
        self._tasks += [
            asyncio.create_task(self._dispatch(), name="casebot-outbox"),
            asyncio.create_task(
                self._serve("timers", self.fire_due, self._wake_timers), name="casebot-timers"
            ),
            asyncio.create_task(self._housekeeping(), name="casebot-housekeeping"),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the background loops, letting a round in progress finish for up to
        ``grace`` seconds (what is cut short comes back when its lease ends)."""
        self._stopping = True
        self._grace = grace
        self._wake_here()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace + 1.0)
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def close(self) -> None:
        await self.stop()
        with suppress(Exception):
            await self.coordination.close()
        await self.db.dispose()

    async def prune_events(self) -> int:
        async with self.db.transaction() as s:
            result = await s.execute(
                delete(ProcessedEvent).where(ProcessedEvent.at < self.clock.now() - DEDUPE_TTL)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def failed_outbox(self) -> list[int]:
        async with self.db.read() as s:
            return list(
                (await s.scalars(select(OutboxRow.id).where(OutboxRow.state == "failed"))).all()
            )


async def migrate_once(db: Database) -> None:
    """Migrate; on PostgreSQL under an advisory lock, so workers starting together take
    turns instead of racing to create the same tables."""
    if db.is_sqlite:
        await db.migrate()
        return
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(hashtext('casebot-migrate'))"))
        try:
            await db.migrate()
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(hashtext('casebot-migrate'))"))
