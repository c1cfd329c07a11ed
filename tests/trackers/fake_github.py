"""A fake GitHub REST API on 127.0.0.1, for the issues casebot touches.

It answers with GitHub's shapes (an issue object as ``GET /repos/{owner}/{repo}/issues/
{number}`` returns it, label lists as the label endpoints do), checks the token, keeps
the issues it was asked to make, and records every call. ``down`` makes every call a
503; ``rate_limit(times)`` answers 403 with ``X-RateLimit-Remaining: 0`` as GitHub's
primary limit does. ``close``/``reopen`` change an issue the way an engineer would on
github.com and return the ``issues`` webhook payload GitHub would send.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BODY = web.RequestKey("body", object)

TOKEN = "ghp_fake_token"
STAMP = "2026-11-02T09:00:00Z"


@dataclass
class Call:
    verb: str
    path: str
    body: Any
    auth: str


@dataclass
class FakeGitHub:
    owner: str = "acme"
    repo: str = "widgets"
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    down: bool = False
    limited: int = 0
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(101))
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> FakeGitHub:
        app = web.Application()
        base = "/repos/{owner}/{repo}/issues"
        app.router.add_post(base, self._create)
        app.router.add_get(base + "/{number}", self._get)
        app.router.add_patch(base + "/{number}", self._update)
        app.router.add_post(base + "/{number}/labels", self._add_labels)
        app.router.add_delete(base + "/{number}/labels/{name}", self._remove_label)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what engineers do on github.com ---------------------------------------------------

    def add_issue(self, number: int, title: str, state: str = "open") -> dict[str, Any]:
        issue = self._issue(number, title, "", [])
        issue["state"] = state
        self.issues[number] = issue
        return issue

    def close(self, number: int, reason: str = "completed") -> dict[str, Any]:
        issue = self.issues[number]
        issue.update(state="closed", state_reason=reason, closed_at=STAMP)
        return self.event("closed", number)

    def reopen(self, number: int) -> dict[str, Any]:
        issue = self.issues[number]
        issue.update(state="open", state_reason="reopened", closed_at=None)
        return self.event("reopened", number)

    def event(self, action: str, number: int) -> dict[str, Any]:
        """The ``issues`` webhook payload GitHub sends for ``action``."""
        return {
            "action": action,
            "issue": dict(self.issues[number]),
            "repository": {
                "id": 1296269,
                "name": self.repo,
                "full_name": f"{self.owner}/{self.repo}",
                "private": True,
                "html_url": f"https://github.com/{self.owner}/{self.repo}",
            },
            "sender": {"login": "octocat", "id": 1, "type": "User"},
        }

    def labels_of(self, number: int) -> list[str]:
        return [lb["name"] for lb in self.issues[number]["labels"]]

    def rate_limit(self, times: int = 1) -> None:
        self.limited = times

    def of(self, verb: str, suffix: str = "") -> list[Call]:
        return [c for c in self.calls if c.verb == verb and c.path.endswith(suffix)]

    # -- the API ---------------------------------------------------------------------------

    async def _gate(self, request: web.Request) -> web.Response | None:
        body: Any = None
        if request.can_read_body:
            body = await request.json()
        auth = request.headers.get("Authorization", "")
        self.calls.append(Call(request.method, request.path, body, auth))
        if self.down:
            return web.json_response({"message": "Service Unavailable"}, status=503)
        if self.limited:
            self.limited -= 1
            return web.json_response(
                {
                    "message": "API rate limit exceeded",
                    "documentation_url": "https://docs.github.com",
                },
                status=403,
                headers={
                    "X-RateLimit-Limit": "5000",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(time.time()) + 30),
                },
            )
        if auth not in (f"token {TOKEN}", f"Bearer {TOKEN}"):
            return web.json_response({"message": "Bad credentials"}, status=401)
        if (request.match_info["owner"], request.match_info["repo"]) != (self.owner, self.repo):
            return web.json_response({"message": "Not Found"}, status=404)
        request[BODY] = body
        return None

    def _found(self, request: web.Request) -> dict[str, Any] | None:
        return self.issues.get(int(request.match_info["number"]))

    async def _create(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        body = request[BODY]
        if not isinstance(body, dict) or not body.get("title"):
            return web.json_response({"message": "Validation Failed"}, status=422)
        number = next(self._numbers)
        issue = self._issue(number, body["title"], body.get("body") or "", body.get("labels") or [])
        self.issues[number] = issue
        return web.json_response(issue, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        issue = self._found(request)
        if issue is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(issue)

    async def _update(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        issue = self._found(request)
        if issue is None:
            return web.json_response({"message": "Not Found"}, status=404)
        body = request[BODY] or {}
        if "labels" in body:
            issue["labels"] = [self._label(n) for n in body["labels"]]
        for key in ("title", "body", "state"):
            if key in body:
                issue[key] = body[key]
        return web.json_response(issue)

    async def _add_labels(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        issue = self._found(request)
        if issue is None:
            return web.json_response({"message": "Not Found"}, status=404)
        have = {lb["name"] for lb in issue["labels"]}
        for name in (request[BODY] or {}).get("labels", []):
            if name not in have:
                issue["labels"].append(self._label(name))
        return web.json_response(issue["labels"])

    async def _remove_label(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        issue = self._found(request)
        name = request.match_info["name"]
        if issue is None or name not in {lb["name"] for lb in issue["labels"]}:
            return web.json_response({"message": "Label does not exist"}, status=404)
        issue["labels"] = [lb for lb in issue["labels"] if lb["name"] != name]
        return web.json_response(issue["labels"])

    # -- shapes ----------------------------------------------------------------------------

    def _label(self, name: str) -> dict[str, Any]:
        return {
            "id": abs(hash(name)) % 10**9,
            "node_id": "LA_fake",
            "url": f"https://api.github.com/repos/{self.owner}/{self.repo}/labels/{name}",
            "name": name,
            "description": None,
            "color": "ededed",
            "default": False,
        }

    def _issue(self, number: int, title: str, body: str, labels: list[Any]) -> dict[str, Any]:
        api = f"https://api.github.com/repos/{self.owner}/{self.repo}/issues/{number}"
        return {
            "id": 1000 + number,
            "node_id": f"I_fake{number}",
            "url": api,
            "repository_url": f"https://api.github.com/repos/{self.owner}/{self.repo}",
            "labels_url": api + "/labels{/name}",
            "comments_url": api + "/comments",
            "events_url": api + "/events",
            "html_url": f"https://github.com/{self.owner}/{self.repo}/issues/{number}",
            "number": number,
            "state": "open",
            "state_reason": None,
            "title": title,
            "body": body,
            "user": {"login": "casebot[bot]", "id": 2, "type": "Bot"},
            "labels": [self._label(lb if isinstance(lb, str) else lb["name"]) for lb in labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "comments": 0,
            "created_at": STAMP,
            "updated_at": STAMP,
            "closed_at": None,
            "author_association": "NONE",
        }


def dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()
