"""Human keys (CASE-1, ENG-1, KB-1), safe under concurrent workers.

ENG and KB numbers come from a counter row, gap-free: the UPDATE takes the row lock
until the transaction ends, so allocations take turns. Case keys on PostgreSQL come
from a sequence instead (``casebot_case_numbers``, migration 0004): opening cases is
what a storm is made of, and a counter row held until each open commits made every
worker's opens take turns (82, 75, 69 cases/s with 1, 2, 4 workers). A sequence hands
out numbers without a lock; a rolled-back open leaves a gap, which is allowed. SQLite
has one writer anyway and keeps the counter."""

from __future__ import annotations

from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Counter

# Names whose numbers come from a PostgreSQL sequence (owned by counters.value, so a
# TRUNCATE … RESTART IDENTITY restarts it too).
SEQUENCES = {"CASE": "casebot_case_numbers"}


async def next_number(session: AsyncSession, name: str) -> int:
    sequence = SEQUENCES.get(name)
    if sequence and session.get_bind().dialect.name == "postgresql":
        return int((await session.execute(text(f"SELECT nextval('{sequence}')"))).scalar_one())
    stmt = update(Counter).where(Counter.name == name).values(value=Counter.value + 1)
    result = await session.execute(stmt.returning(Counter.value))
    value = result.scalar_one_or_none()
    if value is not None:
        return int(value)
    try:
        async with session.begin_nested():
            await session.execute(insert(Counter).values(name=name, value=1))
        return 1
    except IntegrityError:
        # Another worker created the row first; take the next number from it.
        result = await session.execute(stmt.returning(Counter.value))
        return int(result.scalar_one())


async def next_key(session: AsyncSession, prefix: str) -> str:
    """``await next_key(session, "CASE")`` → ``"CASE-7"``."""
    return f"{prefix}-{await next_number(session, prefix)}"
