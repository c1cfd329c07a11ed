"""Socket Mode, screened: an envelope whose payload casebot does not handle is
acknowledged (so Slack does not send it again) and dropped with one short log line,
the way the HTTP gate answers 400; it never reaches Bolt or the listeners."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from adapters.slack.guard import Gate, Refused, screen_socket


class ScreenedSocketModeHandler(AsyncSocketModeHandler):
    gate: Gate

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        try:
            screen_socket(req.type, req.payload)
        except Refused as refused:
            self.gate.note(refused)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await super().handle(client, req)
