"""``POST /webhooks/github`` and ``POST /webhooks/jira`` on the shared HTTP server.

The signature is checked on the raw body before anything is parsed: a bad or missing
one is ``401`` and changes nothing. A verified delivery is applied once (its delivery id
commits with its effect), so GitHub's and Jira's re-deliveries are answered ``200``
without a second effect; an issue casebot does not know is ignored and logged.
"""

from __future__ import annotations

from typing import Protocol

import structlog
from aiohttp import web

from adapters.trackers import github, jira
from adapters.web.front import peer
from adapters.web.server import MAX_BODY, Handler
from bot.config.integrations import Tracker
from bot.tracker import RemoteIssue

log = structlog.get_logger(__name__)

GITHUB_PATH = "/webhooks/github"
JIRA_PATH = "/webhooks/jira"


class Receiver(Protocol):
    """What a webhook hands its news to (:class:`bot.tracker_sync.TrackerSync`)."""

    async def receive(self, event_id: str, remote: RemoteIssue) -> str: ...

    async def comment(self, event_id: str, ref: str, author: str, text: str) -> str: ...


def github_handler(config: Tracker, secret: str, receiver: Receiver) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return web.json_response({"error": "too large"}, status=413)
        if not github.signature_ok(secret, body, request.headers.get("X-Hub-Signature-256")):
            log.warning("webhook.github.bad_signature", remote=peer(request))
            return web.json_response({"error": "bad signature"}, status=401)
        event = request.headers.get("X-GitHub-Event", "")
        delivery = request.headers.get("X-GitHub-Delivery", "")
        if event == "ping":
            return web.json_response({"ok": True, "result": "pong"})
        if not delivery:
            return web.json_response({"error": "no X-GitHub-Delivery"}, status=400)
        try:
            what, remote, comment = github.parse_event(config, event, body)
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "not a GitHub issue event"}, status=400)
        result = await _apply(receiver, f"github:{delivery}", remote, comment, what, config)
        log.info("webhook.github", github_event=event, delivery=delivery, result=result)
        return web.json_response({"ok": True, "result": result})

    return handle


def jira_handler(config: Tracker, secret: str, receiver: Receiver) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return web.json_response({"error": "too large"}, status=413)
        signature = request.headers.get("X-Hub-Signature")
        if not jira.secret_ok(secret, body, signature, request.query.get("secret")):
            log.warning("webhook.jira.bad_secret", remote=peer(request))
            return web.json_response({"error": "bad secret"}, status=401)
        try:
            event_id, what, remote, comment = jira.parse_event(
                config, body, request.headers.get("X-Atlassian-Webhook-Identifier")
            )
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "not a Jira issue event"}, status=400)
        result = await _apply(receiver, f"jira:{event_id}", remote, comment, what, config)
        log.info("webhook.jira", delivery=event_id, result=result)
        return web.json_response({"ok": True, "result": result})

    return handle


async def _apply(
    receiver: Receiver,
    event_id: str,
    remote: RemoteIssue | None,
    comment: dict[str, str] | None,
    what: str,
    config: Tracker,
) -> str:
    if remote is not None:
        return await receiver.receive(event_id, remote)
    if comment is not None and config.comments:
        return await receiver.comment(event_id, comment["ref"], comment["author"], comment["text"])
    return what
