"""Fixtures for the tracker sync: the real core (SQLite, then PostgreSQL) with its GitHub
or Jira adapter pointed at an in-process fake of that tracker's REST API, and the
webhook surface mounted on a real :class:`WebServer`, so deliveries arrive as signed
HTTP requests exactly as GitHub and Jira send them.

Time is the core's FakeClock: tracker calls are retried when the test moves the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from adapters.trackers.github import GitHubTracker
from adapters.trackers.jira import JiraTracker
from adapters.web import WebServer
from bot.clock import FakeClock
from bot.config.integrations import Tracker
from entrypoints import trackers as surface
from entrypoints.bootstrap import Casebot
from storage.db import Database
from tests.harness import Dialog, RecordingPlatform, load_test_config
from tests.trackers.fake_github import TOKEN, FakeGitHub
from tests.trackers.fake_jira import EMAIL, JIRA_TOKEN, FakeJira

GITHUB_SECRET = "gh-webhook-secret"
JIRA_SECRET = "jira-webhook-secret"


@dataclass
class Synced:
    """A dialog whose ENG issues live in a tracker, and the tracker's webhook door."""

    d: Dialog
    server: WebServer
    http: aiohttp.ClientSession

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], query: str = ""
    ) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            self.server.url + path + query, data=body, headers=headers
        ) as resp:
            status, data = resp.status, await resp.json()
        await self.d.drain()
        return status, data

    async def github(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        delivery: str | None = None,
        secret: str = GITHUB_SECRET,
    ) -> tuple[int, dict[str, Any]]:
        """A delivery as GitHub makes it: raw JSON signed with HMAC-SHA256."""
        body = json.dumps(payload).encode()
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={digest}",
            "User-Agent": "GitHub-Hookshot/fake",
        }
        return await self.post("/webhooks/github", body, headers)

    async def jira(
        self, payload: dict[str, Any], *, delivery: str | None = None, secret: str = JIRA_SECRET
    ) -> tuple[int, dict[str, Any]]:
        """A Jira Cloud webhook with a secret: ``X-Hub-Signature: sha256=<HMAC>``."""
        body = json.dumps(payload).encode()
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Atlassian-Webhook-Identifier": delivery or str(uuid.uuid4()),
            "X-Hub-Signature": f"sha256={digest}",
        }
        return await self.post("/webhooks/jira", body, headers)


async def synced(
    db: Database, tracker: Tracker, adapter: Any, env: dict[str, str]
) -> AsyncIterator[Synced]:
    config = load_test_config()
    config.tracker = tracker
    clock = FakeClock()
    bot = Casebot(config, db, clock=clock, tracker=adapter)
    await bot.sync_config()
    platform = RecordingPlatform()
    bot.register_adapter(platform)
    assert bot.tracker_sync is not None
    await bot.tracker_sync.ensure_reconciler()
    server = WebServer("127.0.0.1", 0)
    surface.mount(server, bot, env)
    await server.start()
    async with aiohttp.ClientSession() as http:
        try:
            yield Synced(Dialog(bot, clock, platform), server, http)
        finally:
            await server.stop()
            await bot.close()


@pytest.fixture
async def gh() -> AsyncIterator[FakeGitHub]:
    fake = await FakeGitHub().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def jira_fake() -> AsyncIterator[FakeJira]:
    fake = await FakeJira().start()
    try:
        yield fake
    finally:
        await fake.stop()


def github_tracker(**options: Any) -> Tracker:
    return Tracker(kind="github", repo="acme/widgets", **options)


@pytest.fixture
async def s(db: Database, gh: FakeGitHub) -> AsyncIterator[Synced]:
    tracker = github_tracker()
    adapter = GitHubTracker(tracker, TOKEN, gh.url)
    async for synced_ in synced(db, tracker, adapter, {"GITHUB_WEBHOOK_SECRET": GITHUB_SECRET}):
        yield synced_


@pytest.fixture
async def sc(db: Database, gh: FakeGitHub) -> AsyncIterator[Synced]:
    """GitHub with ``comments: true`` and a label that means in progress."""
    tracker = github_tracker(comments=True, statuses={"in progress": "in_progress"})
    adapter = GitHubTracker(tracker, TOKEN, gh.url)
    async for synced_ in synced(db, tracker, adapter, {"GITHUB_WEBHOOK_SECRET": GITHUB_SECRET}):
        yield synced_


@pytest.fixture
async def sj(db: Database, jira_fake: FakeJira) -> AsyncIterator[Synced]:
    tracker = Tracker(kind="jira", url=jira_fake.url, project="ENGX", issue_type="Bug")
    adapter = JiraTracker(tracker, EMAIL, JIRA_TOKEN)
    async for synced_ in synced(db, tracker, adapter, {"JIRA_WEBHOOK_SECRET": JIRA_SECRET}):
        yield synced_
