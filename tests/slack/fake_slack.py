"""A fake Slack, on 127.0.0.1: the Web API the bot calls, ``response_url``s, Socket Mode.

It answers with Slack's response shapes and keeps what a Slack workspace would: the
messages in each channel (edited in place by ``chat.update``), ephemeral messages,
opened modals, published App Home views, reactions, and each post's ``metadata`` (read
back by ``conversations.history`` / ``conversations.replies`` with
``include_all_metadata``, paged with a cursor). Message timestamps follow ``clock``
(epoch seconds; the real time unless a test gives its own), always increasing. Every call is recorded with how it
arrived (HTTP verb, content type, token), so tests can check the wire as well as the
outcome. ``fail(method, ...)`` makes the next calls answer 429 with ``Retry-After`` (or
any Slack error).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

TEAM_ID = "T0CASE"
TEAM_DOMAIN = "casebot-test"
APP_ID = "A0CASE"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"


@dataclass
class Call:
    method: str
    verb: str
    content_type: str
    params: dict[str, Any]
    token: str | None


@dataclass
class Failure:
    status: int
    error: str
    retry_after: int | None
    times: int


@dataclass
class SlackUser:
    id: str
    name: str
    real_name: str
    team_id: str = TEAM_ID


@dataclass
class Socket:
    ws: web.WebSocketResponse
    acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


class FakeSlack:
    """``lenient``: accept any ``response_url`` token and ``trigger_id`` (the benchmark
    makes its payloads in another process)."""

    def __init__(self, *, lenient: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.lenient = lenient
        self.clock = clock
        self._last_ts = 0.0
        self.calls: list[Call] = []
        self.users: dict[str, SlackUser] = {}
        self.messages: dict[str, list[dict[str, Any]]] = defaultdict(list)  # channel → messages
        self.ephemeral: list[dict[str, Any]] = []  # {"channel", "user", "text", "blocks", "via"}
        self.views: dict[str, dict[str, Any]] = {}  # view id → the modal as opened
        self.homes: dict[str, dict[str, Any]] = {}  # user → the published home view
        self.reactions: list[tuple[str, str, str]] = []  # (channel, ts, name)
        self.not_member: set[str] = set()  # channels the bot has not been invited to
        self.failures: dict[str, list[Failure]] = defaultdict(list)
        self.lost: dict[str, int] = defaultdict(int)  # method → answers to drop
        self.triggers: set[str] = set()
        self.response_urls: dict[str, dict[str, Any]] = {}  # token → where it answers
        self.sockets: list[Socket] = []
        self.socket_connected = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{token}", self._response_url)
        app.router.add_get("/link/", self._socket)
        app.router.add_get("/_stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for sock in self.sockets:
            await sock.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    # ------------------------------------------------------------------ test controls

    def add_user(self, user_id: str, name: str, real_name: str, team_id: str = TEAM_ID) -> None:
        self.users[user_id] = SlackUser(user_id, name, real_name, team_id)

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        self.failures[method].append(Failure(status, error, retry_after, times))

    def lose_answer(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` take effect, then the connection
        breaks before the answer: the caller cannot know the call worked."""
        self.lost[method] += times

    def next_ts(self) -> str:
        self._last_ts = max(round(self.clock(), 6), round(self._last_ts + 0.000001, 6))
        return f"{self._last_ts:.6f}"

    def new_trigger(self) -> str:
        trigger = f"{next(self._ids)}.{uuid.uuid4().hex[:12]}"
        self.triggers.add(trigger)
        return trigger

    def new_response_url(self, channel: str | None, user: str) -> str:
        token = uuid.uuid4().hex
        self.response_urls[token] = {"channel": channel, "user": user, "uses": 0}
        return f"{self.base}/response/{token}"

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def dm(self, user_id: str) -> str:
        """The id of the DM between the bot and ``user_id``."""
        return "D" + user_id[1:]

    def posts(
        self, channel: str, *, thread: str | None = None, top: bool = False
    ) -> list[dict[str, Any]]:
        """Bot messages in a channel (``thread``: only that thread's replies;
        ``top``: only top-level ones)."""
        out = []
        for m in self.messages.get(channel, []):
            if m.get("bot_id") != BOT_ID:
                continue
            if thread is not None and (m.get("thread_ts") != thread or m["ts"] == thread):
                continue
            if top and m.get("thread_ts") not in (None, m["ts"]):
                continue
            out.append(m)
        return out

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        for m in self.messages.get(channel, []):
            if m["ts"] == ts:
                return m
        raise KeyError((channel, ts))

    def store_user_message(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> dict[str, Any]:
        ts = self.next_ts()
        msg: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": TEAM_ID,
        }
        if thread_ts:
            msg["thread_ts"] = thread_ts
        self.messages[channel].append(msg)
        return msg

    async def _stats(self, request: web.Request) -> web.Response:
        counts: dict[str, int] = defaultdict(int)
        for call in self.calls:
            counts[call.method] += 1
        return web.json_response({"calls": counts, "ephemeral": len(self.ephemeral)})

    # ------------------------------------------------------------------ the Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        content_type = request.content_type
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            raw = await request.read()
            if content_type == "application/json":
                params.update(json.loads(raw or b"{}"))
            elif raw:
                params.update(dict(parse_qsl(raw.decode())))
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else params.get("token")
        self.calls.append(Call(method, request.method, content_type, params, token))

        queue = self.failures.get(method)
        if queue:
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            headers = (
                {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            )
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )

        expected = "xapp-" if method == "apps.connections.open" else "xoxb-"
        if not token or not token.startswith(expected):
            return web.json_response({"ok": False, "error": "not_authed"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            body = handler(params)
        except _SlackError as exc:
            return web.json_response({"ok": False, "error": str(exc)})
        if self.lost[method] > 0:
            self.lost[method] -= 1
            assert request.transport is not None
            request.transport.abort()  # done, and no answer ever arrives
            raise web.HTTPInternalServerError()
        return web.json_response({"ok": True, **body})

    def _auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Casebot Test",
            "user": "casebot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _check_channel(self, channel: str | None) -> str:
        if not channel:
            raise _SlackError("channel_not_found")
        if channel in self.not_member:
            raise _SlackError("not_in_channel")
        if channel.startswith("U"):
            raise _SlackError("channel_not_found")  # we always open DMs first
        return channel

    @staticmethod
    def _blocks(p: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = p.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    def _chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(p.get("channel"))
        if not p.get("text") and not p.get("blocks"):
            raise _SlackError("no_text")
        thread = p.get("thread_ts")
        ts = self.next_ts()
        msg: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": p.get("text", ""),
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "ts": ts,
            "blocks": self._blocks(p),
            "team": TEAM_ID,
        }
        if thread:
            msg["thread_ts"] = thread
        meta = p.get("metadata")
        if isinstance(meta, str):
            meta = json.loads(meta)
        if meta:
            if not isinstance(meta, dict) or "event_type" not in meta:
                raise _SlackError("invalid_metadata_format")
            msg["metadata"] = {
                "event_type": meta["event_type"],
                "event_payload": meta.get("event_payload") or {},
            }
        self.messages[channel].append(msg)
        return {"channel": channel, "ts": ts, "message": msg}

    def _conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages (and thread parents), newest first."""
        channel = self._check_channel(p.get("channel"))
        top = [m for m in self.messages[channel] if m.get("thread_ts") in (None, m["ts"])]
        return self._page(list(reversed(top)), p, limit=100)

    def _conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent first, then the replies, oldest first."""
        channel = self._check_channel(p.get("channel"))
        parent = str(p.get("ts") or "")
        thread = [
            m for m in self.messages[channel] if m["ts"] == parent or m.get("thread_ts") == parent
        ]
        if not thread:
            raise _SlackError("thread_not_found")
        return self._page(thread, p, limit=1000)

    @staticmethod
    def _page(messages: list[dict[str, Any]], p: dict[str, Any], limit: int) -> dict[str, Any]:
        """``oldest``/``latest`` (exclusive unless ``inclusive``), ``limit`` and
        ``cursor`` as Slack reads them; metadata only with ``include_all_metadata``."""

        def flag(name: str) -> bool:
            return str(p.get(name, "")).lower() in ("1", "true")

        inclusive = flag("inclusive")
        oldest = float(p["oldest"]) if p.get("oldest") else None
        latest = float(p["latest"]) if p.get("latest") else None

        def within(m: dict[str, Any]) -> bool:
            ts = float(m["ts"])
            if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
                return False
            return latest is None or ts < latest or (ts == latest and inclusive)

        chosen = [m for m in messages if within(m)]
        start = int(str(p["cursor"]).removeprefix("next:")) if p.get("cursor") else 0
        size = min(int(p.get("limit") or limit), 999)
        page = chosen[start : start + size]
        more = start + size < len(chosen)
        keep_meta = flag("include_all_metadata")
        shown = [m if keep_meta else {k: v for k, v in m.items() if k != "metadata"} for m in page]
        return {
            "messages": shown,
            "has_more": more,
            "response_metadata": {"next_cursor": f"next:{start + size}" if more else ""},
        }

    def _chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(p.get("channel"))
        for msg in self.messages[channel]:
            if msg["ts"] == p.get("ts"):
                if msg.get("bot_id") != BOT_ID:
                    raise _SlackError("cant_update_message")
                msg["text"] = p.get("text", "")
                msg["blocks"] = self._blocks(p)
                msg["edited"] = {"user": BOT_USER, "ts": self.next_ts()}
                return {"channel": channel, "ts": msg["ts"], "text": msg["text"], "message": msg}
        raise _SlackError("message_not_found")

    def _chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(p.get("channel"))
        self.ephemeral.append(
            {
                "channel": channel,
                "user": p.get("user"),
                "thread_ts": p.get("thread_ts"),
                "text": p.get("text", ""),
                "blocks": self._blocks(p),
                "via": "chat.postEphemeral",
            }
        )
        return {"message_ts": self.next_ts()}

    def _conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        users = str(p.get("users", "")).split(",")
        if len(users) != 1 or not users[0]:
            raise _SlackError("not_enough_users")
        if users[0] not in self.users:
            raise _SlackError("user_not_found")
        return {"channel": {"id": self.dm(users[0])}}

    def _users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user")))
        if user is None:
            raise _SlackError("user_not_found")
        return {
            "user": {
                "id": user.id,
                "team_id": user.team_id,
                "name": user.name,
                "real_name": user.real_name,
                "is_bot": False,
                "profile": {"real_name": user.real_name, "display_name": user.real_name},
            }
        }

    def _view(self, view: Any) -> dict[str, Any]:
        data = json.loads(view) if isinstance(view, str) else dict(view)
        view_id = f"V{next(self._ids):08d}"
        data.update(
            {
                "id": view_id,
                "team_id": TEAM_ID,
                "app_id": APP_ID,
                "bot_id": BOT_ID,
                "hash": uuid.uuid4().hex[:16],
                "state": {"values": {}},
                "root_view_id": view_id,
                "previous_view_id": None,
            }
        )
        return data

    def _views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        trigger = p.get("trigger_id")
        if trigger not in self.triggers and not self.lenient:
            raise _SlackError("invalid_trigger_id")
        self.triggers.discard(trigger)  # a trigger opens one view
        view = self._view(p.get("view"))
        self.views[view["id"]] = view
        return {"view": view}

    def _views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        view = self._view(p.get("view"))
        if view.get("type") != "home":
            raise _SlackError("invalid_arguments")
        self.homes[str(p.get("user_id"))] = view
        return {"view": view}

    def _chat_getPermalink(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel")), str(p.get("message_ts"))
        if not any(m["ts"] == ts for m in self.messages[channel]):
            raise _SlackError("message_not_found")
        return {
            "channel": channel,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _reactions_add(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (str(p.get("channel")), str(p.get("timestamp")), str(p.get("name")))
        if key in self.reactions:
            raise _SlackError("already_reacted")
        self.reactions.append(key)
        return {}

    def _apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4().hex}&app_id={APP_ID}"
        }

    # ------------------------------------------------------------------ response_url

    async def _response_url(self, request: web.Request) -> web.Response:
        where = self.response_urls.get(request.match_info["token"])
        if where is None and self.lenient:
            where = self.response_urls[request.match_info["token"]] = {
                "channel": None,
                "user": None,
                "uses": 0,
            }
        if where is None or where["uses"] >= 5:
            return web.Response(status=404, text="used_url")
        queue = self.failures.get("response_url")
        if queue:
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            headers = (
                {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            )
            return web.Response(status=failure.status, text=failure.error, headers=headers)
        where["uses"] += 1
        body = await request.json()
        self.calls.append(Call("response_url", "POST", request.content_type, body, None))
        if body.get("response_type") == "in_channel" and where["channel"]:
            msg = self._chat_postMessage(
                {
                    "channel": where["channel"],
                    "text": body.get("text"),
                    "blocks": body.get("blocks"),
                }
            )
            msg["message"]["via"] = "response_url"
        else:
            self.ephemeral.append(
                {
                    "channel": where["channel"],
                    "user": where["user"],
                    "thread_ts": None,
                    "text": body.get("text", ""),
                    "blocks": body.get("blocks") or [],
                    "via": "response_url",
                }
            )
        return web.Response(text="ok")

    # ------------------------------------------------------------------ Socket Mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        sock = Socket(ws)
        self.sockets.append(sock)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {
                    "host": "applink-test",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        self.socket_connected.set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            future = sock.acks.get(data.get("envelope_id", ""))
            if future is not None and not future.done():
                future.set_result(data)
        return ws

    async def envelope(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0
    ) -> dict[str, Any]:
        """Send an envelope over the live Socket Mode connection; returns the bot's ack."""
        await asyncio.wait_for(self.socket_connected.wait(), 5)
        sock = self.sockets[-1]
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        sock.acks[envelope_id] = future
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        await sock.ws.send_json(envelope)
        return await asyncio.wait_for(future, 5)


class _SlackError(Exception):
    pass


def shown(blocks: list[dict[str, Any]]) -> str:
    """What a person reads in these blocks: each block's text on its lines, rich_text
    runs joined (a mention as @U…), buttons as [label]."""
    lines: list[str] = []
    for b in blocks:
        kind = b.get("type")
        if kind in ("header", "section", "context") and isinstance(b.get("text"), dict):
            lines.append(b["text"]["text"])
        if kind == "section":
            lines.extend(f["text"] for f in b.get("fields") or [])
        if kind == "context":
            lines.extend(e.get("text", "") for e in b.get("elements") or [])
        if kind == "rich_text":
            runs = [
                f"@{e['user_id']}" if e["type"] == "user" else e.get("text", "")
                for section in b["elements"]
                for e in section["elements"]
            ]
            lines.append("".join(runs))
        if kind == "actions":
            lines.append(" ".join(f"[{e['text']['text']}]" for e in b["elements"]))
    return "\n".join(lines)
