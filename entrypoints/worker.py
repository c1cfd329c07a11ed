"""``casebot worker``: a stateless process that delivers notifications and fires timers
(no chat listeners), and the ``casebot outbox`` commands.

Run as many workers as you like against one PostgreSQL database (and, with
``CASEBOT_REDIS_URL``, one Redis): they claim disjoint work with leases, pace deliveries
through shared rate windows and wake each other when work is queued. A worker delivers
to every platform it has outbound credentials for (``SLACK_BOT_TOKEN`` …); rows for a
platform no worker can reach wait for a ``casebot run`` process that can.

Tuning from the environment: ``CASEBOT_TIMER_LEASE`` / ``CASEBOT_OUTBOX_LEASE`` (how long
a claim lasts before another worker may take it over; ``2m`` / ``60s``),
``CASEBOT_OUTBOX_HORIZON`` (give up on a notification after; ``24h``),
``CASEBOT_OUTBOX_BACKOFF`` / ``CASEBOT_OUTBOX_BACKOFF_CAP`` and
``CASEBOT_POLL_INTERVAL`` (seconds an idle worker waits before looking again without a
wake-up; ``1``).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import structlog

from bot import outbox
from bot.app import Casebot, migrate_once
from bot.config import Config
from bot.ports import Clock
from storage.db import Database

log = structlog.get_logger(__name__)

Closer = Callable[[], Awaitable[Any]]
Outbound = Callable[[Casebot], Awaitable[list[Closer]]]
Setup = Callable[[Casebot], Awaitable[None]]


async def default_outbound(bot: Casebot) -> list[Closer]:
    """Delivery-only adapters for the platforms whose credentials are set."""
    closers: list[Closer] = []
    if os.environ.get("SLACK_BOT_TOKEN"):
        from adapters.slack.adapter import SlackAdapter
        from adapters.slack.client import SlackApi, api_base_url
        from adapters.slack.people import Directory

        api = SlackApi(os.environ["SLACK_BOT_TOKEN"], api_base_url(os.environ.get("SLACK_API_URL")))
        bot.register_adapter(SlackAdapter(api, Directory(bot.config, api.web)))
        closers.append(api.close)
    if os.environ.get("DISCORD_TOKEN"):
        try:
            from adapters.discord import start_outbound
        except ImportError:
            log.warning(
                "worker.discord_outbound_missing",
                note="Discord notifications are delivered by `casebot run`",
            )
        else:
            closers.append(await start_outbound(bot))
    if not bot.adapters:
        log.warning(
            "worker.no_platforms", note="no chat credentials: this worker fires timers only"
        )
    return closers


async def run_worker(
    config: Config,
    database_url: str,
    redis_url: str | None,
    *,
    outbound: Outbound | None = None,
    setup: Setup | None = None,
    stop: asyncio.Event | None = None,
    clock: Clock | None = None,
    worker_id: str | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Deliver notifications and fire timers until SIGTERM/SIGINT (or ``stop`` is set).

    ``outbound`` registers the delivery adapters (default: from the environment's
    credentials) and returns how to close them; ``setup`` runs before work starts (tests
    register extra timer kinds there).
    """
    db = Database(database_url)
    await migrate_once(db)
    await db.dispose()
    bot = await Casebot.create(
        config, database_url, clock=clock, migrate=False, worker_id=worker_id
    )
    bot.tune(env)
    closers: list[Closer] = []
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if redis_url:
            from storage.coordination import attach_redis

            await attach_redis(bot, redis_url)
        closers = await (outbound or default_outbound)(bot)
        if setup is not None:
            await setup(bot)
        await bot.start()
        log.info(
            "worker.started",
            worker=bot.worker_id,
            platforms=sorted(bot.adapters),
            redis=bool(redis_url),
        )
        await stop.wait()
        pacer = bot.pacer
        log.info(
            "worker.stopping",
            worker=bot.worker_id,
            missed_slots=pacer.late if pacer else 0,
            told_to_wait=pacer.blocked if pacer else 0,
        )
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        await bot.stop()
        for close in closers:
            with suppress(Exception):
                await close()
        await bot.close()


async def outbox_list(db: Database, failed: bool) -> list[str]:
    """``casebot outbox list [--failed]``: one line per notification waiting (or failed)."""
    return await outbox.listing(db, failed)


async def outbox_retry(db: Database, ids: list[int] | None, *, now: datetime | None = None) -> int:
    """``casebot outbox retry [ids…]``: failed notifications back in the queue (due at
    once, with a fresh retry horizon from ``now``); returns how many."""
    return await outbox.requeue(db, ids, now or datetime.now(UTC))
