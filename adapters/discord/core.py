"""What the Discord adapter uses of the core, as protocols.

The adapter is written against these (``bot.app.Casebot`` satisfies them): the command
layer for events in (see docs/adapters.md), the configuration for addresses, and
``register_adapter`` for messages out.
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.config import Config
from commands.api import Context, Prompt, Reply


class Commands(Protocol):
    async def run(self, ctx: Context, text: str) -> Reply | None: ...

    async def press(
        self, ctx: Context, action_id: str, value: str | None = None
    ) -> Reply | None: ...

    async def submit(self, ctx: Context, form_id: str, values: dict[str, str]) -> Reply | None: ...

    async def thread_message(self, ctx: Context, text: str) -> Reply | None: ...

    async def autocomplete(self, ctx: Context, prefix: str) -> list[tuple[str, str]]: ...

    def open_form(self) -> Prompt: ...


class Core(Protocol):
    @property
    def commands(self) -> Any: ...

    @property
    def config(self) -> Config: ...

    def register_adapter(self, adapter: Any) -> None: ...


PLATFORM = "discord"


def discord_user_of(config: Config, person_id: str) -> str | None:
    """A core person id → that person's Discord user id.

    Configured people carry it in ``identities.discord``; customers casebot only knows
    from Discord have person ids like ``discord:123`` (docs/adapters.md).
    """
    prefix = PLATFORM + ":"
    if person_id.startswith(prefix):
        rest = person_id[len(prefix) :]
        return rest if rest.isdigit() else None
    person = config.person(person_id)
    if person is None:
        return None
    ident = person.identities.get(PLATFORM)
    return str(ident) if ident and str(ident).isdigit() else None


def team_channel_ids(config: Config) -> set[int]:
    """Every configured team channel on Discord (where alerts and case threads live)."""
    ids: set[int] = set()
    for team in config.teams:
        channel = team.channels.get(PLATFORM)
        if channel and str(channel).isdigit():
            ids.add(int(channel))
    return ids
