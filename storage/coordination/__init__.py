"""Coordination between workers: de-duplication of re-delivered platform events, per-case
locks, shared rate-limit windows and waking idle workers.

:class:`LocalCoordination` does all of it inside one process (the embedded default, and
the fallback). :class:`RedisCoordination` shares it between any number of processes
through Redis, and falls back to its local twin while Redis is unreachable: the database
stays the system of record (event ids are also recorded in ``processed_events``, cases
are also locked with ``FOR UPDATE``), so losing Redis costs politeness (per-process rate
windows, polling instead of wake-ups), never correctness. It logs the degradation,
retries in the background and picks Redis up again when it returns.

The in-process backend and the shared types live in :mod:`storage.coordination.local`,
the Redis backend in :mod:`storage.coordination.redis`; every name is re-exported here.
"""

from __future__ import annotations

from storage.coordination.local import (
    DEDUPE_TTL,
    LOCK_TTL,
    LOCK_WAIT,
    LocalCoordination,
    Reservation,
    WakeCallback,
    Window,
)
from storage.coordination.redis import RedisCoordination, attach_redis

__all__ = [
    "DEDUPE_TTL",
    "LOCK_TTL",
    "LOCK_WAIT",
    "LocalCoordination",
    "RedisCoordination",
    "Reservation",
    "WakeCallback",
    "Window",
    "attach_redis",
]
