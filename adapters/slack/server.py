"""HTTP mode: Slack's requests at ``POST /slack/events`` on casebot's web server.

Commands, interactivity and events all arrive at the one URL (the manifest points
each of them there). :mod:`adapters.slack.guard` verifies the signature before anything
is parsed (401 on a bad or stale one, 413 on a huge body) and refuses signed bodies of
shapes casebot does not handle (400); Bolt then answers ``url_verification`` and routes
the rest to the listeners. The route is mounted on the process's shared
:class:`~adapters.web.WebServer` (``GET /healthz`` is the server's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp

from adapters.slack.guard import Gate, Refused
from adapters.web import WebServer
from bot import metrics

EVENTS_PATH = "/slack/events"


def mount(
    server: WebServer,
    bolt: AsyncApp,
    health: Callable[[], Mapping[str, Any]],
    gate: Gate | None = None,
) -> None:
    async def events(request: web.Request) -> web.StreamResponse:
        if gate is not None:
            body = await request.read()
            try:
                gate.check(body, request.headers, request.content_type or "")
            except Refused as refused:
                gate.note(refused)
                return web.json_response({"ok": False}, status=refused.status)
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    # On the front door's loop (adapters.web.front): the acknowledgement never waits for
    # the core's; the listeners hand the work over to it.
    server.add("POST", EVENTS_PATH, metrics.timed("slack", events), front=True)
    server.health("slack", health)
