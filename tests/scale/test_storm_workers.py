"""A storm delivered by two ``casebot worker`` processes at once: the team gets one
triage digest page at a time, not one per worker — pages of 20, 20, then the rest, and
no case on two pages (folds for a team take turns under a PostgreSQL advisory lock)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.exchange import Context
from entrypoints.bootstrap import Casebot
from storage.db import Database
from storage.models import OutboxRow
from tests.scale.cluster import Cluster, FakePlatform, scalar
from tests.scale.conftest import RedisServer, scale_config, until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


async def test_two_workers_fill_one_digest_page_at_a_time(
    pg: Database, scale_pg: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    platform = FakePlatform()
    await platform.start()
    cluster = Cluster(scale_pg, platform, tmp_path, redis_server.url)
    bot = await Casebot.create(scale_config(), scale_pg, migrate=False)
    try:
        await cluster.start("w1", "w2")
        # Cleo opens 50 cases in a burst, while both workers deliver.
        for n in range(50):
            ctx = Context(platform="slack", user_id="U0CLEO", channel_id="D0CLEO",
                          event_id=uuid.uuid4().hex)  # fmt: skip
            reply = await bot.commands.run(ctx, f"open Webhook call {n} fails with 500")
            assert reply.ok, reply.text

        async def quiet() -> bool:
            return (
                await scalar(
                    pg, "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')"
                )
                == 0
            )

        await until(quiet, within=90, what="every notification delivered or folded")
    finally:
        await cluster.stop()
        await bot.close()
        await platform.stop()

    async with pg.read() as s:
        rows = (await s.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
    pages = [r.message["digest"]["cases"] for r in rows if r.kind == "triage_digest"]
    folded = {r.case_key for r in rows if r.kind == "triage_alert" and r.state == "folded"}
    listed = [e["key"] for page in pages for e in page]
    assert len(listed) == len(set(listed))  # no case on two pages
    assert folded <= set(listed)
    assert len(listed) >= 40  # a storm: nearly every case was folded
    assert [len(p) for p in pages] == [20] * (len(listed) // 20) + (
        [len(listed) % 20] if len(listed) % 20 else []
    )
    assert set(cluster.exit_codes().values()) == {0}
