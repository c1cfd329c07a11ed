"""What an operator scrapes: ``/readyz`` and ``/metrics`` beside ``/healthz``."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.web import WebServer
from entrypoints import operators
from storage.db import Database
from tests.harness import Dialog
from tests.web.conftest import seed

ENV = {"CASEBOT_HTTP_PORT": "0"}


@pytest.fixture
async def served(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[tuple[Dialog, str]]:
    path = tmp_path / "casebot.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    d = await Dialog.start(db)
    server = WebServer("127.0.0.1", 0)
    assert operators.wanted(d.config, ENV)
    operators.mount(server, d.bot, ENV)
    await server.start()
    try:
        yield d, server.url
    finally:
        await server.stop()
        await d.bot.close()
        await db.dispose()


def test_operators_are_served_when_the_process_has_a_port() -> None:
    assert not operators.wanted(None, {})  # type: ignore[arg-type]
    assert not operators.wanted(None, {"CASEBOT_HTTP_PORT": "8080", "CASEBOT_OPERATORS": "off"})  # type: ignore[arg-type]


async def test_ready_when_the_database_answers(served: tuple[Dialog, str]) -> None:
    _, url = served
    async with aiohttp.ClientSession() as client:
        async with client.get(url + "/readyz") as r:
            assert r.status == 200
            assert await r.json() == {"ok": True, "database": {"ok": True}}


async def test_metrics_count_cases_and_the_outbox(served: tuple[Dialog, str]) -> None:
    d, url = served
    await seed(d)
    async with aiohttp.ClientSession() as client:
        async with client.get(url + "/metrics") as r:
            assert r.headers["Content-Type"].startswith("text/plain")
            text = await r.text()
    lines = set(text.splitlines())
    assert 'casebot_cases{state="assigned"} 2.0' in lines
    assert any(
        line.startswith('casebot_outbox_rows{platform="console",state="sent"}') for line in lines
    )
    assert "casebot_timers_overdue 0.0" in lines
    assert "casebot_outbox_oldest_pending_seconds 0.0" in lines
