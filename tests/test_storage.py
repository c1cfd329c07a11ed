"""The schema the migrations build matches the models, and keys are human (gap-free
for ENG and KB; case numbers come from a sequence on PostgreSQL, see storage/keys)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from storage.db import Database
from storage.keys import next_key
from storage.models import Counter


async def test_case_keys_count_up_from_one(db: Database) -> None:
    async with db.transaction() as s:
        assert await next_key(s, "CASE") == "CASE-1"
        assert await next_key(s, "CASE") == "CASE-2"
        assert await next_key(s, "ENG") == "ENG-1"
    async with db.read() as s:
        counters = {c.name: c.value for c in (await s.scalars(select(Counter))).all()}
    assert counters == ({"ENG": 1} if db.dialect == "postgresql" else {"CASE": 2, "ENG": 1})


async def test_concurrent_key_allocation_gives_distinct_keys(db: Database) -> None:
    async def one() -> str:
        async with db.transaction() as s:
            return await next_key(s, "CASE")

    keys = await asyncio.gather(*(one() for _ in range(10)))
    assert sorted(keys, key=lambda k: int(k.split("-")[1])) == [f"CASE-{i}" for i in range(1, 11)]


async def test_a_failed_transaction_leaves_no_gap(db: Database) -> None:
    """ENG and KB keys are gap-free (case keys may skip one on PostgreSQL: a sequence)."""
    try:
        async with db.transaction() as s:
            await next_key(s, "ENG")
            raise RuntimeError("crash mid-use-case")
    except RuntimeError:
        pass
    async with db.transaction() as s:
        assert await next_key(s, "ENG") == "ENG-1"
