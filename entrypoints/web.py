"""The web surfaces casebot serves on its one HTTP server, by name.

Each entry is a module with ``wanted(config, env) -> bool`` (it has something to serve
with this configuration) and ``mount(server, bot, env) -> None`` (adds its routes to the
:class:`~adapters.web.WebServer` before it starts). Slack's ``/slack/events`` is not
here: the Slack platform mounts it itself from ``PlatformOptions.web``.

The server runs with ``--http`` (on ``--port``), else on ``CASEBOT_HTTP_PORT`` when it is
set, else on the default port when a surface is wanted; otherwise not at all.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, cast

from adapters.web import WebServer, public_url_from_env
from bot.config import Config
from bot.ports import PlatformError, PlatformOptions

if TYPE_CHECKING:
    from entrypoints.bootstrap import Casebot

# name -> module; each mounts its routes on the shared server.
SURFACES: dict[str, str] = {
    "email_links": "adapters.email.links",
    "dashboard": "entrypoints.dashboard",
    "operators": "entrypoints.operators",
    "trackers": "entrypoints.trackers",  # tracker webhooks (issue #12)
}


class Surface(Protocol):
    def wanted(self, config: Config, env: Mapping[str, str]) -> bool: ...

    def mount(self, server: WebServer, bot: Casebot, env: Mapping[str, str]) -> None: ...


def surfaces(config: Config, env: Mapping[str, str]) -> list[Surface]:
    found = [cast(Surface, importlib.import_module(path)) for path in SURFACES.values()]
    return [s for s in found if s.wanted(config, env)]


def http_port(env: Mapping[str, str]) -> int | None:
    raw = env.get("CASEBOT_HTTP_PORT", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise PlatformError(f"CASEBOT_HTTP_PORT must be a port number, not '{raw}'")
    return int(raw)


def server_for(
    options: PlatformOptions, env: Mapping[str, str], wanted: list[Surface]
) -> WebServer | None:
    """The process's HTTP server for these options, or None when nothing needs one."""
    port = options.port if options.http else http_port(env)
    if port is None and wanted:
        port = options.port
    if port is None:
        return None
    return WebServer(options.host, port, public_url_from_env(env))


async def start(server: WebServer) -> None:
    try:
        await server.start()
    except OSError as exc:
        raise PlatformError(
            f"cannot listen on {server.host}:{server.port} ({exc.strerror or exc}): "
            "set CASEBOT_HTTP_PORT or --port to a free port"
        ) from None
