"""The shared HTTP server (aiohttp, which Slack's adapter already serves with).

Surfaces add their routes before :meth:`WebServer.start` (aiohttp freezes the router
then); ``GET /healthz`` reports every surface's health. ``public_url`` is what links
given to people start with: ``CASEBOT_PUBLIC_URL``, else the address the server
listens on.

A route added with ``front=True`` must be answered at once whatever the core is doing
(Slack's events): the port is then the :class:`~adapters.web.front.FrontDoor`'s, which
serves those routes on a thread of their own and passes every other request on to this
server, listening on a private Unix socket.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from adapters.web.front import FrontDoor, Handler

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
# The largest request body any surface accepts (Slack's gate refuses more itself).
MAX_BODY = 1024 * 1024


def public_url_from_env(env: Mapping[str, str]) -> str | None:
    url = env.get("CASEBOT_PUBLIC_URL", "").strip().rstrip("/")
    return url or None


class WebServer:
    """One aiohttp application, its routes added by the surfaces, served on one port."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 3000, public_url: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self._public_url = public_url
        self.app = web.Application(client_max_size=MAX_BODY + 1)
        self._health: dict[str, Callable[[], Mapping[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self._front: list[tuple[str, str, Handler]] = []
        self._door: FrontDoor | None = None
        self._socket_dir: str | None = None
        self.app.router.add_get(HEALTH_PATH, self._healthz)

    # -- what surfaces call -------------------------------------------------------------

    def add(self, method: str, path: str, handler: Handler, *, front: bool = False) -> None:
        """Serve ``method path`` with ``handler`` (before :meth:`start`); ``front``: on
        the front door's own thread and loop (the handler must not touch objects of the
        core's loop except through thread-safe hand-overs)."""
        if front:
            self._front.append((method, path, handler))
        else:
            self.app.router.add_route(method, path, handler)

    def add_static(self, prefix: str, folder: str) -> None:
        self.app.router.add_static(prefix, folder)

    def health(self, name: str, report: Callable[[], Mapping[str, Any]]) -> None:
        """Include ``report()`` under ``name`` in ``GET /healthz``."""
        self._health[name] = report

    @property
    def public_url(self) -> str:
        return self._public_url or self.url

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    # -- life ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; ``port=0`` picks a free port (then ``port`` says which)."""
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site: web.BaseSite
        if self._front:
            self._socket_dir = tempfile.mkdtemp(prefix="casebot-")
            back = os.path.join(self._socket_dir, "back.sock")
            site = web.UnixSite(runner, back)
        else:
            site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
            if self._front:
                door = FrontDoor(self.host, self.port, back, self._front, MAX_BODY)
                await door.start()
                self._door, self.port = door, door.port
            else:
                server = site._server  # aiohttp exposes the bound sockets only here
                sockets = getattr(server, "sockets", None) or []
                if sockets:
                    self.port = int(sockets[0].getsockname()[1])
        except OSError:
            await runner.cleanup()
            self._remove_socket()
            raise
        self._runner = runner
        log.info("http: listening on %s", self.url)

    async def stop(self) -> None:
        if self._door is not None:
            door, self._door = self._door, None
            await door.stop()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        self._remove_socket()

    def _remove_socket(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    async def _healthz(self, request: web.Request) -> web.Response:
        parts = {name: dict(report()) for name, report in self._health.items()}
        ok = all(part.get("ok", True) for part in parts.values())
        return web.json_response({"ok": ok, **parts}, status=200 if ok else 503)
