"""What this process counts as it runs, for ``/metrics`` (``adapters.web.operators``
adds them to the figures it reads from the database at each scrape).

Every metric lives here; the places that feed them make one call each:
``adapters/slack/server.py`` times the Slack endpoint with :func:`timed`,
``adapters/slack/socket.py`` each Socket Mode envelope with :func:`acked` and
:func:`failed`, ``adapters/discord/interactions.py`` calls :func:`acked`, ``bot/delivery/outbox.py``
calls :func:`delivered`. These are per process (each worker counts its own), as
Prometheus expects of counters and histograms: sum them over instances.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# Slack allows 3 s for an acknowledgement, Discord 3 s for an interaction's first answer.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)

REQUESTS = Counter(
    "casebot_requests",
    "Platform requests by platform and outcome (acked, refused, failed)",
    ["platform", "outcome"],
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "casebot_ack_seconds",
    "From a platform request's arrival to its acknowledgement",
    ["platform"],
    buckets=ACK_BUCKETS,
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "casebot_deliveries",
    "Outbox deliveries by platform and outcome (sent, failed: retried or given up)",
    ["platform", "outcome"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "casebot_rate_limited",
    "Deliveries the platform refused with 429 (a Retry-After)",
    ["platform"],
    registry=REGISTRY,
)

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])


def acked(platform: str, seconds: float, ok: bool = True) -> None:
    """A request acknowledged (``ok``) or refused after ``seconds``."""
    REQUESTS.labels(platform, "acked" if ok else "refused").inc()
    ACK_SECONDS.labels(platform).observe(max(seconds, 0.0))


def failed(platform: str) -> None:
    """A request whose handling raised before it could be acknowledged."""
    REQUESTS.labels(platform, "failed").inc()


def timed(platform: str, handler: H) -> H:
    """An HTTP handler counted and timed: a 2xx answer is an ack, another status a
    refusal, an exception a failure."""

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            response = await handler(*args, **kwargs)
        except Exception:
            failed(platform)
            raise
        status = int(getattr(response, "status", 200))
        acked(platform, time.perf_counter() - start, 200 <= status < 300)
        return response

    return cast(H, wrapper)


def delivered(platform: str, error: Any = None) -> None:
    """One delivery attempt: sent, or failed with ``error`` (a ``DeliveryError``)."""
    DELIVERIES.labels(platform, "sent" if error is None else "failed").inc()
    if error is not None and getattr(error, "retry_after", None) is not None:
        RATE_LIMITED.labels(platform).inc()
