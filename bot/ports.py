"""The core's ports: what adapters and infrastructure plug into.

- :class:`Platform`: one chat platform (or the console). The bootstrap starts it with
  the :class:`Core` (events in: what an adapter may call) and the outbox dispatcher
  calls its ``deliver`` (messages out) with a :class:`DeliveryContext` that already
  holds every address the message needs.
- :class:`Core`: the command layer as adapters see it.
- :class:`Coordination`: de-duplication, case locks, rate windows and wake-ups shared
  between workers (in-process, or Redis).
- :class:`Clock`.
- :class:`Links`: signed links to the web pages, when a process serves them.

The core depends only on these protocols; the bootstrap plugs the implementations in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from bot.config import Config
from bot.exchange import Context, HomeView, Prompt, Reply
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
    # The case's account's own channel on this platform, if it has one.
    account_channel: str | None = None
    # The team's staff-only channel on this platform (``teams[].staff_channels``), if any:
    # where staff threads go when customers can see the team channel.
    staff_channel: str | None = None
    # Stable across retries of this one notification (the outbox row id): a platform
    # idempotency key (Discord's nonce) can be derived from it.
    delivery_id: str | None = None
    # Set when an earlier attempt at this notification may have reached the platform (a
    # worker died holding it, or an attempt failed with an unknown outcome): no message
    # of it can be older than this (the row's creation). None on a first attempt, so
    # only these pay for a platform's "was it posted already?" lookup.
    maybe_posted_since: datetime | None = None
    # The message's own target on this platform, resolved by the core: a user id for a
    # person, a channel id for a team (None when they have none here).
    address: str | None = None
    # The platform user ids of ``message.mentions`` (people to bring into a thread).
    mention_users: tuple[str, ...] = ()


class DeliveryError(Exception):
    """A delivery failed. ``retry_after`` (seconds) when the platform said so;
    ``permanent`` when retrying cannot help (unknown channel, bad request)."""

    def __init__(self, reason: str, *, retry_after: float | None = None, permanent: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent


class Core(Protocol):
    """What an adapter may call: the ``/case`` command set for every door a request can
    come through. Every method answers with what the acting person sees; none raises
    for a bad request (a refusal is a :class:`~bot.exchange.Reply` with ``ok`` False)."""

    @property
    def config(self) -> Config: ...

    async def run(self, ctx: Context, text: str) -> Reply:
        """``/case <text>`` as typed."""
        ...

    async def invoke(self, ctx: Context, name: str, args: Mapping[str, Any]) -> Reply:
        """A subcommand with its parameters already typed (Discord's options)."""
        ...

    async def press(self, ctx: Context, action_id: str, value: str | None = None) -> Reply:
        """A button (``case:CASE-3:claim``), with a select menu's value if any."""
        ...

    async def submit(self, ctx: Context, form_id: str, values: Mapping[str, str]) -> Reply:
        """A submitted form (a :class:`~bot.exchange.Prompt`'s answers)."""
        ...

    async def thread_message(self, ctx: Context, text: str) -> Reply | None:
        """A plain message; None when it was not written in a case conversation."""
        ...

    async def autocomplete(self, ctx: Context, prefix: str) -> list[tuple[str, str]]: ...

    async def home(self, ctx: Context) -> HomeView: ...

    def open_form(self) -> Prompt: ...


@dataclass(frozen=True)
class PlatformOptions:
    """How the entry point wants a platform run. ``receive`` False: delivery only
    (``casebot worker``); ``http``/``host``/``port``: serve platform requests over HTTP
    (Slack's Events API) instead of a socket."""

    receive: bool = True
    http: bool = False
    host: str = "127.0.0.1"
    port: int = 3000
    # Awaited after a platform has handled a person's input, so what it caused is
    # delivered before the next input (the console; the runtime's ``drain``).
    settle: Callable[[], Awaitable[None]] | None = None
    # The process's shared HTTP server (``adapters.web.WebServer``) to mount on, when
    # the entry point runs one; a platform without it serves HTTP itself.
    web: Any = None
    # The process's clock when it is a fake one the console may move (`--fake-clock`).
    clock: Any = None


class PlatformError(Exception):
    """A platform cannot start; the message (one line) says what to fix."""


@runtime_checkable
class Platform(Protocol):
    """One chat platform (or the console), started and stopped the same way by the
    CLI, the worker and the tests.

    ``start(core)`` connects and begins receiving (a delivery-only platform, as in
    ``casebot worker``, only connects); ``stop()`` disconnects; ``finished()`` returns
    when the platform ended by itself (the console's ``quit``), never for the others.
    ``deliver`` posts (or, with ``message.update`` and a ``previous`` ref, edits) one
    neutral message and returns where it landed.
    """

    name: str

    async def start(self, core: Core) -> None: ...

    async def stop(self) -> None: ...

    async def finished(self) -> None: ...

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None: ...


@runtime_checkable
class Outlet(Protocol):
    """The part of a platform the outbox needs: a name and ``deliver``."""

    name: str

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None: ...


WakeCallback = Callable[[], None]


class Coordination(Protocol):
    """Shared between workers: which events were handled, which cases are held, the
    platforms' rate windows, and wake-ups when work is queued."""

    name: str

    @property
    def available(self) -> bool: ...

    async def start(self, on_wake: WakeCallback | None = None) -> None: ...

    async def close(self) -> None: ...

    async def seen(self, key: str) -> bool: ...

    async def remember(self, key: str) -> None: ...

    def lock(self, name: str) -> AbstractAsyncContextManager[Any]: ...

    async def reserve(self, windows: Sequence[Any], max_wait: float) -> Any: ...

    async def release(self, reservation: Any) -> None: ...

    async def block(self, window: Any, seconds: float) -> None: ...

    def notify_nowait(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Accepted:
    """A platform request written to the inbox before it was acknowledged (issue #10):
    ``delivery`` is the platform's id of it, ``payload`` what the adapter needs to
    handle it again in another process; ``waited`` how long after it was accepted it
    was handed over (nothing on the fast path; a lease or more on a takeover), which
    tells an adapter whether the platform still lets it answer the request in place."""

    id: int
    platform: str
    delivery: str
    kind: str
    payload: dict[str, Any]
    attempts: int = 1
    waited: timedelta = timedelta(0)


InboxHandler = Callable[[Accepted], Awaitable[None]]


class Inbox(Protocol):
    """Acknowledged requests survive a crash: ``accept`` commits a row before the ack
    (None: this delivery was accepted before); ``handle`` runs the platform's handler
    and marks the row done; rows whose worker died are handed to ``serve``'s handler
    of their platform, in any process, once their lease runs out."""

    async def accept(
        self, platform: str, delivery: str, kind: str, payload: dict[str, Any]
    ) -> Accepted | None: ...

    def serve(self, platform: str, handler: InboxHandler) -> None: ...

    def unserve(self, platform: str, handler: InboxHandler) -> None: ...

    async def handle(self, entry: Accepted) -> None: ...

    async def answer_of(self, delivery: str) -> str | None: ...


@runtime_checkable
class UsesInbox(Protocol):
    """A platform that writes its requests to the inbox (given before ``start``)."""

    def use_inbox(self, inbox: Inbox) -> None: ...


class Links(Protocol):
    """Signed links to the web pages casebot serves (``adapters.web.dashboard``): the
    entry point that serves them plugs an implementation in; without one, the commands
    that give links say the pages are not served."""

    def sign_in(self, person_id: str) -> str:
        """A short-lived, single-use link that starts a dashboard session."""
        ...

    def transcript(self, person_id: str, case_key: str) -> str:
        """A link to the read-only transcript of ``case_key`` for ``person_id``."""
        ...
