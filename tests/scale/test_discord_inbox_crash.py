"""``kill -9`` of ``casebot run --platform discord`` in the middle of a burst of
``/case open`` interactions, then a restart on the same database: every interaction
casebot acknowledged (deferred) opens exactly one case and is answered, through its own
token, with its case — on SQLite and on PostgreSQL, with real processes and a fake
Discord (REST and gateway) that speaks the real protocol.

The customer opens about 30 cases a second; the process is killed two seconds in, while
the burst goes on (Discord has no session to send those to: nothing was promised). A
second process starts a second later, opens a new gateway session (no replay), and
takes over what the first had accepted but not finished once its lease (1 s) runs out.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from adapters.discord.durable import LATE
from bot.config import load_config
from storage import inbox as inbox_rows
from storage.db import Database
from storage.inbox import Store
from storage.models import Case
from tests.discord.conftest import APPS, CONFIG, GUILD, ROSA, build_server
from tests.discord.fake_discord import LOADING, FakeDiscord, InteractionLog, displayed
from tests.scale.conftest import truncate, until

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RATE = 30.0  # interactions per second
KILL_AFTER = 2.0  # seconds into the burst
BURST = 4.0  # seconds


class Casebot:
    """One ``casebot run --platform discord`` process."""

    def __init__(self, url: str, fake: FakeDiscord, workdir: Path) -> None:
        self.url, self.fake, self.workdir = url, fake, workdir
        self.proc: asyncio.subprocess.Process | None = None
        self.runs = 0

    async def start(self) -> None:
        self.runs += 1
        sessions = len(self.fake.identifies)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": self.fake.token,
            "DISCORD_API_BASE": self.fake.api_base,
            "DISCORD_GATEWAY_URL": self.fake.gateway_url,
            "CASEBOT_INBOX_LEASE": "1",
            "CASEBOT_OUTBOX_LEASE": "2",
            "CASEBOT_POLL_INTERVAL": "0.2",
            "CASEBOT_KB_DIR": str(self.workdir / "no-kb"),
        }
        err = (self.workdir / f"casebot-{self.runs}.err").open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "entrypoints.cli",
            "run",
            "--platform",
            "discord",
            "--config",
            str(CONFIG),
            "--database-url",
            self.url,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=err,
        )
        deadline = time.monotonic() + 90
        # Ready once its gateway session is up and /case is registered in the server.
        while not (len(self.fake.identifies) > sessions and self._connected()):
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"casebot did not start:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.1)

    def _connected(self) -> bool:
        live = [c for c in self.fake.connections if not c.ws.closed]
        return bool(live) and bool(self.fake.commands.get(GUILD))

    def log(self) -> str:
        path = self.workdir / f"casebot-{self.runs}.err"
        return path.read_text(errors="replace") if path.exists() else ""

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    url: str = request.getfixturevalue("scale_pg")
    truncate(url)
    return url


async def burst(fake: FakeDiscord, bot: Casebot) -> dict[str, InteractionLog]:
    """Every ``/case open`` sent while a session was there to receive it, by title."""
    sent: dict[str, InteractionLog] = {}
    total = int(RATE * BURST)
    start = time.monotonic()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, start + i / RATE - time.monotonic()))
        if not any(not c.ws.closed for c in fake.connections):
            return  # the process is gone: Discord would tell the person it failed
        title = f"Crash case {i}"
        payload = fake.command_interaction(ROSA, APPS, "open", {"title": title})
        try:
            await fake.dispatch("INTERACTION_CREATE", payload)
        except (ConnectionError, aiohttp.ClientError):
            return  # the session closed under it: never delivered
        sent[title] = fake.interactions[int(payload["id"])]

    async def killer() -> None:
        await asyncio.sleep(KILL_AFTER)
        await bot.kill()

    await asyncio.gather(killer(), *(one(i) for i in range(total)))
    return sent


def names(text: str, title: str) -> bool:
    """``text`` is about the case titled ``title`` ("Crash case 1", not "… 10")."""
    return re.search(rf": {re.escape(title)}\b", text) is not None


def answered(log: InteractionLog) -> bool:
    """The deferred answer was edited into the case's words (no longer "thinking")."""
    original = log.original
    return original is not None and not original.get("flags", 0) & LOADING and bool(log.text())


async def test_kill_9_mid_burst_answers_every_deferred_interaction_once(
    database_url: str, tmp_path: Path
) -> None:
    fake = FakeDiscord()
    await fake.start()
    build_server(fake, load_config(CONFIG))
    bot = Casebot(database_url, fake, tmp_path)
    db = Database(database_url)
    try:
        await bot.start()
        sent = await burst(fake, bot)
        await asyncio.sleep(1.0)
        await bot.start()
        deferred = {title: log for title, log in sent.items() if log.deferred}

        async def titles() -> Counter[str]:
            async with db.read() as s:
                return Counter((await s.scalars(select(Case.title))).all())

        store = Store(db)

        async def settled() -> bool:
            opened = await titles()
            rows = await store.run(inbox_rows.states)
            return all(opened[t] >= 1 and answered(log) for t, log in deferred.items()) and {
                row.state for row in rows
            } == {"done"}

        await until(settled, within=120, what="every accepted interaction handled")
        opened = await titles()
        taken = {  # the interactions the second process took over
            str(row.payload["args"]["title"])
            for row in await store.run(inbox_rows.states)
            if row.attempts > 1
        }
        await store.dispose()
    finally:
        await bot.stop()
        await db.dispose()
        await fake.stop()

    assert 10 <= len(deferred) < RATE * BURST, "the kill fell inside the burst"
    assert taken, "the second process took over what the first had accepted"
    # Exactly one case per acknowledged interaction, and never two for any.
    assert all(opened[t] == 1 for t in deferred), {t: opened[t] for t in deferred if opened[t] != 1}
    assert max(opened.values()) == 1
    # Each answered through its own token with its own case, in one ephemeral message
    # (an edit of the deferred answer: answering twice — the window of a process that
    # died after answering, before marking the row done — edits in the same words).
    for title, log in deferred.items():
        assert names(log.text(), title) and log.text().startswith("Opened CASE-"), log.text()
        assert log.followups == [] and log.ephemeral()
        edits = [c for c in fake.calls if c.method == "PATCH" and log.token in c.path]
        assert 1 <= len(edits) <= 2 and len({str(c.body) for c in edits}) == 1
    # One the first process wrote down but died before deferring: Discord told the person
    # it failed, and its token no longer answers; the case it opened is told by DM.
    late = [displayed(m["content"]) for m in fake.dms(ROSA) if LATE in m["content"]]
    for title in set(opened) - set(deferred):
        assert [dm for dm in late if names(dm, title)], (title, late)
