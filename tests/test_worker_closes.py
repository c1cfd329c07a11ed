"""``casebot worker`` closes what its delivery platforms asked it to close: the
adapters an ``outbound`` hook starts hand back their closers (an HTTP session …), and
the worker runs them once it has stopped delivering, even when another one fails."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from bot.config import load_config
from bot.messages import Message
from bot.ports import DeliveryContext, PlatformRef
from entrypoints.bootstrap import Casebot
from entrypoints.worker import Closer, run_worker

CONFIG = Path(__file__).with_name("casebot-test.yml")


class Outlet:
    name = "slack"

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        return None


async def test_the_worker_runs_the_closers_its_platforms_returned(
    tmp_path: Path, sqlite_template: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "w.db")
    stop = asyncio.Event()
    closed: list[str] = []

    async def broken() -> None:
        closed.append("broken")
        raise RuntimeError("the session was already gone")

    async def session() -> None:
        closed.append("session")

    async def outbound(bot: Casebot) -> list[Closer]:
        bot.register_adapter(Outlet())
        return [broken, session]

    async def setup(bot: Casebot) -> None:
        assert closed == []  # nothing is closed while the worker works
        stop.set()

    await asyncio.wait_for(
        run_worker(
            load_config(CONFIG),
            f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
            None,
            outbound=outbound,
            setup=setup,
            stop=stop,
        ),
        30,
    )

    assert closed == ["broken", "session"]
