"""The core's ports: what adapters and infrastructure plug into.

Adapters implement :class:`PlatformAdapter` (messages out); they call
``commands.CaseCommands`` (events in). The core depends only on these protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.messages import Message


@dataclass(frozen=True)
class PlatformRef:
    """Where a delivered message lives on its platform.

    ``channel``: the channel / DM / thread-parent id it was posted in.
    ``message_id``: Slack ``ts`` / Discord message id.
    ``thread_id``: the thread it lives in or opened (Slack: the parent ``ts``; Discord:
    the thread channel id), so later messages can go into that thread.
    """

    channel: str
    message_id: str
    thread_id: str | None = None


@dataclass(frozen=True)
class DeliveryContext:
    """What the dispatcher knows that an adapter needs to place a message."""

    # The same ``Message.ref`` delivered before on this platform (for update in place).
    previous: PlatformRef | None = None
    # The case's customer-facing thread and the staff thread, once they exist.
    customer_thread: PlatformRef | None = None
    staff_thread: PlatformRef | None = None
    # Where the case was opened on this platform (channel id), if known.
    origin_channel: str | None = None
    # Platform user ids of the case's customer (opener) and assigned engineer, if any.
    customer_user: str | None = None
    assignee_user: str | None = None
    # The case's team channel on this platform (where its private thread lives on Discord).
    team_channel: str | None = None
    # Stable across retries of this one notification (the outbox row id): a platform
    # idempotency key (Discord's nonce) can be derived from it.
    delivery_id: str | None = None


class DeliveryError(Exception):
    """A delivery failed. ``retry_after`` (seconds) when the platform said so;
    ``permanent`` when retrying cannot help (unknown channel, bad request)."""

    def __init__(self, reason: str, *, retry_after: float | None = None, permanent: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent


@runtime_checkable
class PlatformAdapter(Protocol):
    """One chat platform. ``deliver`` posts (or, with ``message.update`` and a
    ``previous`` ref, edits) one neutral message and returns where it landed."""

    name: str

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
