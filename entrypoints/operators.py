"""The operators' surface (``SURFACES["operators"]``): ``/readyz`` and ``/metrics`` on
the shared HTTP server. Wanted when the process is given a port for them
(``CASEBOT_HTTP_PORT``), in every mode that serves HTTP, unless
``CASEBOT_OPERATORS=off``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from adapters.web import WebServer, operators
from bot.config import Config
from storage import operations

if TYPE_CHECKING:
    from entrypoints.bootstrap import Casebot


def wanted(config: Config, env: Mapping[str, str]) -> bool:
    if env.get("CASEBOT_OPERATORS", "").strip().lower() in ("off", "0", "false", "no"):
        return False
    return bool(env.get("CASEBOT_HTTP_PORT", "").strip())


def mount(server: WebServer, bot: Casebot, env: Mapping[str, str]) -> None:
    checks = {"database": bot.db.ping}
    if env.get("CASEBOT_REDIS_URL", "").strip():

        async def redis() -> None:
            # The coordination notices Redis going away and coming back by itself.
            if not bot.runtime.coordination.available:
                raise ConnectionError("Redis is not answering")

        checks["redis"] = redis

    async def figures() -> operations.Figures:
        async with bot.db.read() as s:
            return await operations.figures(s, bot.clock.now())

    operators.mount(server, checks, figures)
