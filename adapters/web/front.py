"""The front door: acknowledgements on an event loop of their own.

Slack wants an answer within 3 seconds, and casebot wants it within tens of
milliseconds (``bench/slack_ack.py``), however busy the core is. A request that must
be acknowledged at once (a *front* route: ``POST /slack/events``) is served here, on a
thread running an event loop of its own, so that it shares only the interpreter lock
with the core, not its loop: a use case step or a delivery that holds the core's loop
for 100 ms no longer holds the acknowledgements behind it. Such a handler only checks
the request, commits it to the durable inbox (from this thread) and hands the work to
the core's loop.

Every other request (the dashboard, ``/healthz``, ``/readyz``, ``/metrics``, the
trackers' webhooks, the mail links) is passed on unchanged over HTTP to the core's
own server, which listens on a Unix socket only this process knows: those handlers
keep running on the core's loop with the objects they share with it, and they answer
exactly as they did on the port itself (status, headers, cookies, streamed bodies).
The proxy is the standard one, written here because it is forty lines of aiohttp (a
reverse-proxy library would add a dependency and a process for what one client
session does); it drops the hop-by-hop headers (RFC 9110 §7.6.1) and says who asked
in ``X-Forwarded-For``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Not passed on by a proxy (RFC 9110 §7.6.1), plus the framing aiohttp sets itself.
_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Content-Length",
    )
)
# aiohttp's server has already decoded a compressed request body; answers pass on as
# they came (not decoded), so their Content-Encoding stays.
_HOP_IN = _HOP | {"content-encoding"}
# The interpreter hands the lock between threads this often (the default is 5 ms):
# an acknowledgement waits at most about this long for the core's thread to let go.
SWITCH_INTERVAL = 0.001


def peer(request: web.Request) -> str:
    """Who sent a request, for the logs: the peer's address; behind the front door (the
    core's server listens on a Unix socket that only the front door reaches, so the
    peer has no address) the one the front door appended to ``X-Forwarded-For`` —
    its last entry, never an earlier one a client could have written itself."""
    if request.remote:
        return request.remote
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.rsplit(",", 1)[-1].strip() or "unknown"


class FrontDoor:
    """The public port: front routes served on this thread's loop, the rest proxied to
    the core's server at ``back`` (a Unix socket path)."""

    def __init__(
        self, host: str, port: int, back: str, routes: list[tuple[str, str, Handler]], max_body: int
    ) -> None:
        self.host = host
        self.port = port
        self.back = back
        self.routes = routes
        self.max_body = max_body
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._switch: float | None = None

    # -- life (called from the core's loop) --------------------------------------------

    async def start(self) -> None:
        """Listen on ``host:port`` (``port=0`` picks one; ``port`` then says which)."""
        ready: Future[int] = Future()
        self._thread = threading.Thread(
            target=self._main, args=(ready,), name="casebot-front-door", daemon=True
        )
        self._thread.start()
        try:
            self.port = await asyncio.wrap_future(ready)
        except BaseException:
            self._thread.join(timeout=5)
            self._thread = None
            raise
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch, SWITCH_INTERVAL))

    async def stop(self) -> None:
        loop, thread, stopped = self._loop, self._thread, self._stopped
        self._thread = None
        if loop is None or thread is None or stopped is None:
            return
        loop.call_soon_threadsafe(stopped.set)
        await asyncio.to_thread(thread.join, 10)
        if self._switch is not None:
            sys.setswitchinterval(self._switch)
            self._switch = None

    # -- the thread ------------------------------------------------------------------

    def _main(self, ready: Future[int]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as exc:  # noqa: BLE001 - told to the starter
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.exception("http: the front door failed")
        finally:
            # Whatever the front routes left running (the inbox's group commit on this
            # loop) ends with the loop instead of being destroyed pending.
            leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in leftover:
                task.cancel()
            if leftover:
                loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, ready: Future[int]) -> None:
        self._stopped = asyncio.Event()
        app = web.Application(client_max_size=self.max_body + 1)
        for method, path, handler in self.routes:
            app.router.add_route(method, path, handler)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        connector = aiohttp.UnixConnector(path=self.back, limit=64)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False
        ) as self._client:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                site = web.TCPSite(runner, self.host, self.port)
                await site.start()
                sockets = getattr(site._server, "sockets", None) or []
                ready.set_result(int(sockets[0].getsockname()[1]) if sockets else self.port)
                await self._stopped.wait()
            finally:
                await runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in _HOP_IN
        )
        if request.remote:
            earlier = request.headers.get("X-Forwarded-For")
            headers["X-Forwarded-For"] = (
                f"{earlier}, {request.remote}" if earlier else request.remote
            )
        body = await request.read() if request.can_read_body else None
        try:
            upstream = await self._client.request(
                request.method,
                f"http://casebot{request.rel_url}",
                headers=headers,
                data=body,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("http: the core's server did not answer %s: %r", request.path, exc)
            return web.Response(status=502, text="casebot is not answering; try again.")
        async with upstream:
            answer = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in _HOP:
                    answer.headers.add(name, value)
            await answer.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await answer.write(chunk)
            await answer.write_eof()
            return answer
