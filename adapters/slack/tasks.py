"""Work that runs after Slack has been answered.

Slack wants an answer within 3 seconds whatever the core is doing, so listeners
acknowledge first and hand the rest to ``Background``. It keeps a reference to every
task (asyncio only keeps weak ones), logs failures instead of losing them, and lets
tests and shutdown wait until everything started has finished.

In HTTP mode the listeners run on the front door's thread (``adapters.web.front``), not
on the core's loop: ``spawn`` from there hands the work over to the loop it is
:meth:`bound <Background.bind>` to, where it runs like any other.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Handed over from another thread and not started yet (counted as busy).
        self._coming = 0
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the work runs on (the core's), whichever thread spawns it."""
        self._loop = loop

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str | None = None) -> None:
        loop = self._loop
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is None or here is loop:
            self._start(work, name)
            return
        with self._lock:
            self._coming += 1
        loop.call_soon_threadsafe(self._arrived, work, name)

    def _arrived(self, work: Coroutine[Any, Any, Any], name: str | None) -> None:
        self._start(work, name)
        with self._lock:
            self._coming -= 1

    def _start(self, work: Coroutine[Any, Any, Any], name: str | None) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks and not self._coming:
            self._idle.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("slack background work failed", exc_info=task.exception())

    @property
    def busy(self) -> int:
        return len(self._tasks) + self._coming

    async def idle(self) -> None:
        """Wait until no work is left (work may start more work; that is waited for too)."""
        while self._tasks or self._coming:
            if self._tasks:
                await self._idle.wait()
            else:  # handed over from the front door's thread, about to start here
                await asyncio.sleep(0.001)

    async def close(self, grace: float = 5.0) -> None:
        """Let running work finish (briefly), then cancel what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
