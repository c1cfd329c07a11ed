"""HTTP mode: Slack's requests at ``POST /slack/events``, and ``GET /healthz``.

Commands, interactivity and events all arrive at the one URL (the manifest points
each of them there). :mod:`adapters.slack.guard` verifies the signature before anything
is parsed (401 on a bad or stale one, 413 on a huge body) and refuses signed bodies of
shapes casebot does not handle (400); Bolt then answers ``url_verification`` and routes
the rest to the listeners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp

from adapters.slack.guard import MAX_BODY, Gate, Refused

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def web_app(
    bolt: AsyncApp, health: Callable[[], dict[str, Any]], gate: Gate | None = None
) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        if gate is not None:
            body = await request.read()
            try:
                gate.check(body, request.headers, request.content_type or "")
            except Refused as refused:
                gate.note(refused)
                return web.json_response({"ok": False}, status=refused.status)
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(health())

    app = web.Application(client_max_size=MAX_BODY + 1)
    app.router.add_post(EVENTS_PATH, events)
    app.router.add_get(HEALTH_PATH, healthz)
    return app


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (to stop it) and the port really bound
    (``port=0`` picks a free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    server = site._server  # aiohttp exposes the bound sockets only here
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        bound = int(sockets[0].getsockname()[1])
    return runner, bound
