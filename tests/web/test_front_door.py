"""The front door: a front route is answered while the core's loop is busy, and every
other request reaches the core's server as it was sent, its answer coming back whole."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import urllib.request

import aiohttp
from aiohttp import web

from adapters.web import WebServer


async def test_an_acknowledgement_is_answered_while_the_core_loop_is_held() -> None:
    """Slack's events on the front door: a use case holding the core's loop (here for
    as long as it takes) does not hold the acknowledgement behind it."""
    server = WebServer("127.0.0.1", 0)
    loops: list[str] = []

    async def ack(request: web.Request) -> web.Response:
        loops.append(threading.current_thread().name)
        return web.json_response({"ok": True})

    server.add("POST", "/slack/events", ack, front=True)
    await server.start()
    answered = threading.Event()
    answers: list[bytes] = []

    def slack() -> None:
        req = urllib.request.Request(f"{server.url}/slack/events", data=b"{}", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            answers.append(resp.read())
        answered.set()

    try:
        caller = threading.Thread(target=slack)
        caller.start()
        # The core's loop is held (a blocking step) until Slack has its answer: were the
        # route served on this loop, the answer could never come and this would give up.
        held_until_answered = answered.wait(timeout=10)
        caller.join(timeout=10)
        assert held_until_answered, "the acknowledgement waited for the core's loop"
        assert answers == [b'{"ok": true}']
        assert loops == ["casebot-front-door"]
    finally:
        await server.stop()


async def test_every_other_request_reaches_the_core_server_unchanged() -> None:
    """The dashboard's sign-in, a form post, a redirect with cookies, a streamed export
    and /healthz pass through the front door to the core's loop, exactly."""
    server = WebServer("127.0.0.1", 0)
    seen: dict[str, object] = {}
    core_thread = threading.current_thread().name

    async def ack(request: web.Request) -> web.Response:
        return web.Response(text="ack")

    async def form(request: web.Request) -> web.Response:
        data = await request.post()
        seen.update(
            thread=threading.current_thread().name,
            host=request.host,
            forwarded=request.headers.get("X-Forwarded-For"),
            cookie=request.cookies.get("session"),
            field=data.get("note"),
            query=request.query.get("page"),
        )
        response = web.Response(status=303, headers={"Location": "/cases?page=2"})
        response.set_cookie("session", "signed", httponly=True, samesite="Lax")
        response.set_cookie("csrf", "token", samesite="Strict")
        return response

    async def export(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/csv"})
        await response.prepare(request)
        for n in range(1000):
            await response.write(f"CASE-{n},open\n".encode())
        await response.write_eof()
        return response

    server.add("POST", "/slack/events", ack, front=True)
    server.add("POST", "/cases/note", form)
    server.add("GET", "/cases.csv", export)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{server.url}/cases/note?page=1",
                data={"note": "<b>hello</b> & bye"},
                headers={"Cookie": "session=old"},
                allow_redirects=False,
            ) as resp:
                assert resp.status == 303
                assert resp.headers["Location"] == "/cases?page=2"
                cookies = resp.headers.getall("Set-Cookie")
            async with http.get(f"{server.url}/cases.csv") as resp:
                lines = (await resp.text()).splitlines()
            async with http.get(f"{server.url}/healthz") as resp:
                health = await resp.json()
            async with http.get(f"{server.url}/nowhere") as resp:
                missing = resp.status
        assert seen == {
            "thread": core_thread,
            "host": f"127.0.0.1:{server.port}",
            "forwarded": "127.0.0.1",
            "cookie": "old",
            "field": "<b>hello</b> & bye",
            "query": "1",
        }
        assert len(cookies) == 2 and any("HttpOnly" in c for c in cookies)
        assert lines[0] == "CASE-0,open" and lines[-1] == "CASE-999,open" and len(lines) == 1000
        assert health == {"ok": True}
        assert missing == 404
    finally:
        await server.stop()


async def test_without_front_routes_the_server_listens_itself() -> None:
    """Modes without Slack's HTTP events (Socket Mode, Discord, the worker) keep one
    plain server on the port: no thread, no proxy."""
    server = WebServer("127.0.0.1", 0)
    await server.start()
    try:
        assert not any(t.name == "casebot-front-door" for t in threading.enumerate())
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/healthz") as resp:
                assert resp.status == 200
    finally:
        await server.stop()


async def test_stopping_ends_the_thread_and_restores_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    server = WebServer("127.0.0.1", 0)

    async def ack(request: web.Request) -> web.Response:
        return web.Response(text="ack")

    server.add("POST", "/slack/events", ack, front=True)
    await server.start()
    await server.stop()
    deadline = time.monotonic() + 5
    while any(t.name == "casebot-front-door" for t in threading.enumerate()):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert sys.getswitchinterval() == before


async def test_a_webhook_refused_behind_the_front_door_logs_who_really_sent_it() -> None:
    """GitHub's webhook is served by the core behind the front door (with Slack's events
    on the port, in `casebot run --platform slack --http`). Someone posts a forged
    delivery, and writes a made-up address of their own in X-Forwarded-For: the warning
    names the address the front door saw, not the empty peer of the core's Unix
    socket, nor the one the sender wrote."""
    from structlog.testing import capture_logs

    from adapters.trackers.webhooks import GITHUB_PATH, github_handler
    from tests.trackers.conftest import github_tracker

    class Nobody:
        async def receive(self, event_id: str, remote: object) -> str:
            raise AssertionError("a forged delivery reached the core")

        async def comment(self, event_id: str, ref: str, author: str, text: str) -> str:
            raise AssertionError("a forged delivery reached the core")

    async def ack(request: web.Request) -> web.Response:
        return web.Response(text="ack")

    server = WebServer("127.0.0.1", 0)
    server.add("POST", "/slack/events", ack, front=True)
    server.add("POST", GITHUB_PATH, github_handler(github_tracker(), "secret", Nobody()))
    await server.start()
    try:
        headers = {
            "X-GitHub-Event": "issues",
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
            "X-Forwarded-For": "203.0.113.9",
        }
        with capture_logs() as logs:
            async with (
                aiohttp.ClientSession() as client,
                client.post(server.url + GITHUB_PATH, data=b"{}", headers=headers) as r,
            ):
                assert r.status == 401
        refused = [e for e in logs if e["event"] == "webhook.github.bad_signature"]
        assert [e["remote"] for e in refused] == ["127.0.0.1"]
    finally:
        await server.stop()
