"""Fixtures for the scale tests: a PostgreSQL database of this package's own (so worker
processes never meet the rest of the suite's data), private Redis servers that tests may
stop and restart, and the scale configuration."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.config import Config, load_config
from storage.db import Database
from tests.conftest import fresh_pg_database, open_database, truncate_pg

CONFIG_PATH = Path(__file__).with_name("casebot-scale.yml")


def scale_config() -> Config:
    return load_config(CONFIG_PATH)


@pytest.fixture
def config() -> Config:
    return scale_config()


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scale_pg() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test module."""
    with fresh_pg_database("casebot_scale") as url:
        yield url


truncate = truncate_pg


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def sdb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: SQLite, then this package's PostgreSQL database."""
    database = await open_database(request, tmp_path, "scale_pg")
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def pg(scale_pg: str) -> AsyncIterator[Database]:
    truncate(scale_pg)
    database = Database(scale_pg)
    try:
        yield database
    finally:
        await database.dispose()


# -- Redis ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server on a loopback port, which a test may stop and restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI"):
                pytest.fail("CI must run the Redis tests: redis-server is not installed")
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Gone at once, as in a crash (no goodbye to the clients)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- waiting without sleeping blindly ---------------------------------------------------------


async def until(
    check: Callable[[], Awaitable[bool]], *, within: float, what: str, every: float = 0.05
) -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(every)
