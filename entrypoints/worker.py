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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import suppress

import structlog

from adapters.web import WebServer, public_url_from_env
from bot.config import Config
from bot.ports import Clock, PlatformOptions
from entrypoints import operators, web
from entrypoints.bootstrap import Casebot
from entrypoints.platforms import build, wanted
from storage.db import Database

log = structlog.get_logger(__name__)

Closer = Callable[[], Awaitable[object]]
# Starts the delivery platforms; may return what to close when the worker stops (an
# adapter's HTTP session …), run after the core has stopped delivering.
Outbound = Callable[[Casebot], Awaitable[Iterable[Closer] | None]]
Setup = Callable[[Casebot], Awaitable[None]]


async def default_outbound(bot: Casebot, env: Mapping[str, str] | None = None) -> None:
    """Delivery-only platforms for those whose credentials are set."""
    env = os.environ if env is None else env
    for name in wanted([], env, receive=False):
        await bot.start_platform(build(name, env, PlatformOptions(receive=False)))
    if not bot.running:
        log.warning(
            "worker.no_platforms", note="no chat credentials: this worker fires timers only"
        )


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

    ``outbound`` starts the delivery platforms (default: from the environment's
    credentials) and may return closers, awaited once the core has stopped; ``setup``
    runs before work starts (tests add timer kinds there).
    """
    db = Database(database_url)
    await db.migrate_once()
    await db.dispose()
    bot = await Casebot.create(
        config, database_url, clock=clock, migrate=False, worker_id=worker_id, env=env
    )
    stop = stop or asyncio.Event()
    server: WebServer | None = None
    closers: list[Closer] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if redis_url:
            from storage.coordination import attach_redis

            await attach_redis(bot, redis_url)
        closers.extend(await (outbound or default_outbound)(bot) or ())
        if setup is not None:
            await setup(bot)
        await bot.start()
        server = await _serve_operators(bot, env if env is not None else os.environ)
        log.info(
            "worker.started",
            worker=bot.runtime.worker_id,
            platforms=sorted(bot.runtime.platforms),
            redis=bool(redis_url),
        )
        await stop.wait()
        pacer = bot.runtime.pacer
        log.info(
            "worker.stopping",
            worker=bot.runtime.worker_id,
            missed_slots=pacer.late if pacer else 0,
            told_to_wait=pacer.blocked if pacer else 0,
        )
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        if server is not None:
            await server.stop()
        await bot.close()
        for close in closers:
            try:
                await close()
            except Exception:  # noqa: BLE001 - close the others; the process is ending
                log.exception("worker.close_failed", closer=repr(close))


async def _serve_operators(bot: Casebot, env: Mapping[str, str]) -> WebServer | None:
    """``/healthz``, ``/readyz`` and ``/metrics`` on ``CASEBOT_HTTP_PORT``, when it is set."""
    if not operators.wanted(bot.config, env):
        return None
    port = web.http_port(env)
    host = env.get("CASEBOT_HTTP_HOST", "").strip() or "127.0.0.1"
    server = WebServer(host, port or 0, public_url_from_env(env))
    operators.mount(server, bot, env)
    await web.start(server)
    return server
