"""Search's read statements, run on the session's own driver connection in one step.

A search runs one statement per query, and through SQLAlchemy's async layer that one
statement costs more than the database spends on it: on SQLite each cursor call
(open, execute, fetch) is its own hop to aiosqlite's thread and back (1.3–1.8 ms a query
at 10,000 articles against 0.4–0.6 ms for one ``execute_fetchall``); on PostgreSQL the
result processing and the greenlet hop are most of it, and the statement is prepared once
per connection. The connection is the session's, so the statement sees the session's
transaction exactly as ``session.execute`` would. Another driver falls back to
``session.execute``.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_ROW_TYPES: dict[tuple[str, ...], Any] = {}
_PARAM = re.compile(r"(?<!:):([a-z_]+)\b")  # not the cast in ``'english'::regconfig``


def _row_type(columns: Sequence[str]) -> Any:
    key = tuple(columns)
    found = _ROW_TYPES.get(key)
    if found is None:
        found = _ROW_TYPES[key] = namedtuple("SearchRow", key)  # type: ignore[misc]  # noqa: PYI024
    return found


async def fetch(
    session: AsyncSession,
    sql: str,
    params: dict[str, Any],
    columns: Sequence[str],
    *,
    prepare: bool = True,
) -> list[Any]:
    """Every row of ``sql`` (``:name`` parameters, selecting ``columns`` in that order),
    each with the columns as attributes. ``prepare``: a statement whose text repeats
    (PostgreSQL plans it once per connection), unless the connection's
    ``prepare_threshold`` is None."""
    driver = session.get_bind().dialect.driver
    if driver not in ("aiosqlite", "psycopg"):
        return list((await session.execute(text(sql), params)).all())
    connection = await session.connection()
    raw: Any = (await connection.get_raw_connection()).driver_connection
    row = _row_type(columns)
    if driver == "aiosqlite":
        found = await raw.execute_fetchall(sql, params)
    else:
        # A connection told never to prepare (``prepare_threshold=None``: behind a
        # transaction-mode pooler such as PgBouncer) is never made to.
        prepare = prepare and raw.prepare_threshold is not None
        cursor = await raw.execute(_PARAM.sub(r"%(\1)s", sql), params, prepare=prepare or None)
        found = await cursor.fetchall()
    return [row._make(r) for r in found]
