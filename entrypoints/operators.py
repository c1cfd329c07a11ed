"""The operators' surface (``SURFACES["operators"]``): ``/readyz`` and ``/metrics`` on
the shared HTTP server. Wanted when the process is given a port for them
(``CASEBOT_HTTP_PORT``), in every mode that serves HTTP, unless
``CASEBOT_OPERATORS=off``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.web import WebServer, operators
from bot.config import Config
from storage import operations
from storage.inbox import InboxRow

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

    async def inbox() -> dict[str, int]:
        return await bot.runtime.inbox.store.run(inbox_by_state)

    operators.mount(server, checks, figures, inbox)


def inbox_by_state(s: Session, _sqlite: bool) -> dict[str, int]:
    """The inbox rows by state (a ``storage.inbox.Store.run`` operation: on SQLite the
    inbox is a file of its own)."""
    rows = s.execute(select(InboxRow.state, func.count()).group_by(InboxRow.state)).all()
    return {str(state): int(n) for state, n in rows}
