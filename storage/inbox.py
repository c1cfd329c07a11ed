"""The inbox: every platform request casebot acknowledged, written before the ack.

On PostgreSQL the rows live in the casebot database (an insert takes no lock a use
case holds). On SQLite, which has one writer at a time, they live in a file of their
own beside it (``casebot.db`` → ``casebot.db-inbox``, created on first use): an
acknowledgement then never queues behind a use case's transaction, only behind other
acknowledgements (a few hundred microseconds each). Nothing needs the two in one
transaction: what a request did is recorded in the casebot database with its effect
(``processed_events``), and the inbox only says which requests still need handling.

A row is inserted (and committed) before the platform is told "got it"; it is marked
done once the request's effect happened and the person was answered. A row whose
worker died keeps ``state = 'pending'`` and is taken up by any worker once its lease
runs out. ``delivery`` is the platform's id of the request (unique): a re-delivery of an
accepted request finds the row and is acknowledged without a second one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ports import Accepted
from storage.db import Database
from storage.models import InboxRow, ProcessedEvent


class Store:
    """Where the inbox rows live for the casebot database ``db`` (see above)."""

    def __init__(self, db: Database) -> None:
        self.main = db
        url = make_url(db.url)
        own = db.is_sqlite and url.database not in (None, "", ":memory:")
        self.db = Database(str(url.set(database=f"{url.database}-inbox"))) if own else db
        self._ready = not own
        self._lock = asyncio.Lock()

    async def ready(self) -> Database:
        if not self._ready:
            async with self._lock:
                if not self._ready:
                    async with self.db.engine.begin() as conn:
                        await conn.run_sync(
                            lambda c: InboxRow.__table__.create(c, checkfirst=True)  # type: ignore[attr-defined]
                        )
                    self._ready = True
        return self.db

    async def dispose(self) -> None:
        if self.db is not self.main:
            await self.db.dispose()


def _entry(row: InboxRow) -> Accepted:
    return Accepted(row.id, row.platform, row.delivery, row.kind, dict(row.payload), row.attempts)


async def insert(
    db: Database,
    platform: str,
    delivery: str,
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    worker: str,
    lease: timedelta,
) -> Accepted | None:
    """Write the request, leased to ``worker``; None when it was accepted before."""
    row = InboxRow(
        platform=platform,
        delivery=delivery[:200],
        kind=kind,
        payload=payload,
        state="pending",
        attempts=1,
        lease_until=now + lease,
        worker=worker,
        created_at=now,
    )
    try:
        async with db.transaction() as s:
            s.add(row)
            await s.flush()
            return _entry(row)
    except IntegrityError:
        return None


async def claim(
    db: Database,
    now: datetime,
    worker: str,
    platforms: list[str],
    lease: timedelta,
    limit: int,
    max_attempts: int,
) -> list[Accepted]:
    """Pending rows whose lease ran out (their worker died or gave up), for ``worker``.
    Rows tried ``max_attempts`` times are marked failed instead."""
    if not platforms:
        return []
    async with db.transaction() as s:
        rows = (
            await s.scalars(
                select(InboxRow)
                .where(
                    InboxRow.state == "pending",
                    InboxRow.lease_until < now,
                    InboxRow.platform.in_(platforms),
                )
                .order_by(InboxRow.lease_until)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        taken = []
        for row in rows:
            if row.attempts >= max_attempts:
                row.state = "failed"
                continue
            row.attempts += 1
            row.worker = worker
            row.lease_until = now + lease
            taken.append(_entry(row))
        return taken


async def renew(db: Database, ids: list[int], worker: str, until: datetime) -> None:
    """Extend the leases of rows ``worker`` still holds."""
    async with db.transaction() as s:
        await s.execute(
            update(InboxRow)
            .where(InboxRow.id.in_(ids), InboxRow.worker == worker, InboxRow.state == "pending")
            .values(lease_until=until)
        )


async def finish(
    db: Database, entry_id: int, worker: str, now: datetime, error: str | None = None
) -> None:
    """Done (or, with ``error``, noted and left for the next lease), if still ours."""
    async with db.transaction() as s:
        values: dict[str, Any] = (
            {"state": "done", "done_at": now} if error is None else {"last_error": error[:2000]}
        )
        await s.execute(
            update(InboxRow)
            .where(InboxRow.id == entry_id, InboxRow.worker == worker, InboxRow.state == "pending")
            .values(**values)
        )


async def recorded_answer(session: AsyncSession, delivery: str) -> str | None:
    """What the core answered when it handled ``delivery`` (stored with its effect)."""
    return (
        await session.scalars(
            select(ProcessedEvent.outcome).where(ProcessedEvent.key == delivery[:200])
        )
    ).one_or_none()


async def prune(db: Database, before: datetime) -> int:
    async with db.transaction() as s:
        result = await s.execute(
            delete(InboxRow).where(InboxRow.state == "done", InboxRow.created_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)
