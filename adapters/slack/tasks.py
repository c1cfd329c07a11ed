"""Work that runs after Slack has been answered.

Slack wants an answer within 3 seconds whatever the core is doing, so listeners
acknowledge first and hand the rest to ``Background``. It keeps a reference to every
task (asyncio only keeps weak ones), logs failures instead of losing them, and lets
tests and shutdown wait until everything started has finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def spawn(
        self, work: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("slack background work failed", exc_info=task.exception())

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until no work is left (work may start more work; that is waited for too)."""
        while self._tasks:
            await self._idle.wait()

    async def close(self, grace: float = 5.0) -> None:
        """Let running work finish (briefly), then cancel what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
