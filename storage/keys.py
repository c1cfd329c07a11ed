"""Human keys (CASE-1, ENG-1, KB-1) from a counter row, gap-free and safe under
concurrent workers: the UPDATE takes the row lock until the transaction ends."""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Counter


async def next_number(session: AsyncSession, name: str) -> int:
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
