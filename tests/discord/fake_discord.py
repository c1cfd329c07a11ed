"""A fake Discord on 127.0.0.1: the REST API under ``/api/v10`` and a gateway websocket.

It speaks the real protocols the adapter's discord.py client speaks, so the tests drive
the adapter from the outside:

- REST: every call is recorded (:attr:`FakeDiscord.calls`); messages, threads, thread
  members, DMs, reactions, application commands and interaction responses are kept as
  Discord would keep them, with Discord's error codes where the adapter could go wrong
  (answering an interaction twice, a thread started twice from one message, a private
  thread someone was never added to …). Payloads are checked against Discord's limits
  (embeds, buttons, modals) and refused with 400 ``Invalid Form Body`` as Discord would.
- Who gets pinged is computed from each message's content and ``allowed_mentions`` with
  Discord's rules (:attr:`FakeDiscord.pings`): the mention tests read it.
- Rate limits can be injected (:meth:`FakeDiscord.limit`): a 429 with ``Retry-After``
  and, unless told otherwise, the ``Via`` header Discord's edge sends. Or enforced
  (:meth:`FakeDiscord.enforce_route_limits`): message posts and edits in fixed windows
  per channel (5 per 5 s), every answer carrying ``X-RateLimit-*`` as Discord's do, and a
  429 with Discord's body past the limit (:attr:`FakeDiscord.rejected`).
- Gateway: HELLO → IDENTIFY → READY → GUILD_CREATE, heartbeats answered, RESUME, and
  events pushed with :meth:`FakeDiscord.dispatch` (THREAD_CREATE is pushed when a thread
  is created, MESSAGE_CREATE echoes the bot's own messages as Discord does).

Facts this encodes: an interaction token answers follow-ups and edits for 15 minutes,
then ``401 Invalid Webhook Token`` (:meth:`FakeDiscord.expire_interactions`), and a
token whose interaction was never acknowledged is an ``Unknown Webhook``; discord.py
reads a body as JSON only when the content type is exactly ``application/json``;
interaction payloads need ``attachment_size_limit``; a 429 without ``Via`` is read by
discord.py as a Cloudflare ban and not retried; the interaction callback answers ``{"interaction": {…}, "resource": {…}}`` when asked ``with_response``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fake_limits import FixedWindow, Verdict, discord_429_body, discord_headers

DISCORD_EPOCH = 1420070400000
EPHEMERAL = 1 << 6
LOADING = 1 << 7
MESSAGE_CONTENT_INTENT = 1 << 15
PRIVILEGED = (1 << 1) | (1 << 8) | MESSAGE_CONTENT_INTENT  # members, presences, content

TEXT, DM, PUBLIC_THREAD, PRIVATE_THREAD = 0, 1, 11, 12
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)

Json = dict[str, Any]


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


def invalid(message: str) -> DiscordError:
    return DiscordError(400, 50035, f"Invalid Form Body: {message}")


@dataclass
class Call:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any
    status: int = 0
    at: float = field(default_factory=time.time)  # wall time it arrived


@dataclass
class Limit:
    method: str
    pattern: re.Pattern[str]
    times: int
    retry_after: float
    via: bool
    is_global: bool


@dataclass
class Pings:
    users: set[int] = field(default_factory=set)
    roles: set[int] = field(default_factory=set)
    everyone: bool = False

    @property
    def anyone(self) -> bool:
        return bool(self.users or self.roles or self.everyone)


@dataclass
class InteractionLog:
    """One interaction and everything the adapter answered to it."""

    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    payload: Json
    sent_at: float
    callbacks: list[Json] = field(default_factory=list)
    answered_at: float | None = None
    original: Json | None = None  # the response message (or the "thinking" one)
    followups: list[Json] = field(default_factory=list)
    modal: Json | None = None
    choices: list[Json] | None = None
    expired: bool = False  # 15 minutes have passed: the token no longer answers

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def deferred(self) -> bool:
        return self.response_type in (5, 6)

    def raw(self) -> str:
        """The answer's content and embed descriptions as sent (markdown escapes and all)."""
        out: list[str] = []
        for message in [m for m in [self.original] if m] + self.followups:
            if message.get("content"):
                out.append(message["content"])
            out.extend(e.get("description") or "" for e in message.get("embeds") or [])
        return "\n".join(out)

    def text(self) -> str:
        """The answer as the person reads it in Discord."""
        return displayed(self.raw())

    def ephemeral(self) -> bool:
        messages = [m for m in [self.original] if m] + self.followups
        return bool(messages) and all(m.get("flags", 0) & EPHEMERAL for m in messages)


class Connection:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.seq = 0
        self.session_id = ""
        self.intents = 0


