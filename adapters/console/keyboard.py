"""Lines from the keyboard without holding up the event loop or the exit.

``input()`` blocks; run in asyncio's default executor, a pending ``input()`` kept
``asyncio.run`` from returning, so Ctrl-C waited for Enter. Here one daemon thread
reads standard input at the file-descriptor level (``os.read``: no Python buffer lock
a finalizing interpreter would wait for) and the loop only awaits a future, so Ctrl-C
(SIGINT) stops casebot at once and the reading thread ends with the process. The
terminal's own line editing (backspace, Ctrl-U) still works; the thread is hand-written
because it is the whole of what is needed, where a prompt library would take over the
terminal and refuse piped input (``casebot run < script``).
"""

from __future__ import annotations

import asyncio
import codecs
import os
import queue
import sys
import threading
from collections.abc import Callable


class StdinLines:
    """``readline`` on standard input's file descriptor: the prompt is written, a line
    is read. A standard input without one (a test runner's) is read as a file."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def __call__(self, prompt: str) -> str:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            line = sys.stdin.readline()
            if not line:
                raise EOFError from None
            return line.rstrip("\r\n")
        while "\n" not in self._pending:
            chunk = os.read(fd, 4096)
            if not chunk:
                if self._pending:
                    line, self._pending = self._pending, ""
                    return line
                raise EOFError
            self._pending += self._decoder.decode(chunk)
        line, self._pending = self._pending.split("\n", 1)
        return line.rstrip("\r")


class Keyboard:
    def __init__(self, read: Callable[[str], str] | None = None) -> None:
        self._read = read or StdinLines()
        self._asks: queue.SimpleQueue[tuple[str, asyncio.Future[str]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def ask(self, prompt: str) -> str:
        """The next line typed after ``prompt`` (EOFError at the end of input)."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._serve, name="casebot-keyboard", daemon=True
            )
            self._thread.start()
        self._asks.put((prompt, future))
        return await future

    def _serve(self) -> None:
        while True:
            prompt, future = self._asks.get()
            try:
                line = self._read(prompt)
            except Exception as exc:  # noqa: BLE001 - EOFError, or the terminal went away
                _hand(future, _fail, exc)
                continue
            _hand(future, _done, line)


def _hand(future: asyncio.Future[str], fn: Callable[..., None], value: object) -> None:
    try:
        future.get_loop().call_soon_threadsafe(fn, future, value)
    except RuntimeError:  # the loop has closed: casebot is leaving
        pass


def _done(future: asyncio.Future[str], line: str) -> None:
    if not future.done():
        future.set_result(line)


def _fail(future: asyncio.Future[str], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
