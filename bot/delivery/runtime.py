"""The background work of a casebot process: one dispatcher for the outbox and the
timers, used alike by the long-running loops, :meth:`Runtime.drain` (tests, the demo)
and ``casebot worker``.

Tunables (set after construction, before :meth:`start`): ``retry`` (the outbox
:class:`~bot.delivery.outbox.RetryPolicy`, with its lease), ``timer_lease``,
``outbox_batch`` / ``timer_batch`` (rows claimed per round), ``delivery_concurrency``,
``poll_interval`` (seconds an idle worker waits before looking again), ``pacer``
(platform rate limits; None disables pacing). With a fake clock (tests, the demo)
pacing is off and deliveries are sequential, so a test sees them in order and never
waits on the wall clock.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from datetime import timedelta

import structlog
from sqlalchemy import delete, select

from bot.clock import SystemClock
from bot.config import Config
from bot.delivery import outbox, timers
from bot.delivery.inbox import DurableInbox
from bot.delivery.pacing import Pacer
from bot.delivery.timers import Handler
from bot.ports import Clock, Coordination, Outlet
from bot.units import Observer, Units
from storage.db import Database
from storage.models import OutboxRow, ProcessedEvent, Timer

log = structlog.get_logger(__name__)

DEDUPE_TTL = timedelta(days=1)
# Finished timers and delivered notifications are kept this long, then pruned.
KEEP_DONE = timedelta(days=30)
HOUSEKEEPING_EVERY = 3600.0  # seconds
REMOTE_WAKE_GATHER = 0.02  # seconds


class Runtime:
    def __init__(
        self,
        db: Database,
        config: Config,
        clock: Clock,
        coordination: Coordination,
        *,
        timer_handlers: Mapping[str, Handler],
        observers: Sequence[Observer] = (),
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.coordination = coordination
        self.timer_handlers = dict(timer_handlers)
        self.platforms: dict[str, Outlet] = {}
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.units = Units(
            db,
            config,
            clock,
            coordination,
            platforms=self.platform_names,
            observers=observers,
            on_queued=self.wake,
        )
        self.inbox = DurableInbox(db, clock, self.worker_id)
        self.retry = outbox.RetryPolicy()
        self.timer_lease = timers.LEASE
        self.outbox_batch = 50
        self.timer_batch = 50
        real_time = isinstance(clock, SystemClock)
        self.pacer: Pacer | None = Pacer(lambda: self.coordination) if real_time else None
        self.delivery_concurrency = 64 if real_time else 1
        self.poll_interval = 1.0
        self._wake_outbox = asyncio.Event()
        self._wake_timers = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._halt = asyncio.Event()  # set by stop(): the housekeeping nap ends at once
        self._grace = 5.0
        self._remote_pending = False

    def tune(self, env: Mapping[str, str] | None = None) -> None:
        """Leases, retry horizon, backoff and poll interval from the environment
        (``CASEBOT_TIMER_LEASE``, ``CASEBOT_OUTBOX_LEASE``, ``CASEBOT_OUTBOX_HORIZON``,
        ``CASEBOT_OUTBOX_BACKOFF``, ``CASEBOT_OUTBOX_BACKOFF_CAP``,
        ``CASEBOT_POLL_INTERVAL``)."""
        env = os.environ if env is None else env
        self.inbox.tune(env)
        self.retry = outbox.RetryPolicy.from_env(env)
        if v := env.get("CASEBOT_TIMER_LEASE"):
            self.timer_lease = outbox.parse_seconds(v)
        if v := env.get("CASEBOT_POLL_INTERVAL"):
            self.poll_interval = float(v)
        if self.pacer is not None:
            # A paced send waits at most a quarter of the lease; farther slots re-queue.
            self.pacer.max_wait = min(10.0, self.retry.lease.total_seconds() / 4)

    # -- platforms and coordination -------------------------------------------------------

    def add_platform(self, platform: Outlet) -> None:
        """Deliver this platform's notifications from now on."""
        self.platforms[platform.name] = platform
        self.wake()

    def platform_names(self) -> tuple[str, ...]:
        return tuple(self.platforms) or ("console",)

    async def attach_coordination(self, coordination: Coordination) -> None:
        """Share de-duplication, case locks, rate windows and wake-ups with other
        workers (``storage.coordination.RedisCoordination``)."""
        await coordination.start(self._wake_remote)
        previous = self.coordination
        self.coordination = self.units.coordination = coordination
        with suppress(Exception):
            await previous.close()

    def wake(self) -> None:
        """Work was queued: look at it now, here and (through Redis) in idle workers."""
        self._wake_outbox.set()
        self._wake_timers.set()
        self.coordination.notify_nowait()

    def _wake_remote(self) -> None:
        """Another worker queued notifications. Wake-ups come in bursts (one per commit
        everywhere), so they are gathered for a moment into one look at the outbox."""
        if self._remote_pending:
            return
        self._remote_pending = True

        def wake() -> None:
            self._remote_pending = False
            self._wake_outbox.set()

        asyncio.get_running_loop().call_later(REMOTE_WAKE_GATHER, wake)

    # -- one round ----------------------------------------------------------------------

    def dispatch(self) -> outbox.Dispatch:
        return outbox.Dispatch(
            self.db,
            self.config,
            self.clock,
            self.platforms,
            self.pacer,
            self.worker_id,
            self.retry,
        )

    async def claim_outbox(self, limit: int) -> list[int]:
        return await outbox.claim(
            self.db, self.clock.now(), self.worker_id, list(self.platforms), self.retry, limit
        )

    async def deliver_due(self) -> int:
        """Claim and deliver one batch of notifications; returns how many were claimed."""
        ids = await self.claim_outbox(self.outbox_batch)
        if ids:
            await self.dispatch().deliver_claimed(ids, self.delivery_concurrency)
        return len(ids)

    async def fire_due(self) -> int:
        """Claim and fire one batch of due timers; returns how many were claimed."""
        claimed = await timers.claim(
            self.db, self.clock.now(), self.worker_id, self.timer_batch, self.timer_lease
        )
        for c in claimed:
            if self._stopping:
                break  # the rest come back to someone when their lease ends
            try:
                await timers.fire(self.units, self.timer_handlers, c.id, self.worker_id, c.case_key)
            except Exception:  # noqa: BLE001 - one bad timer must not stop the others
                log.exception("timer.failed", id=c.id)
        return len(claimed)

    async def run_due_work(self) -> int:
        """One round: take over requests left by a dead worker, deliver claimable
        outbox rows and fire due timers."""
        return await self.inbox.recover() + await self.deliver_due() + await self.fire_due()

    async def drain(self, max_rounds: int = 200) -> None:
        """Work until nothing is due (tests and the demo call this after each step)."""
        for _ in range(max_rounds):
            if await self.run_due_work() == 0:
                return
        raise RuntimeError("drain did not settle: something keeps producing work")

    # -- the loops ------------------------------------------------------------------------

    async def _serve(
        self, name: str, round_: Callable[[], Awaitable[int]], wake: asyncio.Event
    ) -> None:
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
                # Claim in batches: when the pipe is half empty (or empty), not per slot.
                if room > 0 and (not inflight or room * 2 >= capacity):
                    try:
                        ids = await self.claim_outbox(min(room, self.outbox_batch))
                        failures = 0
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001 - the database may come back
                        failures += 1
                        log.exception("worker.outbox_round_failed", failures=failures)
                        await asyncio.sleep(min(self.poll_interval * failures, 10.0))
                        continue
                    dispatch = self.dispatch()
                    for row_id in ids:
                        inflight.add(asyncio.create_task(dispatch.deliver_safely(row_id)))
                    if len(ids) == room:
                        continue  # there may be more: fill the pipe before waiting
                woken = asyncio.ensure_future(self._wake_outbox.wait())
                done, _ = await asyncio.wait(
                    inflight | {woken},
                    timeout=self.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()
                inflight -= done  # type: ignore[operator]
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
            with suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), timeout=HOUSEKEEPING_EVERY)

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
                delete(OutboxRow).where(
                    OutboxRow.state.in_(("sent", "folded")), OutboxRow.created_at < cutoff
                )
            )
        return {
            "inbox": await self.inbox.prune(self.clock.now() - DEDUPE_TTL),
            "events": await self.prune_events(),
            "timers": _count(t),
            "outbox": _count(o),
        }

    async def prune_events(self) -> int:
        async with self.db.transaction() as s:
            result = await s.execute(
                delete(ProcessedEvent).where(ProcessedEvent.at < self.clock.now() - DEDUPE_TTL)
            )
            return _count(result)

    async def failed_outbox(self) -> list[int]:
        async with self.db.read() as s:
            return list(
                (await s.scalars(select(OutboxRow.id).where(OutboxRow.state == "failed"))).all()
            )

    async def start(self) -> None:
        self._stopping = False
        self._halt.clear()
        self._tasks += [
            asyncio.create_task(self._dispatch(), name="casebot-outbox"),
            asyncio.create_task(
                self._serve("timers", self.fire_due, self._wake_timers), name="casebot-timers"
            ),
            asyncio.create_task(self._housekeeping(), name="casebot-housekeeping"),
            asyncio.create_task(
                self._serve("inbox", self.inbox.recover, asyncio.Event()), name="casebot-inbox"
            ),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the loops, letting a round in progress finish for up to ``grace``
        seconds (what is cut short comes back when its lease ends)."""
        self._stopping = True
        self._halt.set()
        self._grace = grace
        self._wake_outbox.set()
        self._wake_timers.set()
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
        await self.inbox.close()
        await self.db.dispose()


def _count(result: object) -> int:
    """The rows a DELETE touched (SQLAlchemy's CursorResult.rowcount)."""
    return int(getattr(result, "rowcount", 0) or 0)
