"""Shared fixtures: a migrated database on SQLite and on PostgreSQL.

Every storage-touching test takes ``db`` and runs on both backends. PostgreSQL comes
from CASEBOT_TEST_POSTGRES_URL (default: the local server); without a server those
tests skip with a reason locally, and fail under CI (``CI`` set), where they must run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.clock import FakeClock
from bot.config import Config
from entrypoints.bootstrap import Casebot
from storage.db import Database, normalize_url, upgrade
from storage.models import Base

PG_URL = os.environ.get(
    "CASEBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_available() -> str | None:
    try:
        engine = create_engine(normalize_url(PG_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        return f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating once is enough)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def need_pg() -> None:
    """Skip locally without a server; under CI the PostgreSQL tests must run."""
    reason = _pg_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database, migrated, dropped afterwards; yields its URL."""
    need_pg()
    base = normalize_url(PG_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def truncate_pg(url: str, *extra: str) -> None:
    engine = create_engine(url)
    tables = ", ".join([f'"{t.name}"' for t in Base.metadata.sorted_tables] + list(extra))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    with fresh_pg_database("casebot_t") as url:
        yield url


async def open_database(
    request: pytest.FixtureRequest, tmp_path: Path, pg_fixture: str
) -> Database:
    """An empty migrated database for ``request.param``: a copy of the SQLite template,
    or the PostgreSQL database of ``pg_fixture``, truncated."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "casebot.db"
        shutil.copy(template, path)
        return Database(f"sqlite:///{path}")
    url: str = request.getfixturevalue(pg_fixture)
    truncate_pg(url)
    return Database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    database = await open_database(request, tmp_path, "pg_database")
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def pg_db(pg_database: str) -> AsyncIterator[Database]:
    """A migrated, empty PostgreSQL database, for what only PostgreSQL has."""
    truncate_pg(pg_database)
    database = Database(pg_database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def bot(config: Config, sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Casebot]:
    """The real core on a copy of the migrated SQLite template, with a fake clock, for
    the package's own ``config`` (the adapter suites define theirs)."""
    path = tmp_path / "casebot.db"
    shutil.copy(sqlite_template, path)
    casebot = await Casebot.create(
        config, database_url=f"sqlite+aiosqlite:///{path}", clock=FakeClock(), migrate=False
    )
    try:
        yield casebot
    finally:
        await casebot.close()
