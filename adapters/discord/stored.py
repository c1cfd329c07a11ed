"""Discord requests as inbox rows, and back: what another process needs to handle one.

discord.py keeps no raw payload on its objects, so :class:`Captured` keeps the gateway's
``INTERACTION_CREATE`` and ``MESSAGE_CREATE`` payloads for a moment (by id) as they
arrive, until the adapter has written them to the inbox. :func:`interaction_of` and
:func:`message_of` build discord.py's objects from a stored payload exactly as the
gateway would have, in any process logged in as the bot: the rebuilt interaction
answers through its token (follow-ups and edits are webhooks and need no session).
Both lean on discord.py's ``ConnectionState`` (``client._connection``), the one place
that turns payloads into objects; ``tests/discord/test_inbox.py`` notices if that moves.

A subcommand's options are stored as the core gets them (:func:`encode_args`), a person
as ``{"person": [platform, id]}``: never as text to parse again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import discord

from adapters.common import RecentKeys
from bot.exchange import PersonRef

Json = dict[str, Any]

CAPTURED = ("INTERACTION_CREATE", "MESSAGE_CREATE")


class Captured:
    """The last payloads of interactions and messages the gateway delivered, by id."""

    def __init__(self, client: discord.Client, size: int = 2_000) -> None:
        self._raw: RecentKeys[int, Json] = RecentKeys(size=size)
        parsers: dict[str, Callable[[Any], None]] = client._connection.parsers
        for event in CAPTURED:
            parsers[event] = self._keeping(parsers[event])

    def _keeping(self, parse: Callable[[Any], None]) -> Callable[[Any], None]:
        def keep_then_parse(data: Json) -> None:
            if "id" in data:
                self._raw.put(int(data["id"]), data)
            parse(data)

        return keep_then_parse

    def take(self, object_id: int) -> Json | None:
        return self._raw.release(object_id)


def interaction_of(client: discord.Client, raw: Json) -> discord.Interaction[Any]:
    """The interaction ``raw`` describes, as discord.py builds it from the gateway."""
    return discord.Interaction(data=raw, state=client._connection)  # type: ignore[arg-type]


def message_of(client: discord.Client, raw: Json) -> discord.Message:
    """The message ``raw`` describes (its channel from the cache, or a partial one)."""
    state = client._connection
    channel, _ = state._get_guild_channel(raw)  # type: ignore[arg-type]
    return discord.Message(state=state, channel=channel, data=raw)  # type: ignore[arg-type]


def encode_args(args: Mapping[str, Any]) -> Json:
    """Typed options as JSON (str, int and bool as they are; a person as a pair)."""
    out: Json = {}
    for name, value in args.items():
        if isinstance(value, PersonRef):
            value = {"person": [value.platform, value.user_id]}
        out[name] = value
    return out


def decode_args(stored: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in stored.items():
        if isinstance(value, dict) and "person" in value:
            platform, user_id = value["person"]
            value = PersonRef(platform, user_id)
        out[name] = value
    return out
