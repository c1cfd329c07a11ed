"""Socket Mode, screened: an envelope whose payload casebot does not handle is
acknowledged (so Slack does not send it again) and dropped with one short log line,
the way the HTTP gate answers 400; it never reaches Bolt or the listeners. Each envelope
is counted and timed on ``/metrics`` as an HTTP request is (``bot.metrics``): from its
arrival to the ack Bolt sends back in the socket (a refused one counts as refused)."""

from __future__ import annotations

import time

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from adapters.slack.guard import Gate, Refused, screen_socket
from bot import metrics


class ScreenedSocketModeHandler(AsyncSocketModeHandler):
    gate: Gate

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time.perf_counter()
        try:
            screen_socket(req.type, req.payload)
        except Refused as refused:
            self.gate.note(refused)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            metrics.acked("slack", time.perf_counter() - start, ok=False)
            return
        try:
            await super().handle(client, req)
        except Exception:
            metrics.failed("slack")
            raise
        metrics.acked("slack", time.perf_counter() - start)
