"""Jira Cloud as the engineering tracker: plain httpx against REST API v3, and its
webhook (``POST /webhooks/jira``).

Not the ``jira`` package: it is synchronous (requests), so each call would block the
event loop or need a thread, and it speaks API v2; the four calls casebot makes are
small enough to write against v3 directly (docs/engineering-trackers.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx

from bot.config.integrations import Tracker
from bot.ports import DeliveryError
from bot.terms import EngStatus
from bot.tracker import Impact, RemoteIssue

_PERMANENT = {400, 401, 403, 404, 410}
# Jira's status categories, when a status name is not in ``tracker.statuses``.
_CATEGORY = {
    "new": EngStatus.OPEN.value,
    "indeterminate": EngStatus.IN_PROGRESS.value,
    "done": EngStatus.FIXED.value,
}


class JiraTracker:
    kind = "jira"

    def __init__(
        self,
        config: Tracker,
        email: str,
        token: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        assert config.url is not None and config.project is not None
        self.config = config
        self.http = httpx.AsyncClient(
            base_url=config.url,
            auth=(email, token),
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "casebot"},
            transport=transport,
        )

    @classmethod
    def from_env(cls, config: Tracker, env: Mapping[str, str]) -> JiraTracker:
        email, token = env.get("JIRA_EMAIL", "").strip(), env.get("JIRA_API_TOKEN", "").strip()
        if not email or not token:
            raise ValueError(
                "tracker: kind jira needs JIRA_EMAIL and JIRA_API_TOKEN in the environment"
            )
        return cls(config, email, token)

    async def create(self, title: str, body: str, impact: Impact, kind: str) -> RemoteIssue:
        fields: dict[str, Any] = {
            "project": {"key": self.config.project},
            "summary": title,
            "issuetype": {"name": self.config.issue_type},
            "description": adf(body),
        }
        if self.config.impact_labels:
            fields["labels"] = list(impact.labels)
        if self.config.impact_field:
            fields[self.config.impact_field] = impact.score
        data = await self._send("POST", "/rest/api/3/issue", {"fields": fields})
        key = str(data["key"])
        return RemoteIssue(key, self.browse(key), title, "", None, tuple(fields.get("labels", ())))

    async def get(self, ref: str) -> RemoteIssue:
        data = await self._send(
            "GET", f"/rest/api/3/issue/{ref}", params={"fields": "summary,status,labels"}
        )
        return remote_of(self.config, data)

    async def set_impact(self, ref: str, impact: Impact, previous: tuple[str, ...]) -> None:
        body: dict[str, Any] = {}
        if self.config.impact_labels:
            ops = [{"remove": p} for p in previous if p not in impact.labels]
            body["update"] = {"labels": ops + [{"add": lb} for lb in impact.labels]}
        if self.config.impact_field:
            body["fields"] = {self.config.impact_field: impact.score}
        await self._send("PUT", f"/rest/api/3/issue/{ref}", body)

    def browse(self, key: str) -> str:
        return f"{self.config.url}/browse/{key}"

    async def _send(
        self, method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            resp = await self.http.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Jira unreachable: {exc.__class__.__name__}: {exc}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            after = resp.headers.get("Retry-After", "")
            raise DeliveryError(
                f"Jira answered {resp.status_code}",
                retry_after=float(after) if after.isdigit() else None,
            )
        if resp.status_code >= 400:
            raise DeliveryError(
                f"Jira answered {resp.status_code}: {resp.text[:300]}",
                permanent=resp.status_code in _PERMANENT,
            )
        if not resp.content:
            return {}
        data = resp.json()
        return data if isinstance(data, dict) else {}

    async def close(self) -> None:
        await self.http.aclose()


def adf(text: str) -> dict[str, Any]:
    """Plain lines as an Atlassian Document Format document (API v3 wants ADF)."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line.replace("**", "")}]}
        for line in text.splitlines()
        if line.strip() and not line.startswith("<!--")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def remote_of(config: Tracker, data: Mapping[str, Any]) -> RemoteIssue:
    fields = data.get("fields") or {}
    status = fields.get("status") or {}
    name = str(status.get("name", ""))
    category = str((status.get("statusCategory") or {}).get("key", ""))
    meaning = config.statuses.get(name) or _CATEGORY.get(category)
    key = str(data["key"])
    return RemoteIssue(
        ref=key,
        url=f"{config.url}/browse/{key}",
        title=str(fields.get("summary", "")),
        state=name,
        status=meaning,
        labels=tuple(str(x) for x in fields.get("labels") or ()),
    )


# -- the webhook -------------------------------------------------------------------------


def secret_ok(secret: str, body: bytes, signature: str | None, token: str | None) -> bool:
    """A Jira Cloud webhook with a secret signs its body: ``X-Hub-Signature:
    sha256=<HMAC-SHA256>``. Where a webhook cannot sign (Jira Automation's web
    request), ``?secret=`` must carry the secret itself."""
    if not secret:
        return False
    if signature:
        method, _, digest = signature.partition("=")
        if method != "sha256":
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, digest)
    return token is not None and hmac.compare_digest(secret.encode(), token.encode())


def parse_event(
    config: Tracker, body: bytes, delivery: str | None
) -> tuple[str, str, RemoteIssue | None, dict[str, str] | None]:
    """``(event id, what, remote, comment)`` for a verified delivery."""
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("issue"), dict):
        return "", "ignored", None, None
    event = str(data.get("webhookEvent", ""))
    issue = data["issue"]
    changelog = data.get("changelog") or {}
    event_id = delivery or f"{issue.get('key')}:{changelog.get('id') or data.get('timestamp')}"
    if event == "comment_created" and isinstance(data.get("comment"), dict):
        comment = data["comment"]
        author = str((comment.get("author") or {}).get("displayName", "someone"))
        text = comment.get("body")
        plain = text if isinstance(text, str) else _adf_text(text)
        return (
            event_id,
            "comment",
            None,
            {"ref": str(issue["key"]), "author": author, "text": plain},
        )
    moved = any(i.get("field") == "status" for i in changelog.get("items") or [])
    if event != "jira:issue_updated" or not moved:
        return event_id, f"{event} ignored", None, None
    return event_id, "status", remote_of(config, issue), None


def _adf_text(node: Any) -> str:
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        return " ".join(_adf_text(c) for c in node.get("content") or [])
    return ""
