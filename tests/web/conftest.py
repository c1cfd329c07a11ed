"""A casebot with its dashboard served on a real HTTP server (a free port), driven by
dialogs in chat and by an HTTP client (or a real browser) on the web side."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from adapters.web import WebServer
from entrypoints import dashboard
from storage.db import Database
from tests.harness import Dialog

ENV = {"CASEBOT_SECRET_KEY": "test-dashboard-key"}
LINK = re.compile(r"https?://\S+")


def browser() -> aiohttp.ClientSession:
    """An HTTP client that keeps cookies as a browser does (also from 127.0.0.1)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


@dataclass
class Site:
    d: Dialog
    server: WebServer

    @property
    def url(self) -> str:
        return self.server.url

    async def link(self, who: str, command: str) -> str:
        """The link ``who`` is given in chat for ``command``."""
        reply = await self.d.say(who, command)
        assert reply.ok, reply.text
        found = LINK.search(reply.text)
        assert found, reply.text
        return found.group(0)

    async def signed_in(self, who: str) -> aiohttp.ClientSession:
        """An HTTP client with ``who``'s dashboard session."""
        client = browser()
        link = await self.link(who, "/case dashboard")
        async with client.get(link) as page:
            html = await page.text()
        token = re.search(r'name="t" value="([^"]+)"', html)
        assert token, html
        async with client.post(self.url + "/dashboard/sign-in", data={"t": token.group(1)}) as r:
            assert r.status == 200 and r.url.path == "/dashboard", await r.text()
        return client


async def seed(d: Dialog) -> None:
    """Two accounts' cases: CASE-1 (globex, gus) assigned to alice (routing), with an internal note;
    CASE-2 (initech, ivy) waiting for triage."""
    assert (await d.say("gus", "/case open Webhooks fail with 500")).ok
    await d.advance("20m")
    assert (await d.say("alice", "/case note CASE-1 Customer is on the legacy plan")).ok
    assert (await d.say("alice", "/case reply CASE-1 Looking into it now")).ok
    assert (await d.say("ivy", "/case open Invoice shows the wrong VAT")).ok
    await d.advance("20m")


@pytest.fixture
async def site(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Site]:
    path = tmp_path / "casebot.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    d = await Dialog.start(db)
    server = WebServer("127.0.0.1", 0)
    assert dashboard.wanted(d.config, ENV)
    dashboard.mount(server, d.bot, ENV)
    await server.start()
    await seed(d)
    try:
        yield Site(d, server)
    finally:
        await server.stop()
        await d.bot.close()
        await db.dispose()
