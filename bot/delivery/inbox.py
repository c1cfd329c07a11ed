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
from contextlib import suppress
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
        # Two group commits: acknowledgements never wait behind a commit of done marks
        # (on PostgreSQL an acknowledgement batch is one autocommitted statement: one
        # round trip, where a transaction with the marks took four).
        self.writer = GroupCommit(self)
        self.marks = GroupCommit(self)
        # The loop the handlers run on (the core's), and a group commit of its own for
        # each other loop that accepts requests (the front door's, see adapters.web.front).
        self.home: asyncio.AbstractEventLoop | None = None
        self.writers: dict[asyncio.AbstractEventLoop, GroupCommit] = {}

    def tune(self, env: Mapping[str, str] | None = None) -> None:
        """``CASEBOT_INBOX_LEASE``: how long a request is one worker's before another
        may take it over (``30s``)."""
        env = os.environ if env is None else env
        if v := env.get("CASEBOT_INBOX_LEASE"):
            self.lease = parse_seconds(v)

    def serve(self, platform: str, handler: InboxHandler) -> None:
        self.handlers[platform] = handler
        with suppress(RuntimeError):  # outside a loop: the first recover() tells
            self.home = self.home or asyncio.get_running_loop()

    def unserve(self, platform: str, handler: InboxHandler) -> None:
        """A platform stopped: its rows wait for a process (or a start) that serves it."""
        if self.handlers.get(platform) == handler:
            del self.handlers[platform]

    async def accept(
        self, platform: str, delivery: str, kind: str, payload: dict[str, Any]
    ) -> Accepted | None:
        values = rows.row_values(
            platform,
            delivery,
            kind,
            payload,
            now=self.clock.now(),
            worker=self.worker_id,
            lease=self.lease,
        )
        entry_id = await self._accepted(values)
        if entry_id is None:
            return None
        self.held.add(entry_id)
        return Accepted(entry_id, platform, values["delivery"], kind, payload)

    async def _accepted(self, values: dict[str, Any]) -> int | None:
        """Commit a new row from whichever loop accepted it; its id (None: seen before)."""
        loop = asyncio.get_running_loop()
        home = self.home
        if home is None or loop is home:
            return await self.writer.submit(new=values)
        if self.store.loop_free:
            writer = self.writers.get(loop)
            if writer is None:
                writer = self.writers[loop] = GroupCommit(self)
            return await writer.submit(new=values)
        # An in-memory database lives on the home loop's connections.
        done = asyncio.run_coroutine_threadsafe(self.writer.submit(new=values), home)
        return await asyncio.wrap_future(done)

    async def handle(self, entry: Accepted) -> None:
        """Run the platform's handler for ``entry`` and mark it done; a failure is
        noted on the row and left for the next lease (then re-raised)."""
        handler = self.handlers.get(entry.platform)
        if handler is None:
            self.held.discard(entry.id)
            return  # nobody here serves it: it waits for a process that does
        self.held.add(entry.id)
        try:
            await handler(entry)
        except Exception as exc:
            await self.marks.submit(failed=(entry.id, repr(exc)))
            raise
        else:
            await self.marks.submit(done=entry.id)
        finally:
            self.held.discard(entry.id)

    async def answer_of(self, delivery: str) -> str | None:
        async with self.db.read() as s:
            return await rows.recorded_answer(s, delivery)

    async def recover(self) -> int:
        """Take over requests whose lease ran out and handle them; returns how many."""
        if not self.handlers:
            return 0
        self.home = self.home or asyncio.get_running_loop()
        store = self.store
        held = sorted(list(self.held))  # added to from the front door's thread too
        if held:
            until = self.clock.now() + self.lease
            await store.run(rows.renew, held, self.worker_id, until)
        taken = await store.run(
            rows.claim,
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
        return await self.store.run(rows.prune, before)

    async def close(self) -> None:
        await self.writer.close()
        await self.marks.close()
        # Other loops' group commits end with their loops (the front door cancels them).
        self.writers.clear()
        await self.store.dispose()


class GroupCommit:
    """Acknowledgements and completions written together: whatever arrived while the
    last commit ran goes into the next one. One commit costs a few milliseconds (more
    on a busy machine); one per request would queue acknowledgements behind each other
    at 100 requests/s, while one per batch keeps each to about one commit's time."""

    def __init__(self, inbox: DurableInbox) -> None:
        self.inbox = inbox
        self._new: list[tuple[dict[str, Any], asyncio.Future[int | None]]] = []
        self._done: list[tuple[int, asyncio.Future[int | None]]] = []
        self._failed: list[tuple[tuple[int, str], asyncio.Future[int | None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def submit(
        self,
        *,
        new: dict[str, Any] | None = None,
        done: int | None = None,
        failed: tuple[int, str] | None = None,
    ) -> int | None:
        """Wait until this change is committed; a new row's id (None: accepted before)."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        if new is not None:
            self._new.append((new, future))
        elif done is not None:
            self._done.append((done, future))
        elif failed is not None:
            self._failed.append((failed, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="casebot-inbox-writer")
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            new, self._new = self._new, []
            done, self._done = self._done, []
            failed, self._failed = self._failed, []
            waiting = [f for _, f in new] + [f for _, f in done] + [f for _, f in failed]
            if not waiting:
                continue
            inbox = self.inbox
            try:
                if new and not done and not failed:
                    ids = await inbox.store.accept([v for v, _ in new])
                else:
                    ids = await inbox.store.run(
                        rows.write,
                        [v for v, _ in new],
                        [i for i, _ in done],
                        [x for x, _ in failed],
                        inbox.worker_id,
                        inbox.clock.now(),
                    )
            except Exception as exc:  # noqa: BLE001 - every waiter hears it
                for f in waiting:
                    if not f.done():
                        f.set_exception(exc)
                continue
            for values, f in new:
                # The same delivery twice in one batch: the first is accepted, not both.
                if not f.done():
                    f.set_result(ids.pop(values["delivery"], None))
            for f in waiting:
                if not f.done():
                    f.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
