"""Engines, sessions and migrations for SQLite (embedded) and PostgreSQL (at scale)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///casebot.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url_from_env() -> str:
    return normalize_url(os.environ.get("CASEBOT_DATABASE_URL", DEFAULT_DATABASE_URL))


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``sqlite:///x.db``) and pick the
    async drivers we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


class Database:
    """One engine and its session factory.

    On SQLite (one process, the embedded default) writers are serialised by an
    asyncio lock and every transaction begins IMMEDIATE, so concurrent use cases never
    meet ``database is locked``. PostgreSQL relies on row locks instead.
    """

    def __init__(self, url: str, **engine_kw: Any) -> None:
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.is_sqlite:
            engine_kw.setdefault("connect_args", {"timeout": 30})
        else:
            engine_kw.setdefault("pool_pre_ping", True)
        self.engine: AsyncEngine = create_async_engine(self.url, **engine_kw)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: everything inside commits together or not at all."""
        if self._lock is not None:
            async with self._lock:
                async with self.sessions() as session, session.begin():
                    yield session
        else:
            async with self.sessions() as session, session.begin():
                yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        await asyncio.to_thread(upgrade, self.url)

    async def migrate_once(self) -> None:
        """Migrate; on PostgreSQL under an advisory lock, so workers starting together
        take turns instead of racing to create the same tables."""
        if self.is_sqlite:
            await self.migrate()
            return
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(hashtext('casebot-migrate'))"))
            try:
                await self.migrate()
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(hashtext('casebot-migrate'))"))

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy own BEGIN; see the "begin" listener below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if ":memory:" not in str(engine.url):
            cur.execute("PRAGMA journal_mode=WAL")
            # Durable across a process crash (WAL); only an OS crash could lose the
            # last commits, and it syncs far less often than FULL.
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Search indexes (migration 0002) live outside the models; autogenerate keeps them."""
    return not (reflected and compare_to is None and name is not None and "_fts" in name)


def alembic_config(url: str) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    sync_url = normalize_url(url).replace("+aiosqlite", "").replace("+psycopg", "+psycopg")
    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def sqlite_threads() -> list[threading.Thread]:
    """aiosqlite's connection threads still alive (one per connection it opened)."""
    return [
        t
        for t in threading.enumerate()
        if t.name.endswith("(_connection_worker_thread)") and t.is_alive()
    ]


async def settle_sqlite_threads(budget: float = 2.0) -> None:
    """Let aiosqlite's connection threads that are stopping finish while the loop runs.

    A SQLite file that cannot be opened (its folder is missing) makes aiosqlite stop the
    connection's thread without waiting for it (0.22: ``Connection._connect`` calls
    ``stop()`` and does not await the future; omnilib/aiosqlite#389 is open). The thread
    then hands that future to the loop; if ``asyncio.run`` has closed the loop by then,
    the thread prints a traceback after the one-line error the user was given. Call this
    before leaving the loop on a database failure: it joins those threads, at most
    ``budget`` seconds in all (a thread of a connection still open is not waited for
    beyond that)."""
    deadline = time.monotonic() + budget
    for thread in sqlite_threads():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        await asyncio.to_thread(thread.join, left)