class FakeDiscord:
    def __init__(self, *, token: str = "fake-bot-token") -> None:
        self.token = token
        self._counter = itertools.count(1)
        self.app_id = self.snowflake()
        self.bot_id = self.snowflake()
        self.calls: list[Call] = []
        self.users: dict[int, Json] = {}
        self.guilds: dict[int, Json] = {}
        self.members: dict[tuple[int, int], list[int]] = {}  # (guild, user) -> role ids
        self.channels: dict[int, Json] = {}
        self.messages: dict[int, Json] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.pings: dict[int, Pings] = {}
        self.thread_members: dict[int, set[int]] = {}
        self.reactions: list[tuple[int, int, str]] = []
        self.commands: dict[int | None, list[Json]] = {}
        self.command_writes: dict[int | None, int] = {}
        self.interactions: dict[int, InteractionLog] = {}
        self.nonces: dict[tuple[int, str], int] = {}
        self.limits: list[Limit] = []
        self.route_limits: FixedWindow | None = None
        self.other_limits = FixedWindow(50, 1.0)
        self.rejected: dict[str, int] = {}  # 429s answered by enforced limits, per route
        self.identifies: list[Json] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.heartbeats = 0
        self.heartbeat_interval = 41250  # milliseconds, as Discord says in HELLO
        self.resumes = 0
        self.refuse_privileged_intents = False
        # A close code to end every session with at IDENTIFY (4011: sharding required …).
        self.close_at_identify: int | None = None
        self.echo_own_messages = True
        self.connections: list[Connection] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.add_user(self.bot_id, "casebot", bot=True)

    # -- server ----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- the world ---------------------------------------------------------------------

    def snowflake(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)

    def add_user(self, user_id: int, name: str, *, bot: bool = False) -> Json:
        user = {
            "id": str(user_id),
            "username": name,
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }
        self.users[user_id] = user
        return user

    def add_guild(self, guild_id: int, name: str = "Support", *, joined: bool = True) -> Json:
        guild = {
            "id": str(guild_id),
            "name": name,
            "roles": [self._role(guild_id, guild_id, "@everyone")],
        }
        self.guilds[guild_id] = guild
        if joined:
            self.members[(guild_id, self.bot_id)] = []
        return guild

    def joined(self, guild_id: int) -> bool:
        return (guild_id, self.bot_id) in self.members

    async def join(self, guild_id: int) -> None:
        """The bot is added to a server while it runs: Discord sends GUILD_CREATE."""
        self.members[(guild_id, self.bot_id)] = []
        payload = self._guild_create(guild_id)
        del payload["unavailable"]  # absent for a join, as Discord sends it
        await self.dispatch("GUILD_CREATE", payload)

    def add_role(self, guild_id: int, role_id: int, name: str) -> None:
        self.guilds[guild_id]["roles"].append(self._role(guild_id, role_id, name))

    def add_member(self, guild_id: int, user_id: int, roles: tuple[int, ...] = ()) -> None:
        self.members[(guild_id, user_id)] = list(roles)

    def add_text_channel(self, guild_id: int, channel_id: int, name: str) -> Json:
        channel = {
            "id": str(channel_id),
            "type": TEXT,
            "guild_id": str(guild_id),
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self.channels[channel_id] = channel
        return channel

    def _role(self, guild_id: int, role_id: int, name: str) -> Json:
        return {
            "id": str(role_id),
            "name": name,
            "permissions": "0",
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    # -- what the adapter did ----------------------------------------------------------

    def requests(self, method: str | None = None, pattern: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if (method is None or c.method == method)
            and (pattern is None or re.fullmatch(pattern, c.path))
        ]

    def posts(self, channel_id: int) -> list[Json]:
        """Messages visible in a channel or thread (ephemeral ones are not)."""
        return [
            self.messages[m]
            for m in self.channel_messages.get(channel_id, [])
            if not self.messages[m].get("flags", 0) & EPHEMERAL
        ]

    def bot_posts(self, channel_id: int) -> list[Json]:
        return [m for m in self.posts(channel_id) if int(m["author"]["id"]) == self.bot_id]

    def delete_message(self, message_id: int) -> None:
        message = self.messages.pop(message_id)
        self.channel_messages[int(message["channel_id"])].remove(message_id)

    def threads_in(self, parent_id: int) -> list[Json]:
        return [
            c
            for c in self.channels.values()
            if c.get("parent_id") == str(parent_id) and c["type"] in THREAD_TYPES
        ]

    def dm_of(self, user_id: int) -> int | None:
        for cid, channel in self.channels.items():
            if channel["type"] == DM and channel["recipients"][0]["id"] == str(user_id):
                return cid
        return None

    def dms(self, user_id: int) -> list[Json]:
        channel = self.dm_of(user_id)
        return self.bot_posts(channel) if channel else []

    def can_see(self, user_id: int, channel_id: int) -> bool:
        channel = self.channels[channel_id]
        if channel["type"] == PRIVATE_THREAD:
            return user_id in self.thread_members.get(channel_id, set())
        return True

    # -- rate limits -----------------------------------------------------------------------

    def limit(
        self,
        method: str,
        pattern: str,
        *,
        times: int = 1,
        retry_after: float = 0.01,
        via: bool = True,
        is_global: bool = False,
    ) -> None:
        """The next ``times`` matching calls answer 429 (``via=False``: as Cloudflare does)."""
        self.limits.append(Limit(method, re.compile(pattern), times, retry_after, via, is_global))

    def enforce_route_limits(self, limit: int = 5, seconds: float = 5.0) -> None:
        """Message posts and edits: ``limit`` per ``seconds`` per channel, as Discord's
        route buckets (fixed windows) count them. Every other bot route answers with the
        headers of a bucket of its own (50 a second), as Discord's do."""
        self.route_limits = FixedWindow(limit, seconds)
        self.other_limits = FixedWindow(50, 1.0)

    def _route_verdict(self, method: str, path: str) -> tuple[str, Verdict] | None:
        if self.route_limits is None or path.startswith(("/interactions/", "/webhooks/")):
            return None
        major = m.group(1) if (m := re.match(r"/channels/(\d+)", path)) else ""
        if method == "POST" and re.fullmatch(r"/channels/\d+/messages", path):
            return "create-message", self.route_limits.take(f"create-message:{major}")
        if method == "PATCH" and re.fullmatch(r"/channels/\d+/messages/\d+", path):
            return "edit-message", self.route_limits.take(f"edit-message:{major}")
        route = method + " " + re.sub(r"\d{6,}", "{id}", path)
        return route, self.other_limits.take(f"{route}:{major}")

    def _limited(self, method: str, path: str) -> Limit | None:
        for rule in self.limits:
            if rule.times > 0 and rule.method == method and rule.pattern.fullmatch(path):
                rule.times -= 1
                return rule
        return None

    # -- REST --------------------------------------------------------------------------

    def _routes(self) -> list[tuple[str, str, Callable[..., Awaitable[Any]]]]:
        return [
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/oauth2/applications/@me", self._get_application),
            ("GET", r"/gateway(?:/bot)?", self._get_gateway),
            ("POST", r"/users/@me/channels", self._create_dm),
            ("GET", r"/channels/(\d+)", self._get_channel),
            ("POST", r"/channels/(\d+)/messages", self._create_message),
            ("PATCH", r"/channels/(\d+)/messages/(\d+)", self._edit_message),
            ("POST", r"/channels/(\d+)/threads", self._create_thread),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._create_message_thread),
            ("PUT", r"/channels/(\d+)/thread-members/(\d+)", self._add_thread_member),
            ("PUT", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", self._add_reaction),
            ("GET", r"/guilds/(\d+)/members/(\d+)", self._get_member),
            ("GET", r"/applications/(\d+)/commands", self._get_global_commands),
            ("PUT", r"/applications/(\d+)/commands", self._put_global_commands),
            ("GET", r"/applications/(\d+)/guilds/(\d+)/commands", self._get_guild_commands),
            ("PUT", r"/applications/(\d+)/guilds/(\d+)/commands", self._put_guild_commands),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._interaction_callback),
            ("POST", r"/webhooks/(\d+)/([^/]+)", self._followup),
            ("PATCH", r"/webhooks/(\d+)/([^/]+)/messages/@original", self._edit_original),
            ("GET", r"/webhooks/(\d+)/([^/]+)/messages/@original", self._get_original),
        ]

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        call = Call(request.method, path, dict(request.query), body)
        self.calls.append(call)
        rule = self._limited(request.method, path)
        if rule is not None:
            call.status = 429
            headers = {
                "Content-Type": "application/json",
                "Retry-After": str(rule.retry_after),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": str(rule.retry_after),
                "X-RateLimit-Bucket": "fake-bucket",
            }
            if rule.is_global:
                headers["X-RateLimit-Global"] = "true"
            if rule.via:
                headers["Via"] = "1.1 google"
            body_429 = {
                "message": "You are being rate limited.",
                "retry_after": rule.retry_after,
                "global": rule.is_global,
                "code": 0,
            }
            return web.Response(status=429, body=json.dumps(body_429).encode(), headers=headers)
        route = self._route_verdict(request.method, path)
        if route is not None and not route[1].allowed:
            call.status = 429
            self.rejected[route[0]] = self.rejected.get(route[0], 0) + 1
            return web.Response(
                status=429,
                body=json.dumps(discord_429_body(route[1])).encode(),
                headers={"Content-Type": "application/json", **discord_headers(route[1], route[0])},
            )
        response = await self._answer(request, path, body, call)
        if route is not None:
            response.headers.update(discord_headers(route[1], route[0]))
        return response

    async def _answer(self, request: web.Request, path: str, body: Any, call: Call) -> web.Response:
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if method == request.method and match:
                try:
                    if not path.startswith(("/interactions/", "/webhooks/")):
                        self._authorize(request)
                    result = await handler(*match.groups(), body=body, query=dict(request.query))
                except DiscordError as exc:
                    call.status = exc.status
                    payload: Json = {"message": exc.message, "code": exc.code}
                    if exc.errors:
                        payload["errors"] = exc.errors
                    return _json(payload, exc.status)
                if result is None:
                    call.status = 204
                    return web.Response(status=204)
                call.status = 200
                return _json(result)
        call.status = 404
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _authorize(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordError(401, 0, "401: Unauthorized")

    async def _get_me(self, *, body: Any, query: Json) -> Json:
        return {**self.users[self.bot_id], "verified": True, "mfa_enabled": False, "flags": 0}

    async def _get_application(self, *, body: Any, query: Json) -> Json:
        return {
            "id": str(self.app_id),
            "name": "casebot",
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self.users[self.bot_id],
            "team": None,
            "verify_key": "00" * 32,
            "flags": 0,
            "summary": "",
        }

    async def _get_gateway(self, *, body: Any, query: Json) -> Json:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    async def _create_dm(self, *, body: Any, query: Json) -> Json:
        user_id = int(body["recipient_id"])
        if user_id not in self.users:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        existing = self.dm_of(user_id)
        if existing is not None:
            return self.channels[existing]
        channel_id = self.snowflake()
        channel = {
            "id": str(channel_id),
            "type": DM,
            "last_message_id": None,
            "recipients": [self.users[user_id]],
            "flags": 0,
        }
        self.channels[channel_id] = channel
        return channel

    async def _get_channel(self, channel_id: str, *, body: Any, query: Json) -> Json:
        return self._channel(int(channel_id))

    def _channel(self, channel_id: int) -> Json:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel

    async def _create_message(self, channel_id: str, *, body: Any, query: Json) -> Json:
        channel = self._channel(int(channel_id))
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            known = self.nonces.get((self.bot_id, str(nonce)))
            if known is not None:
                return self.messages[known]
        if channel["type"] in THREAD_TYPES and channel["thread_metadata"]["archived"]:
            channel["thread_metadata"]["archived"] = False  # sending reopens a thread
        message = self._new_message(int(channel_id), body, author_id=self.bot_id)
        if nonce is not None and body.get("enforce_nonce"):
            self.nonces[(self.bot_id, str(nonce))] = int(message["id"])
        if self.echo_own_messages:
            await self.dispatch("MESSAGE_CREATE", self._event_message(message))
        return message

    async def _edit_message(
        self, channel_id: str, message_id: str, *, body: Any, query: Json
    ) -> Json:
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            raise DiscordError(404, 10008, "Unknown Message")
        if int(message["author"]["id"]) != self.bot_id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(message, body)
        return message

    async def _create_thread(self, channel_id: str, *, body: Any, query: Json) -> Json:
        parent = self._channel(int(channel_id))
        if parent["type"] != TEXT:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise invalid("name must be 1-100 characters")
        kind = body.get("type", PRIVATE_THREAD)
        return await self._new_thread(parent, self.snowflake(), name, kind, body)

    async def _create_message_thread(
        self, channel_id: str, message_id: str, *, body: Any, query: Json
    ) -> Json:
        parent = self._channel(int(channel_id))
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            raise DiscordError(404, 10008, "Unknown Message")
        if int(message_id) in self.channels:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise invalid("name must be 1-100 characters")
        return await self._new_thread(parent, int(message_id), name, PUBLIC_THREAD, body)

    async def _new_thread(
        self, parent: Json, thread_id: int, name: str, kind: int, body: Json
    ) -> Json:
        now = _iso()
        thread = {
            "id": str(thread_id),
            "type": kind,
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": str(self.bot_id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 4320),
                "archive_timestamp": now,
                "locked": False,
                "invitable": body.get("invitable", True),
                "create_timestamp": now,
            },
        }
        self.channels[thread_id] = thread
        self.thread_members[thread_id] = {self.bot_id}
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    async def _add_thread_member(
        self, channel_id: str, user_id: str, *, body: Any, query: Json
    ) -> None:
        thread = self._channel(int(channel_id))
        if thread["type"] not in THREAD_TYPES:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        if thread["thread_metadata"]["archived"]:
            raise DiscordError(400, 50083, "Thread is archived")
        if (int(thread["guild_id"]), int(user_id)) not in self.members:
            raise DiscordError(404, 10007, "Unknown Member")
        self.thread_members[int(channel_id)].add(int(user_id))
        return None

    async def _add_reaction(
        self, channel_id: str, message_id: str, emoji: str, *, body: Any, query: Json
    ) -> None:
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            raise DiscordError(404, 10008, "Unknown Message")
        self.reactions.append((int(channel_id), int(message_id), emoji))
        return None

    async def _get_member(self, guild_id: str, user_id: str, *, body: Any, query: Json) -> Json:
        roles = self.members.get((int(guild_id), int(user_id)))
        if roles is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return self._member(int(guild_id), int(user_id), with_user=True)

    async def _get_global_commands(self, app_id: str, *, body: Any, query: Json) -> list[Json]:
        return self.commands.get(None, [])

    async def _put_global_commands(self, app_id: str, *, body: Any, query: Json) -> list[Json]:
        return self._store_commands(None, body)

    async def _get_guild_commands(
        self, app_id: str, guild_id: str, *, body: Any, query: Json
    ) -> list[Json]:
        if int(guild_id) not in self.guilds or not self.joined(int(guild_id)):
            raise DiscordError(403, 50001, "Missing Access")
        return self.commands.get(int(guild_id), [])

    async def _put_guild_commands(
        self, app_id: str, guild_id: str, *, body: Any, query: Json
    ) -> list[Json]:
        if int(guild_id) not in self.guilds or not self.joined(int(guild_id)):
            raise DiscordError(403, 50001, "Missing Access")
        return self._store_commands(int(guild_id), body)

    def _store_commands(self, scope: int | None, body: list[Json]) -> list[Json]:
        for command in body:
            _check_command(command)
        old = {c["name"]: c["id"] for c in self.commands.get(scope, [])}
        stored = []
        for command in body:
            # Discord answers with ids, versions and its defaults filled in.
            entry = {
                **command,
                "id": old.get(command["name"]) or str(self.snowflake()),
                "application_id": str(self.app_id),
                "version": str(self.snowflake()),
                "type": command.get("type", 1),
                "name_localizations": None,
                "description_localizations": None,
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(entry)
        self.commands[scope] = stored
        self.command_writes[scope] = self.command_writes.get(scope, 0) + 1
        return stored

    # -- interaction responses -------------------------------------------------------

    def _interaction(self, interaction_id: str, token: str) -> InteractionLog:
        log = self.interactions.get(int(interaction_id))
        if log is None or log.token != token:
            raise DiscordError(404, 10062, "Unknown interaction")
        return log

    def _by_token(self, app_id: str, token: str) -> InteractionLog:
        for log in self.interactions.values():
            if log.token == token and app_id == str(self.app_id):
                if log.expired:
                    raise DiscordError(401, 50027, "Invalid Webhook Token")
                return log
        raise DiscordError(404, 10015, "Unknown Webhook")

    def expire_interactions(self) -> None:
        """What 15 minutes do: every interaction token so far stops answering (401)."""
        for log in self.interactions.values():
            log.expired = True

    async def _interaction_callback(
        self, interaction_id: str, token: str, *, body: Any, query: Json
    ) -> Json | None:
        log = self._interaction(interaction_id, token)
        if log.callbacks:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        kind = body["type"]
        data = body.get("data") or {}
        log.callbacks.append(body)
        log.answered_at = time.monotonic()
        resource: Json = {"type": kind}
        flags = data.get("flags", 0) or 0
        answer: Json = {
            "id": interaction_id,
            "type": log.type,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(flags & EPHEMERAL),
        }
        if kind in (4, 5):
            content = data if kind == 4 else {}
            message = self._new_message(
                log.channel_id,
                content,
                author_id=self.bot_id,
                flags=flags | (LOADING if kind == 5 else 0),
                interaction=log,
            )
            log.original = message
            resource["message"] = message
            answer["response_message_id"] = message["id"]
        elif kind == 7:
            target = self.messages[int(log.payload["message"]["id"])]
            self._apply_edit(target, data)
            resource["message"] = target
        elif kind == 9:
            _check_modal(data)
            log.modal = data
        elif kind == 8:
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise invalid("choices: at most 25")
            log.choices = choices
        if kind == 8 or not query.get("with_response"):
            return None
        return {"interaction": answer, "resource": resource}

    async def _followup(self, app_id: str, token: str, *, body: Any, query: Json) -> Json:
        log = self._by_token(app_id, token)
        if not log.callbacks:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if log.original is not None and log.original.get("flags", 0) & LOADING:
            # The first follow-up after "thinking" replaces it, keeping its flags.
            self._apply_edit(log.original, body)
            log.original["flags"] &= ~LOADING
            return log.original
        message = self._new_message(
            log.channel_id,
            body,
            author_id=self.bot_id,
            flags=body.get("flags", 0) or 0,
            interaction=log,
        )
        log.followups.append(message)
        return message

    async def _edit_original(self, app_id: str, token: str, *, body: Any, query: Json) -> Json:
        log = self._by_token(app_id, token)
        if log.original is None:
            raise DiscordError(404, 10008, "Unknown Message")
        self._apply_edit(log.original, body)
        log.original["flags"] = log.original.get("flags", 0) & ~LOADING
        return log.original

    async def _get_original(self, app_id: str, token: str, *, body: Any, query: Json) -> Json:
        log = self._by_token(app_id, token)
        if log.original is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return log.original

    # -- messages ------------------------------------------------------------------------

    def _new_message(
        self,
        channel_id: int,
        body: Json,
        *,
        author_id: int,
        flags: int = 0,
        interaction: InteractionLog | None = None,
    ) -> Json:
        _check_message(body)
        channel = self.channels[channel_id]
        message_id = self.snowflake()
        content = body.get("content") or ""
        pings = _pings(content, body.get("allowed_mentions"))
        message: Json = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": self.users[author_id],
            "content": content,
            "timestamp": _iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": pings.everyone,
            "mentions": [self.users[u] for u in sorted(pings.users) if u in self.users],
            "mention_roles": [str(r) for r in sorted(pings.roles)],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0 if interaction is None else 20,
            "flags": flags,
        }
        if channel.get("guild_id"):
            message["guild_id"] = channel["guild_id"]
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if interaction is not None:
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.users[interaction.user_id],
                "authorizing_integration_owners": {},
            }
        self.messages[message_id] = message
        self.channel_messages.setdefault(channel_id, []).append(message_id)
        self.pings[message_id] = pings
        channel["last_message_id"] = str(message_id)
        return message

    def _apply_edit(self, message: Json, body: Json) -> None:
        _check_message(body)
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        message["edited_timestamp"] = _iso()
        # An edit never pings anyone new (Discord only notifies on creation).

    def _event_message(self, message: Json) -> Json:
        event = dict(message)
        guild = message.get("guild_id")
        author = int(message["author"]["id"])
        if guild:
            event["member"] = self._member(int(guild), author, with_user=False)
        return event

    def _member(self, guild_id: int, user_id: int, *, with_user: bool) -> Json:
        member: Json = {
            "roles": [str(r) for r in self.members.get((guild_id, user_id), [])],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if with_user:
            member["user"] = self.users[user_id]
        return member

    # -- gateway ---------------------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        live = [c for c in self.connections if not c.ws.closed]
        assert live, "the adapter is not connected to the gateway"
        return live[-1]

    @property
    def seq(self) -> int:
        """The last sequence number sent on the current connection."""
        return self.connection.seq

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        conn = Connection(ws)
        await ws.send_json(
            {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval}, "s": None, "t": None}
        )
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            op = payload.get("op")
            if op == 1:
                self.heartbeats += 1
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif op == 2:
                await self._identify(conn, payload["d"])
            elif op == 6:
                self.resumes += 1
                conn.session_id = payload["d"]["session_id"]
                conn.seq = int(payload["d"].get("seq") or 0)
                self.connections.append(conn)
                await self._send(conn, "RESUMED", {})
        if conn in self.connections:
            self.connections.remove(conn)
        return ws

    async def _identify(self, conn: Connection, data: Json) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        conn.intents = int(data.get("intents", 0))
        if self.close_at_identify is not None:
            await conn.ws.close(code=self.close_at_identify, message=b"Refused.")
            return
        if self.refuse_privileged_intents and conn.intents & PRIVILEGED:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        conn.session_id = f"session-{self.snowflake()}"
        self.connections.append(conn)
        await self._send(
            conn,
            "READY",
            {
                "v": 10,
                "user": {
                    **self.users[self.bot_id],
                    "verified": True,
                    "mfa_enabled": False,
                    "flags": 0,
                },
                "guilds": [
                    {"id": str(g), "unavailable": True} for g in self.guilds if self.joined(g)
                ],
                "session_id": conn.session_id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.app_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for guild_id in self.guilds:
            if self.joined(guild_id):
                await self._send(conn, "GUILD_CREATE", self._guild_create(guild_id))

    def _guild_create(self, guild_id: int) -> Json:
        guild = self.guilds[guild_id]
        channels = [
            {k: v for k, v in c.items() if k != "guild_id"}
            for c in self.channels.values()
            if c.get("guild_id") == str(guild_id) and c["type"] == TEXT
        ]
        threads = [
            c
            for c in self.channels.values()
            if c.get("guild_id") == str(guild_id)
            and c["type"] in THREAD_TYPES
            and not c["thread_metadata"]["archived"]
        ]
        return {
            **guild,
            "unavailable": False,
            "member_count": len([k for k in self.members if k[0] == guild_id]),
            "large": False,
            "joined_at": "2026-01-01T00:00:00+00:00",
            "owner_id": str(self.bot_id),
            "channels": channels,
            "threads": threads,
            "members": [self._member(guild_id, self.bot_id, with_user=True)],
            "emojis": [],
            "stickers": [],
            "features": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
        }

    async def _send(self, conn: Connection, event: str, data: Json) -> None:
        conn.seq += 1
        await conn.ws.send_json({"op": 0, "t": event, "s": conn.seq, "d": data})

    async def dispatch(self, event: str, data: Json) -> None:
        for conn in list(self.connections):
            if not conn.ws.closed:
                await self._send(conn, event, data)

    async def reconnect_request(self) -> None:
        """Op 7: Discord asks the client to reconnect (and resume)."""
        conn = self.connection
        await conn.ws.send_json({"op": 7, "d": None, "s": None, "t": None})

    # -- events the tests inject -------------------------------------------------------

    def command_interaction(
        self, user_id: int, channel_id: int, path: str, options: Json, *, focus: str | None = None
    ) -> Json:
        """A ``/case <path> option:value …`` (type 2), or its autocomplete (type 4) when
        ``focus`` names the option being typed. Options are typed from the commands the
        adapter registered, as Discord would."""
        channel = self.channels[channel_id]
        scope = int(channel["guild_id"]) if channel.get("guild_id") else None
        registered = self.commands.get(scope) or self.commands.get(None) or []
        words = path.split()
        root = next((c for c in registered if c["name"] == "case"), None)
        assert root is not None, "the adapter has not registered /case"
        node: Json = root
        chain: list[Json] = []
        for word in words:
            found = [
                o for o in node.get("options", []) if o["name"] == word and o["type"] in (1, 2)
            ]
            assert found, f"/case has no subcommand {path!r}"
            node = found[0]
            chain.append(node)
        leaf_options: list[Json] = []
        resolved: Json = {}
        known = {o["name"]: o for o in node.get("options", [])}
        for name, value in options.items():
            spec = known.get(name)
            assert spec is not None, f"/case {path} has no option {name!r}"
            option: Json = {"name": name, "type": spec["type"], "value": value}
            if spec["type"] == 6:
                option["value"] = str(value)
                user = self.users[int(value)]
                resolved.setdefault("users", {})[str(value)] = user
            if name == focus:
                option["focused"] = True
                option["value"] = str(value)
            leaf_options.append(option)
        for name, spec in known.items():
            if spec.get("required") and name not in options and focus is None:
                raise AssertionError(f"/case {path}: required option {name!r} missing")
        tree: list[Json] = leaf_options
        for node in reversed(chain):
            tree = [{"name": node["name"], "type": node["type"], "options": tree}]
        data: Json = {"id": root["id"], "name": "case", "type": 1, "options": tree}
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved:
            data["resolved"] = resolved
        return self._interaction_payload(4 if focus else 2, user_id, channel_id, data)

    def button_interaction(self, user_id: int, message_id: int, custom_id: str) -> Json:
        message = self.messages[message_id]
        ids = [
            c.get("custom_id")
            for row in message.get("components", [])
            for c in row.get("components", [])
        ]
        assert custom_id in ids, f"message {message_id} has no button {custom_id!r} (has {ids})"
        channel_id = int(message["channel_id"])
        data = {"custom_id": custom_id, "component_type": 2}
        return self._interaction_payload(3, user_id, channel_id, data, message=message)

    def modal_interaction(
        self, user_id: int, opened_by: InteractionLog, values: dict[str, str]
    ) -> Json:
        modal = opened_by.modal
        assert modal is not None, "that interaction did not open a modal"
        components = []
        for label in modal["components"]:
            inner = label["component"]
            name = inner["custom_id"]
            if inner["type"] == 4:
                components.append(
                    {
                        "type": 18,
                        "id": label.get("id", 0),
                        "component": {"type": 4, "custom_id": name, "value": values.get(name, "")},
                    }
                )
            else:
                chosen = values.get(name)
                options = [o["value"] for o in inner.get("options", [])]
                assert chosen is None or chosen in options, (
                    f"{chosen!r} is not an option of {name} ({options})"
                )
                components.append(
                    {
                        "type": 18,
                        "id": label.get("id", 0),
                        "component": {
                            "type": 3,
                            "custom_id": name,
                            "values": [chosen] if chosen else [],
                        },
                    }
                )
        unknown = set(values) - {c["component"]["custom_id"] for c in components}
        assert not unknown, f"the modal has no fields {unknown}"
        data = {"custom_id": modal["custom_id"], "components": components}
        message = opened_by.payload.get("message")
        return self._interaction_payload(5, user_id, opened_by.channel_id, data, message=message)

    def user_message(self, user_id: int, channel_id: int, content: str) -> Json:
        """A MESSAGE_CREATE from a person (they must be able to see the channel)."""
        assert self.can_see(user_id, channel_id), f"user {user_id} cannot see channel {channel_id}"
        message = self._new_message(channel_id, {"content": content}, author_id=user_id)
        return self._event_message(message)

    def _interaction_payload(
        self, kind: int, user_id: int, channel_id: int, data: Json, *, message: Json | None = None
    ) -> Json:
        channel = self.channels[channel_id]
        interaction_id = self.snowflake()
        token = f"token-{interaction_id}"
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "app_permissions": "2248473465835073",
            "attachment_size_limit": 26214400,
            "entitlements": [],
            "channel_id": str(channel_id),
            "channel": _channel_in_interaction(channel),
        }
        guild_id = channel.get("guild_id")
        if guild_id:
            member = self._member(int(guild_id), user_id, with_user=True)
            member["permissions"] = "2248473465835073"
            payload.update(
                guild_id=guild_id,
                guild_locale="en-US",
                member=member,
                context=0,
                authorizing_integration_owners={"0": guild_id},
            )
        else:
            payload.update(
                user=self.users[user_id], context=1, authorizing_integration_owners={"0": "0"}
            )
        if message is not None:
            payload["message"] = json.loads(json.dumps(message))  # as it was when clicked
        self.interactions[interaction_id] = InteractionLog(
            interaction_id, token, kind, user_id, channel_id, payload, time.monotonic()
        )
        return payload


# -- Discord's rules the fake enforces ------------------------------------------------------

_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")


def _pings(content: str, allowed: Json | None) -> Pings:
    """Who a message notifies: mentions in its content, filtered by allowed_mentions."""
    users = {int(u) for u in _USER.findall(content)}
    roles = {int(r) for r in _ROLE.findall(content)}
    everyone = "@everyone" in content or "@here" in content
    if allowed is None:
        return Pings(users, roles, everyone)
    parse = set(allowed.get("parse") or [])
    allowed_users = {int(u) for u in allowed.get("users") or []}
    allowed_roles = {int(r) for r in allowed.get("roles") or []}
    return Pings(
        {u for u in users if "users" in parse or u in allowed_users},
        {r for r in roles if "roles" in parse or r in allowed_roles},
        everyone and "everyone" in parse,
    )


def _check_message(body: Json) -> None:
    content = body.get("content") or ""
    if len(content) > 2000:
        raise invalid("content: must be 2000 or fewer in length")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        raise invalid("embeds: at most 10")
    for embed in embeds:
        _check_embed(embed)
    rows = body.get("components") or []
    if len(rows) > 5:
        raise invalid("components: at most 5 action rows")
    for row in rows:
        if row.get("type") != 1 or not 1 <= len(row.get("components", [])) <= 5:
            raise invalid("components: an action row holds 1-5 components")
        for item in row["components"]:
            if item.get("type") == 2:
                if item.get("style") != 5 and not 1 <= len(item.get("custom_id") or "") <= 100:
                    raise invalid("custom_id: 1-100 characters")
                if len(item.get("label") or "") > 80:
                    raise invalid("label: at most 80 characters")


def _check_embed(embed: Json) -> None:
    total = 0
    for key, limit in (("title", 256), ("description", 4096)):
        value = embed.get(key) or ""
        if len(value) > limit:
            raise invalid(f"embed {key}: at most {limit}")
        total += len(value)
    fields = embed.get("fields") or []
    if len(fields) > 25:
        raise invalid("embed fields: at most 25")
    for f in fields:
        if not f.get("name") or not f.get("value"):
            raise invalid("embed field name and value are required")
        if len(f["name"]) > 256 or len(f["value"]) > 1024:
            raise invalid("embed field too long")
        total += len(f["name"]) + len(f["value"])
    footer = (embed.get("footer") or {}).get("text") or ""
    total += len(footer)
    if total > 6000:
        raise invalid("embed: at most 6000 characters in all")


def _check_modal(data: Json) -> None:
    if not 1 <= len(data.get("title") or "") <= 45:
        raise invalid("modal title: 1-45 characters")
    if not 1 <= len(data.get("custom_id") or "") <= 100:
        raise invalid("modal custom_id: 1-100 characters")
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        raise invalid("modal: 1-5 components")
    for label in components:
        if label.get("type") != 18 or not 1 <= len(label.get("label") or "") <= 45:
            raise invalid("modal: labelled components with a 1-45 character label")
        inner = label.get("component") or {}
        if inner.get("type") == 3:
            if not 1 <= len(inner.get("options") or []) <= 25:
                raise invalid("select: 1-25 options")
        elif inner.get("type") == 4:
            if inner.get("max_length") and not 1 <= inner["max_length"] <= 4000:
                raise invalid("text input max_length: 1-4000")
        else:
            raise invalid("modal: text inputs and string selects only")


def _check_command(command: Json) -> None:
    def walk(node: Json, depth: int) -> int:
        count = len(node.get("name", "")) + len(node.get("description", ""))
        if (
            not re.fullmatch(r"[-_\w]{1,32}", node.get("name", ""))
            or node["name"] != node["name"].lower()
        ):
            raise invalid(f"name {node.get('name')!r}")
        if not 1 <= len(node.get("description", "")) <= 100:
            raise invalid(f"description of {node['name']}: 1-100 characters")
        options = node.get("options") or []
        if len(options) > 25:
            raise invalid(f"{node['name']}: at most 25 options")
        for option in options:
            count += walk(option, depth + 1)
            for choice in option.get("choices") or []:
                count += len(choice["name"]) + len(str(choice["value"]))
        return count

    if walk(command, 0) > 8000:
        raise invalid("command: at most 8000 characters in names, descriptions and values")


def _channel_in_interaction(channel: Json) -> Json:
    return {**channel, "permissions": "2248473465835073"}


def displayed(text: str) -> str:
    """Roughly what Discord shows for a text: escapes resolved, zero-width spaces unseen."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py reads a body as JSON only then.
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


def _iso() -> str:
    return datetime.now(UTC).isoformat()
