"""Worker processes and the fake platform they deliver to, for the multi-process tests."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import text

from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakePlatform:
    """An HTTP platform on 127.0.0.1 that records what it accepts; it can answer 429
    (with Retry-After) and 500 at random, and take its time."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    latency: float = 0.0
    retry_after: float = 0.2
    seed: int = 5
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (title, worker)
    answered: Counter[int] = field(default_factory=Counter)
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> None:
        rng = random.Random(self.seed)

        async def post(request: web.Request) -> web.Response:
            body = await request.json()
            if self.latency:
                await asyncio.sleep(self.latency)
            roll = rng.random()
            if roll < self.rate_429:
                self.answered[429] += 1
                return web.json_response(
                    {"ok": False}, status=429, headers={"Retry-After": str(self.retry_after)}
                )
            if roll < self.rate_429 + self.rate_500:
                self.answered[500] += 1
                return web.json_response({"ok": False}, status=500)
            self.answered[200] += 1
            self.accepted.append((body["title"], body["worker"]))
            return web.json_response({"ok": True, "id": str(len(self.accepted))})

        app = web.Application()
        app.router.add_post("/post", post)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def titles(self) -> Counter[str]:
        return Counter(t for t, _ in self.accepted)

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.titles().values() if n > 1)


@dataclass
class Worker:
    name: str
    proc: asyncio.subprocess.Process
    out: Path
    err: Path
    port: int = 0

    def log(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""


class Cluster:
    """Starts ``python -m tests.scale.worker_main`` processes and waits on them."""

    def __init__(
        self,
        db_url: str,
        platform: FakePlatform,
        workdir: Path,
        redis_url: str | None = None,
        **env: str,
    ) -> None:
        self.db_url = db_url
        self.platform = platform
        self.workdir = workdir
        self.redis_url = redis_url
        self.env = {
            "CASEBOT_TIMER_LEASE": "2",
            "CASEBOT_OUTBOX_LEASE": "2",
            "CASEBOT_OUTBOX_BACKOFF": "0.05",
            "CASEBOT_OUTBOX_BACKOFF_CAP": "0.3",
            "CASEBOT_POLL_INTERVAL": "0.2",
            **env,
        }
        self.workers: dict[str, Worker] = {}

    async def start(self, *names: str, within: float = 60, **options: str | float | bool) -> None:
        for name in names:
            args = [
                sys.executable,
                "-m",
                "tests.scale.worker_main",
                "--db",
                self.db_url,
                "--platform",
                self.platform.url,
                "--id",
                name,
            ]
            if self.redis_url:
                args += ["--redis", self.redis_url]
            for key, value in options.items():
                flag = "--" + key.replace("_", "-")
                if value is True:
                    args.append(flag)
                elif value not in (False, None):
                    args += [flag, str(value)]
            out, err = self.workdir / f"{name}.out", self.workdir / f"{name}.err"
            env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
            with out.open("wb") as stdout, err.open("wb") as stderr:
                proc = await asyncio.create_subprocess_exec(
                    *args, cwd=ROOT, env=env, stdout=stdout, stderr=stderr
                )
            self.workers[name] = Worker(name, proc, out, err)
        deadline = time.monotonic() + within
        for name in names:
            w = self.workers[name]
            while True:
                lines = w.out.read_text().splitlines() if w.out.exists() else []
                ready = [line for line in lines if line.startswith("READY")]
                if ready:
                    w.port = int(ready[0].split()[1])
                    break
                if w.proc.returncode is not None:
                    raise AssertionError(f"worker {name} exited early:\n{w.log()[-3000:]}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"worker {name} not ready:\n{w.log()[-3000:]}")
                await asyncio.sleep(0.05)

    async def kill(self, name: str) -> None:
        """``kill -9``: no goodbye, no cleanup."""
        w = self.workers[name]
        w.proc.send_signal(signal.SIGKILL)
        await w.proc.wait()

    def running(self, name: str) -> bool:
        return self.workers[name].proc.returncode is None

    async def stop(self, within: float = 20) -> None:
        """SIGTERM everyone still running and wait for a clean exit."""
        for w in self.workers.values():
            if w.proc.returncode is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in self.workers.values():
            try:
                await asyncio.wait_for(w.proc.wait(), within)
            except TimeoutError:
                w.proc.kill()
                await w.proc.wait()

    def exit_codes(self) -> dict[str, int | None]:
        return {n: w.proc.returncode for n, w in self.workers.items()}


async def prepare(db: Database) -> None:
    """The table the probe timers write their effect into."""
    async with db.transaction() as s:
        await s.execute(
            text(
                "CREATE TABLE IF NOT EXISTS scale_effects ("
                "id BIGSERIAL PRIMARY KEY, n INTEGER NOT NULL, "
                "worker TEXT NOT NULL)"
            )
        )
        await s.execute(text("TRUNCATE scale_effects"))


async def add_probes(db: Database, count: int, *, spread: float = 0.0, start: int = 0) -> None:
    """``count`` probe timers, due now (or spread over ``spread`` seconds from now)."""
    now = datetime.now(UTC)
    rows = [
        {"n": start + i, "due": now + timedelta(seconds=spread * i / max(count, 1)), "now": now}
        for i in range(count)
    ]
    async with db.transaction() as s:
        await s.execute(
            text(
                "INSERT INTO timers (kind, due_at, payload, state, created_at, attempts) "
                "VALUES ('scale_probe', :due, json_build_object('n', :n), 'pending', :now, 0)"
            ),
            rows,
        )


async def scalar(db: Database, sql: str, **params: object) -> int:
    async with db.read() as s:
        return int((await s.execute(text(sql), params)).scalar_one())


async def effects(db: Database) -> Counter[int]:
    async with db.read() as s:
        return Counter(
            int(n) for n in (await s.execute(text("SELECT n FROM scale_effects"))).scalars()
        )
