"""The inbox: every platform request casebot acknowledged, written before the ack.

A row is inserted (and committed) before the platform is told "got it"; it is marked
done once the request's effect happened and the person was answered. A row whose
worker died keeps ``state = 'pending'`` and is taken up by any worker once its lease
runs out. ``delivery`` is the platform's id of the request (unique): a re-delivery of an
accepted request finds the row and is acknowledged without a second one.

On PostgreSQL the rows live in the casebot database (an insert takes no lock a use
case holds). On SQLite, which has one writer at a time, they live in a file of their
own beside it (``casebot.db`` → ``casebot.db-inbox``, created at start-up), each
transaction in one trip to a thread: an acknowledgement then never queues behind a
use case's transaction, and costs one hop to a thread rather than one per statement
(each hop waits for the GIL while the core keeps the process busy). Nothing needs the two
files in one transaction: what a request did is recorded in the casebot database with
its effect (``processed_events``); the inbox only says which requests still need
handling.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, delete, event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.ports import Accepted
from storage.db import Database
from storage.models import InboxRow, ProcessedEvent

T = TypeVar("T")


class Store:
    """Where the inbox rows live for the casebot database ``db`` (see above);
    :meth:`run` runs one of this module's operations in one transaction there."""

    def __init__(self, db: Database) -> None:
        self.main = db
        url = make_url(db.url)
        self.own: Engine | None = None
        if not db.is_sqlite:
            # A (synchronous) pool of its own, used from a thread: an acknowledgement
            # never waits for a connection behind the core's transactions and the
            # outbox's deliveries, nor for turns of a busy event loop per statement.
            self.own = create_engine(db.url, pool_size=2, max_overflow=2, pool_pre_ping=True)
        elif url.database not in (None, "", ":memory:"):
            self.own = create_engine(
                f"sqlite:///{url.database}-inbox",
                connect_args={"timeout": 30, "check_same_thread": False},
            )
            event.listen(self.own, "connect", _sqlite_setup)
            InboxRow.__table__.create(self.own, checkfirst=True)  # type: ignore[attr-defined]
        self.is_sqlite = db.is_sqlite

    @property
    def loop_free(self) -> bool:
        """Usable from any event loop (an engine of its own, used from threads); an
        in-memory database is only reachable through the main database's loop."""
        return self.own is not None

    def _run_here(self, op: Callable[..., T], *args: Any) -> T:
        assert self.own is not None
        with Session(self.own) as s, s.begin():
            return op(s, self.is_sqlite, *args)

    async def run(self, op: Callable[..., T], *args: Any) -> T:
        if self.own is not None:
            # The whole transaction in one trip to a thread (an async driver makes one
            # trip round the event loop per statement, each waiting while the core keeps
            # the process busy).
            return await asyncio.to_thread(self._run_here, op, *args)
        async with self.main.transaction() as session:  # an in-memory SQLite database
            return await session.run_sync(lambda s: op(s, self.is_sqlite, *args))

    def _accept_here(self, new: list[dict[str, Any]]) -> dict[str, int]:
        assert self.own is not None
        if self.is_sqlite:
            return self._run_here(write, new, [], [], "", datetime.now(UTC))
        # One statement is a transaction of its own: autocommitted, the batch costs one
        # round trip to the server (BEGIN, INSERT, COMMIT were three, each waiting for
        # the GIL again in a busy process).
        with self.own.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return _insert(conn, False, new)

    async def accept(self, new: list[dict[str, Any]]) -> dict[str, int]:
        """Insert ``new`` rows (a delivery accepted before is skipped) and commit;
        their ids by delivery."""
        if self.own is not None:
            return await asyncio.to_thread(self._accept_here, new)
        return await self.run(write, new, [], [], "", datetime.now(UTC))

    async def dispose(self) -> None:
        if self.own is not None:
            self.own.dispose()


