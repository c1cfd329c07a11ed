"""A fake Jira Cloud REST API v3 on 127.0.0.1, for the issue calls casebot makes.

``POST /rest/api/3/issue`` answers 201 ``{id, key, self}``; ``GET …/issue/{key}`` the
issue with the fields asked for; ``PUT …/issue/{key}`` applies ``update.labels``
add/remove operations and ``fields``, answering 204 — as Jira does. Basic auth (email
and API token) is checked; every call is recorded. ``transition`` moves an issue the
way an engineer's board does and returns the ``jira:issue_updated`` webhook payload.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BODY = web.RequestKey("body", object)

EMAIL = "casebot@example.com"
JIRA_TOKEN = "jira-api-token"
CATEGORIES = {
    "To Do": ("new", "To Do", 2),
    "In Progress": ("indeterminate", "In Progress", 4),
    "In Review": ("indeterminate", "In Progress", 4),
    "Done": ("done", "Done", 3),
}


@dataclass
class Call:
    verb: str
    path: str
    body: Any


@dataclass
class FakeJira:
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    down: bool = False
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changes: itertools.count[int] = field(default_factory=lambda: itertools.count(5001))
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeJira:
        app = web.Application()
        app.router.add_post("/rest/api/3/issue", self._create)
        app.router.add_get("/rest/api/3/issue/{key}", self._get)
        app.router.add_put("/rest/api/3/issue/{key}", self._edit)
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

    def transition(self, key: str, to: str) -> dict[str, Any]:
        issue = self.issues[key]
        old = issue["fields"]["status"]["name"]
        issue["fields"]["status"] = _status(to)
        return {
            "timestamp": 1764637200000,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Eng One"},
            "issue": issue,
            "changelog": {
                "id": str(next(self._changes)),
                "items": [
                    {
                        "field": "status",
                        "fieldtype": "jira",
                        "fieldId": "status",
                        "fromString": old,
                        "toString": to,
                    }
                ],
            },
        }

    def of(self, verb: str) -> list[Call]:
        return [c for c in self.calls if c.verb == verb]

    async def _gate(self, request: web.Request) -> web.Response | None:
        body = await request.json() if request.can_read_body else None
        self.calls.append(Call(request.method, request.path_qs, body))
        request[BODY] = body
        if self.down:
            return web.Response(status=503, text="Service Unavailable")
        expected = "Basic " + base64.b64encode(f"{EMAIL}:{JIRA_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"errorMessages": ["Unauthorized"]}, status=401)
        return None

    async def _create(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        fields = (request[BODY] or {}).get("fields") or {}
        if not fields.get("summary") or (fields.get("project") or {}).get("key") != "ENGX":
            return web.json_response(
                {"errorMessages": [], "errors": {"project": "valid project is required"}},
                status=400,
            )
        n = next(self._ids)
        key = f"ENGX-{n}"
        self.issues[key] = {
            "id": str(10000 + n),
            "key": key,
            "self": f"{self.url}/rest/api/3/issue/{10000 + n}",
            "fields": {
                "summary": fields["summary"],
                "description": fields.get("description"),
                "issuetype": {"name": (fields.get("issuetype") or {}).get("name", "Bug")},
                "labels": list(fields.get("labels") or []),
                "status": _status("To Do"),
            },
        }
        return web.json_response(
            {"id": str(10000 + n), "key": key, "self": self.issues[key]["self"]}, status=201
        )

    async def _get(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        issue = self.issues.get(request.match_info["key"])
        if issue is None:
            return web.json_response(
                {
                    "errorMessages": [
                        "Issue does not exist or you do not have permission to see it."
                    ]
                },
                status=404,
            )
        wanted = request.query.get("fields", "").split(",")
        fields = {k: v for k, v in issue["fields"].items() if not wanted[0] or k in wanted}
        return web.json_response({**issue, "fields": fields})

    async def _edit(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        issue = self.issues.get(request.match_info["key"])
        if issue is None:
            return web.json_response({"errorMessages": ["Issue does not exist"]}, status=404)
        body = request[BODY] or {}
        labels = issue["fields"]["labels"]
        for op in (body.get("update") or {}).get("labels", []):
            if "remove" in op and op["remove"] in labels:
                labels.remove(op["remove"])
            if "add" in op and op["add"] not in labels:
                labels.append(op["add"])
        issue["fields"].update(body.get("fields") or {})
        return web.Response(status=204)


def _status(name: str) -> dict[str, Any]:
    key, cat, cid = CATEGORIES[name]
    return {
        "name": name,
        "id": str(10000 + cid),
        "statusCategory": {"id": cid, "key": key, "name": cat, "colorName": "blue-gray"},
    }
