"""What operators scrape on the shared HTTP server: ``GET /readyz`` (the database and,
when configured, Redis answer) and ``GET /metrics`` (Prometheus text format, made with
prometheus-client): the figures read from the database at each scrape, then this
process's own counters (``bot.metrics``). ``/healthz`` (alive) is the server's own."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from adapters.web.server import WebServer
from bot import metrics as counted

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]


class Figures(Protocol):
    """``storage.operations.Figures``, as this module reads it."""

    @property
    def cases_by_state(self) -> dict[str, int]: ...

    @property
    def outbox_by_state(self) -> dict[tuple[str, str], int]: ...

    @property
    def outbox_oldest_pending_seconds(self) -> float: ...

    @property
    def timers_overdue(self) -> int: ...

    @property
    def timer_lag_seconds(self) -> float: ...


def mount(
    server: WebServer,
    checks: Mapping[str, Check],
    figures: Callable[[], Awaitable[Figures]],
    inbox: Callable[[], Awaitable[Mapping[str, int]]] | None = None,
) -> None:
    async def readyz(request: web.Request) -> web.Response:
        parts: dict[str, Any] = {}
        for name, check in checks.items():
            try:
                await check()
                parts[name] = {"ok": True}
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
                log.warning("readyz: %s is not answering: %s", name, exc.__class__.__name__)
                parts[name] = {"ok": False, "error": exc.__class__.__name__}
        ok = all(p["ok"] for p in parts.values())
        return web.json_response({"ok": ok, **parts}, status=200 if ok else 503)

    async def metrics(request: web.Request) -> web.Response:
        scraped = registry_of(await figures(), await inbox() if inbox is not None else {})
        # What the database says (the whole deployment), then this process's counters.
        body = generate_latest(scraped) + generate_latest(counted.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    server.add("GET", "/readyz", readyz)
    server.add("GET", "/metrics", metrics)


def registry_of(f: Figures, inbox: Mapping[str, int] | None = None) -> CollectorRegistry:
    """A fresh registry holding this scrape's figures (read from the database, which is
    shared by every worker, so any one process reports the whole deployment)."""
    registry = CollectorRegistry()
    cases = Gauge("casebot_cases", "Cases by state", ["state"], registry=registry)
    for state, n in f.cases_by_state.items():
        cases.labels(state).set(n)
    outbox = Gauge(
        "casebot_outbox_rows",
        "Notifications by platform and state",
        ["platform", "state"],
        registry=registry,
    )
    for (platform, state), n in f.outbox_by_state.items():
        outbox.labels(platform, state).set(n)
    Gauge(
        "casebot_outbox_oldest_pending_seconds",
        "Age of the oldest undelivered notification",
        registry=registry,
    ).set(f.outbox_oldest_pending_seconds)
    Gauge("casebot_timers_overdue", "Pending timers past their due time", registry=registry).set(
        f.timers_overdue
    )
    Gauge(
        "casebot_timer_lag_seconds",
        "How late the most overdue pending timer is",
        registry=registry,
    ).set(f.timer_lag_seconds)
    rows = Gauge(
        "casebot_inbox_rows",
        "Acknowledged requests by state (pending: not handled yet)",
        ["state"],
        registry=registry,
    )
    for state, n in (inbox or {}).items():
        rows.labels(state).set(n)
    return registry