def _sqlite_setup(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _entry(row: InboxRow, now: datetime) -> Accepted:
    return Accepted(
        row.id,
        row.platform,
        row.delivery,
        row.kind,
        dict(row.payload),
        row.attempts,
        waited=max(timedelta(0), now - row.created_at),
    )


def row_values(
    platform: str,
    delivery: str,
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    worker: str,
    lease: timedelta,
) -> dict[str, Any]:
    """A new row, leased to ``worker``."""
    return {
        "platform": platform,
        "delivery": delivery[:200],
        "kind": kind,
        "payload": payload,
        "state": "pending",
        "attempts": 1,
        "lease_until": now + lease,
        "worker": worker,
        "created_at": now,
    }


_COLUMNS = (
    "platform",
    "delivery",
    "kind",
    "payload",
    "state",
    "attempts",
    "lease_until",
    "worker",
    "created_at",
)


def _params(values: dict[str, Any], sqlite: bool) -> list[Any]:
    """A row's values as the driver takes them (what the model's types would bind)."""
    out: list[Any] = []
    for column in _COLUMNS:
        value = values[column]
        if column == "payload":
            value = json.dumps(value)
        elif isinstance(value, datetime) and sqlite:
            value = value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        out.append(value)
    return out


def write(
    s: Session,
    sqlite: bool,
    new: list[dict[str, Any]],
    done: list[int],
    failed: list[tuple[int, str]],
    worker: str,
    now: datetime,
) -> dict[str, int]:
    """Many acknowledgements and completions in one commit (a group commit): insert
    ``new`` rows (a delivery accepted before is skipped), mark ``done`` and note
    ``failed`` ones still held by ``worker``. Returns the new rows' ids by delivery."""
    ids = _insert(s.connection(), sqlite, new) if new else {}
    mine = (InboxRow.worker == worker, InboxRow.state == "pending")
    if done:
        s.execute(
            update(InboxRow).where(InboxRow.id.in_(done), *mine).values(state="done", done_at=now)
        )
    for entry_id, error in failed:
        s.execute(
            update(InboxRow).where(InboxRow.id == entry_id, *mine).values(last_error=error[:2000])
        )
    return ids


def _insert(conn: Connection, sqlite: bool, new: list[dict[str, Any]]) -> dict[str, int]:
    """Insert ``new`` rows in one statement, skipping deliveries accepted before (and a
    delivery twice in the batch: once); their ids by delivery."""
    ids: dict[str, int] = {}
    first: dict[str, dict[str, Any]] = {}
    for values in new:
        first.setdefault(values["delivery"], values)  # the same delivery twice: once
    if first:
        # One driver-level statement for the batch: compiling an ORM insert per row
        # costs more than the commit itself when the process is busy.
        mark = "?" if sqlite else "%s"
        one = (
            "("
            + ", ".join(
                f"{mark}::json" if c == "payload" and not sqlite else mark for c in _COLUMNS
            )
            + ")"
        )
        sql = (
            f"INSERT INTO inbox ({', '.join(_COLUMNS)}) VALUES "
            + ", ".join([one] * len(first))
            + " ON CONFLICT (delivery) DO NOTHING RETURNING id, delivery"
        )
        params = tuple(p for values in first.values() for p in _params(values, sqlite))
        for row_id, delivery in conn.exec_driver_sql(sql, params).all():
            ids[delivery] = int(row_id)
    return ids


def claim(
    s: Session,
    sqlite: bool,
    now: datetime,
    worker: str,
    platforms: list[str],
    lease: timedelta,
    limit: int,
    max_attempts: int,
) -> list[Accepted]:
    """Pending rows whose lease ran out (their worker died or gave up), for ``worker``.
    Rows tried ``max_attempts`` times are marked failed instead."""
    rows = s.scalars(
        select(InboxRow)
        .where(
            InboxRow.state == "pending",
            InboxRow.lease_until < now,
            InboxRow.platform.in_(platforms),
        )
        .order_by(InboxRow.lease_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    taken = []
    for row in rows:
        if row.attempts >= max_attempts:
            row.state = "failed"
            continue
        row.attempts += 1
        row.worker = worker
        row.lease_until = now + lease
        taken.append(_entry(row, now))
    return taken


def renew(s: Session, sqlite: bool, ids: list[int], worker: str, until: datetime) -> None:
    """Extend the leases of rows ``worker`` still holds."""
    s.execute(
        update(InboxRow)
        .where(InboxRow.id.in_(ids), InboxRow.worker == worker, InboxRow.state == "pending")
        .values(lease_until=until)
    )


def prune(s: Session, sqlite: bool, before: datetime) -> int:
    result = s.execute(
        delete(InboxRow).where(InboxRow.state == "done", InboxRow.created_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def states(s: Session, sqlite: bool) -> list[InboxRow]:
    """Every row (tests and ``casebot`` diagnostics)."""
    rows = list(s.scalars(select(InboxRow).order_by(InboxRow.id)).all())
    s.expunge_all()
    return rows


async def recorded_answer(session: AsyncSession, delivery: str) -> str | None:
    """What the core answered when it handled ``delivery`` (stored with its effect)."""
    return (
        await session.scalars(
            select(ProcessedEvent.outcome).where(ProcessedEvent.key == delivery[:200])
        )
    ).one_or_none()
