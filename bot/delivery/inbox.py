"""The durable inbox (:class:`bot.ports.Inbox`): nothing acknowledged is lost.

An adapter calls :meth:`DurableInbox.accept` before it acknowledges a request: the row
commits, leased to this worker, and the adapter hands it to :meth:`handle` right away
(the fast path, in this process). ``handle`` runs the platform's handler — the core
call and the answer to the person — and marks the row done. A row whose worker died
(or whose handler failed) stays pending; once its lease runs out, :meth:`recover` (in
the runtime's loop, in every process serving that platform, and at start-up) takes it
over and handles it again.

Handling twice has one effect: the core records each delivery id with its effect
(``processed_events``) and answers a repeat as a duplicate; :meth:`answer_of` gives the
words the first run answered, committed with the effect, so the person is told what
happened rather than "Already done.". What remains is the answer itself: a worker that
dies after answering and before marking the row done answers once more on takeover.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from bot.delivery.outbox import parse_seconds
from bot.ports import Accepted, Clock, InboxHandler
from storage import inbox as rows
from storage.db import Database

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 5
BATCH = 20


class DurableInbox:
    def __init__(self, db: Database, clock: Clock, worker_id: str) -> None:
        self.db = db
        self.store = rows.Store(db)
        self.clock = clock
        self.worker_id = worker_id
        self.lease = LEASE
        self.max_attempts = MAX_ATTEMPTS
        self.handlers: dict[str, InboxHandler] = {}
        # Entries this process holds (accepted here, or taken over, and not finished):
        # their leases are renewed each round, so a request queued behind others here
        # is never taken over by this or another worker while it waits.
        self.held: set[int] = set()

    def tune(self, env: Mapping[str, str] | None = None) -> None:
        """``CASEBOT_INBOX_LEASE``: how long a request is one worker's before another
        may take it over (``30s``)."""
        env = os.environ if env is None else env
        if v := env.get("CASEBOT_INBOX_LEASE"):
            self.lease = parse_seconds(v)

    def serve(self, platform: str, handler: InboxHandler) -> None:
        self.handlers[platform] = handler

    async def accept(
        self, platform: str, delivery: str, kind: str, payload: dict[str, Any]
    ) -> Accepted | None:
        entry = await rows.insert(
            await self.store.ready(),
            platform,
            delivery,
            kind,
            payload,
            now=self.clock.now(),
            worker=self.worker_id,
            lease=self.lease,
        )
        if entry is not None:
            self.held.add(entry.id)
        return entry

    async def handle(self, entry: Accepted) -> None:
        """Run the platform's handler for ``entry`` and mark it done; a failure is
        noted on the row and left for the next lease (then re-raised)."""
        handler = self.handlers.get(entry.platform)
        if handler is None:
            self.held.discard(entry.id)
            return  # nobody here serves it: it waits for a process that does
        self.held.add(entry.id)
        db = await self.store.ready()
        try:
            await handler(entry)
        except Exception as exc:
            await rows.finish(db, entry.id, self.worker_id, self.clock.now(), repr(exc))
            raise
        else:
            await rows.finish(db, entry.id, self.worker_id, self.clock.now())
        finally:
            self.held.discard(entry.id)

    async def answer_of(self, delivery: str) -> str | None:
        async with self.db.read() as s:
            return await rows.recorded_answer(s, delivery)

    async def recover(self) -> int:
        """Take over requests whose lease ran out and handle them; returns how many."""
        if not self.handlers:
            return 0
        db = await self.store.ready()
        if self.held:
            await rows.renew(db, sorted(self.held), self.worker_id, self.clock.now() + self.lease)
        taken = await rows.claim(
            db,
            self.clock.now(),
            self.worker_id,
            sorted(self.handlers),
            self.lease,
            BATCH,
            self.max_attempts,
        )
        if taken:
            log.info("inbox.taken_over", count=len(taken), worker=self.worker_id)
        results = await asyncio.gather(*(self.handle(e) for e in taken), return_exceptions=True)
        for entry, result in zip(taken, results, strict=True):
            if isinstance(result, Exception):
                log.error("inbox.failed", id=entry.id, kind=entry.kind, error=repr(result))
        return len(taken)

    async def prune(self, before: datetime) -> int:
        """Forget requests handled before ``before``."""
        return await rows.prune(await self.store.ready(), before)

    async def close(self) -> None:
        await self.store.dispose()
