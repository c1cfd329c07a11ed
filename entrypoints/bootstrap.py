"""The composition root: the one place that builds a casebot process.

It makes the database, the coordination (in-process, or Redis when asked), the runtime
(outbox and timers, with its unit-of-work factory), registers the observers and the
timer handlers, and builds the command layer that platforms are started with. The
CLI, the worker, the demo and the tests all hold a :class:`Casebot`; nothing in
``bot/`` or ``commands/`` builds any of this itself.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from contextlib import suppress

from sqlalchemy.exc import IntegrityError

from bot import cases, knowledge, sla, tracker_sync
from bot.clock import SystemClock
from bot.config import Config
from bot.delivery.runtime import Runtime
from bot.delivery.timers import Handler
from bot.mailroom import Mailroom, UsesMailroom
from bot.ports import Clock, Coordination, Outlet, Platform, PlatformError, UsesInbox
from bot.reports.rollup import ReportRollup
from bot.routing import RoundRobin
from bot.search import warm_up
from bot.tracker import EngineeringTracker
from commands.invoke import CaseCommands
from storage.accounts import sync_people
from storage.coordination import LocalCoordination
from storage.db import Database, database_url_from_env


def timer_handlers() -> dict[str, Handler]:
    """Every timer kind and what fires it: the one table."""
    return {**cases.TIMER_HANDLERS, **sla.TIMER_HANDLERS, **tracker_sync.TIMER_HANDLERS}


class Casebot:
    """One casebot process: ``runtime`` (background work), ``commands`` (the core that
    platforms call) and the platforms it runs."""

    def __init__(
        self,
        config: Config,
        db: Database,
        clock: Clock | None = None,
        worker_id: str | None = None,
        coordination: Coordination | None = None,
        tracker: EngineeringTracker | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.runtime = Runtime(
            db,
            config,
            self.clock,
            coordination or LocalCoordination(),
            timer_handlers=timer_handlers(),
            observers=[
                sla.ServiceLevels(),
                knowledge.KnowledgeDrafts(),
                ReportRollup(),
                RoundRobin(),
            ],
            worker_id=worker_id,
        )
        self.units = self.runtime.units
        self.commands = CaseCommands(self.units)
        self.running: list[Platform] = []
        # The team's tracker: its calls are the outbox's "tracker" outlet.
        self.tracker_sync: tracker_sync.TrackerSync | None = None
        if config.tracker is not None and tracker is not None:
            self.tracker_sync = tracker_sync.TrackerSync(self.units, tracker)
            self.runtime.add_platform(self.tracker_sync)

    @classmethod
    async def create(
        cls,
        config: Config,
        database_url: str | None = None,
        clock: Clock | None = None,
        migrate: bool = True,
        worker_id: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Casebot:
        db = Database(database_url or database_url_from_env())
        if migrate:
            try:
                await db.migrate_once()
            except BaseException:  # unreachable: let its connection threads go first
                await db.dispose()
                raise
        tracker = None
        if config.tracker is not None:
            from adapters.trackers import build

            try:
                tracker = build(config.tracker, os.environ if env is None else env)
            except ValueError as exc:
                raise PlatformError(str(exc)) from None
        bot = cls(config, db, clock, worker_id, tracker=tracker)
        bot.runtime.tune(env)
        await bot.sync_config()
        if bot.tracker_sync is not None:
            await bot.tracker_sync.ensure_reconciler()
        await warm_up(db, config)  # knowledge search: the semantic extra's model and vectors
        return bot

    async def sync_config(self) -> None:
        """Accounts and people in the database follow the configuration."""
        for attempt in range(3):
            try:
                await sync_people(self.db, self.config)
                return
            except IntegrityError:
                # Another worker starting at the same moment inserted the same rows.
                if attempt == 2:
                    raise

    async def attach_coordination(self, coordination: Coordination) -> None:
        """Share de-duplication, case locks, rate windows and wake-ups with other
        workers (``storage.coordination.attach_redis(bot, url)``)."""
        await self.runtime.attach_coordination(coordination)

    # -- platforms --------------------------------------------------------------------------

    def register_adapter(self, outlet: Outlet) -> None:
        """Deliver to ``outlet`` (a platform's delivery side, or a test's recorder)."""
        self.runtime.add_platform(outlet)

    async def start_platform(self, platform: Platform) -> None:
        """Start ``platform`` with the core and deliver its notifications."""
        if isinstance(platform, UsesInbox):
            platform.use_inbox(self.runtime.inbox)
        if isinstance(platform, UsesMailroom):
            platform.use_mailroom(Mailroom(self.units))
        await platform.start(self.commands)
        self.running.append(platform)
        self.runtime.add_platform(platform)

    async def stop_platforms(self) -> None:
        while self.running:
            platform = self.running.pop()
            self.runtime.platforms.pop(platform.name, None)
            with suppress(Exception):
                await platform.stop()

    # -- the runtime ------------------------------------------------------------------------

    async def drain(self, max_rounds: int = 200) -> None:
        await self.runtime.drain(max_rounds)

    async def start(self) -> None:
        await self.runtime.start()
        settle_heap()

    async def stop(self, grace: float = 5.0) -> None:
        await self.runtime.stop(grace)

    async def close(self) -> None:
        await self.stop_platforms()
        await self.runtime.close()
        if self.tracker_sync is not None:
            with suppress(Exception):
                await self.tracker_sync.close()


# Young objects are collected this often (CPython's default is 700 allocations): a
# request allocates thousands, and each collection stops every thread of the process.
GC_YOUNG = 10_000
_settled = False


def settle_heap() -> None:
    """Once per process, when it starts serving: what start-up built (modules, the
    configuration, the libraries' tables: most of the heap) is moved out of the cyclic
    collector's sight (``gc.freeze``), and young collections run less often. Without
    it, each full collection walked that whole heap: 100-300 ms during which no thread
    ran, not even the front door's acknowledgements (``bench/slack_ack.py``)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, older, oldest)
