"""Slack's side of the wire: signed requests with Slack's real payload shapes.

``SlackDriver`` does what Slack does when a person acts: a slash command (form-encoded),
a button click (``payload=`` JSON, built from the message as the fake Slack stored it,
so only buttons the bot really rendered can be clicked), a modal submission (values
filled into the view the bot really opened), a message event (JSON
``event_callback``), an App Home opening. Over HTTP every request is signed
(``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``); over Socket Mode it travels in an
envelope and the answer is the envelope's ack.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.slack.fake_slack import APP_ID, BOT_USER, TEAM_DOMAIN, TEAM_ID, FakeSlack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def wire(text: str) -> str:
    """Text as Slack sends what a person typed: ``&``, ``<``, ``>`` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def user_ref(user_id: str, name: str) -> str:
    """A mention as Slack encodes it in a command's text (``should_escape: true``)."""
    return f"<@{user_id}|{name}>"


@dataclass
class Answer:
    """What Slack got back: the HTTP status and body (or the Socket Mode ack)."""

    status: int
    body: Any
    seconds: float

    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else json.loads(self.body or "{}")


class SlackDriver:
    def __init__(
        self, fake: FakeSlack, *, url: str | None = None, secret: str = SIGNING_SECRET
    ) -> None:
        self.fake = fake
        self.url = url  # None: Socket Mode
        self.secret = secret
        self.session: aiohttp.ClientSession | None = None
        self._events = itertools.count(1)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    # ------------------------------------------------------------------ raw sending

    async def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: str | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One signed POST to ``/slack/events`` (override the stamp/signature to forge)."""
        assert self.url is not None, "HTTP mode only"
        if self.session is None:
            self.session = aiohttp.ClientSession()
        ts = timestamp or str(int(time.time()))
        sent = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts}
        signed = sign(self.secret, ts, body) if signature is None else signature
        if signed:  # "" sends no signature at all
            sent["X-Slack-Signature"] = signed
        sent.update(headers or {})
        start = time.perf_counter()
        async with self.session.post(f"{self.url}/slack/events", data=body, headers=sent) as resp:
            text = await resp.text()
            took = time.perf_counter() - start
            try:
                parsed: Any = json.loads(text) if text.startswith("{") else text
            except ValueError:
                parsed = text
            return Answer(resp.status, parsed, took)

    async def _send(self, kind: str, payload: dict[str, Any], **kw: Any) -> Answer:
        if self.url is None:
            start = time.perf_counter()
            envelope_kind = {
                "command": "slash_commands",
                "interactive": "interactive",
                "event": "events_api",
            }[kind]
            ack = await self.fake.envelope(envelope_kind, payload)
            return Answer(200, ack.get("payload") or {}, time.perf_counter() - start)
        if kind == "command":
            return await self.post(
                urlencode(payload).encode(), "application/x-www-form-urlencoded", **kw
            )
        if kind == "interactive":
            body = urlencode({"payload": json.dumps(payload)}).encode()
            return await self.post(body, "application/x-www-form-urlencoded", **kw)
        return await self.post(json.dumps(payload).encode(), "application/json", **kw)

    # ------------------------------------------------------------------ payloads

    def command_payload(
        self, user: str, text: str, channel: str, command: str = "/case"
    ) -> dict[str, str]:
        name = self.fake.users[user].name if user in self.fake.users else user.lower()
        return {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else channel.lower(),
            "user_id": user,
            "user_name": name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.fake.new_response_url(channel, user),
            "trigger_id": self.fake.new_trigger(),
        }

    def _user(self, user: str) -> dict[str, str]:
        name = self.fake.users[user].name if user in self.fake.users else user.lower()
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    def click_payload(
        self, user: str, channel: str, message: dict[str, Any], action_id: str
    ) -> dict[str, Any]:
        for block in message.get("blocks", []):
            if block.get("type") != "actions":
                continue
            for element in block.get("elements", []):
                if element.get("action_id") == action_id:
                    action = {
                        "action_id": action_id,
                        "block_id": block.get("block_id") or "b",
                        "text": element["text"],
                        "value": element.get("value"),
                        "type": "button",
                        "action_ts": f"{time.time():.6f}",
                    }
                    if element.get("style"):
                        action["style"] = element["style"]
                    break
            else:
                continue
            break
        else:
            ids = [
                e.get("action_id")
                for b in message.get("blocks", [])
                if b.get("type") == "actions"
                for e in b.get("elements", [])
            ]
            raise AssertionError(f"no button {action_id!r} on that message; it has {ids}")
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        }
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        return {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "verification-token",
            "container": container,
            "trigger_id": self.fake.new_trigger(),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": channel.lower()},
            "message": message,
            "state": {"values": {}},
            "response_url": self.fake.new_response_url(channel, user),
            "actions": [action],
        }

    def submission_payload(
        self, user: str, view: dict[str, Any], values: dict[str, str]
    ) -> dict[str, Any]:
        state: dict[str, dict[str, Any]] = {}
        for block in view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block["element"]
            value = values.get(block["block_id"])
            if element["type"] == "static_select":
                chosen = None
                if value is not None:
                    chosen = next(o for o in element["options"] if o["value"] == value)
                state[block["block_id"]] = {
                    element["action_id"]: {"type": "static_select", "selected_option": chosen}
                }
            else:
                state[block["block_id"]] = {
                    element["action_id"]: {"type": "plain_text_input", "value": value or None}
                }
        unknown = set(values) - set(state)
        assert not unknown, f"the modal has no inputs {unknown}"
        submitted = {**view, "state": {"values": state}}
        return {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "verification-token",
            "trigger_id": self.fake.new_trigger(),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def event_payload(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        return {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._events):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{uuid.uuid4().hex}",
        }

    # ------------------------------------------------------------------ what people do

    async def command(self, user: str, text: str = "", *, channel: str, **kw: Any) -> Answer:
        return await self._send("command", self.command_payload(user, text, channel), **kw)

    async def click(
        self, user: str, channel: str, message: dict[str, Any], action_id: str
    ) -> Answer:
        return await self._send(
            "interactive", self.click_payload(user, channel, message, action_id)
        )

    async def submit(self, user: str, view: dict[str, Any], values: dict[str, str]) -> Answer:
        return await self._send("interactive", self.submission_payload(user, view, values))

    async def say(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        channel_type: str = "channel",
    ) -> tuple[dict[str, Any], Answer]:
        """A person writes a message (stored in the fake workspace, then sent as an event)."""
        msg = self.fake.store_user_message(channel, user, text, thread_ts)
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": msg["ts"],
            "event_ts": msg["ts"],
            "channel_type": channel_type,
            "client_msg_id": str(uuid.uuid4()),
            "team": TEAM_ID,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
            event["parent_user_id"] = BOT_USER
        return msg, await self._send("event", self.event_payload(event))

    async def open_home(self, user: str) -> Answer:
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.fake.dm(user),
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        return await self._send("event", self.event_payload(event))
