"""Posted once, even across a crash (issue #10): every post carries its outbox row id in
Slack message ``metadata``, and a re-send that may already have reached Slack looks for
it first.

A worker that dies after Slack accepted ``chat.postMessage`` and before the outbox
marked the row sent, or an attempt that timed out, leaves a row that is delivered again
with ``DeliveryContext.maybe_posted_since`` set. Only then does :class:`Posted` read the
place's recent history — ``conversations.history`` for a top-level post,
``conversations.replies`` for a thread reply, ``include_all_metadata=true``, no older
than the row (less ``SKEW`` for the two clocks) — for a bot message carrying that id.
Found: its ref is returned and the row is recorded as sent, nothing is posted.

Pacing: the lookup runs inside the send slot the outbox's pacer granted for the
channel, and both methods are Slack's Tier 3 (about 50 calls a minute per workspace),
which ``LOOKUPS_PER_MINUTE`` keeps this process under (a turn more than ``MAX_WAIT``
away fails the delivery, to be retried, rather than hold a claimed row); one read
serves every row of that conversation handed over before it started; a 429 surfaces
as a ``DeliveryError`` with its ``Retry-After`` and the row is retried then (still
looking first). Where the bot cannot read (no history scope, not a member), it says so
in the log and the next place is looked in; where none can be read, it posts: the old
behaviour, never a lost message. The first place that could be read and does not hold
the message ends the search: an earlier attempt would have posted there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import error_code
from bot.ports import DeliveryError, PlatformRef

log = logging.getLogger(__name__)

EVENT_TYPE = "casebot_delivery"
SKEW = 60.0  # seconds: our clock against Slack's, when cutting the history short
PAGE = 200  # messages per history page
PAGES = 5  # pages read at most: the lookup's span (the window beyond it remains)
LOOKUPS_PER_MINUTE = 40  # under Tier 3's 50, for this process
MAX_WAIT = 2.0  # seconds a look-up may wait for its turn (well inside a row's lease)
KEPT = 1000  # conversations whose last read is remembered
# Where the bot cannot read history: post (as before) rather than hold the message up.
_CANNOT_READ = frozenset(
    {
        "missing_scope",
        "not_in_channel",
        "channel_not_found",
        "thread_not_found",
        "is_archived",
        "access_denied",
    }
)


def metadata(delivery_id: str | None) -> dict[str, Any] | None:
    """The ``metadata`` of a post: which outbox row it delivers."""
    if delivery_id is None:
        return None
    return {"event_type": EVENT_TYPE, "event_payload": {"delivery": delivery_id}}


def delivery_of(message: dict[str, Any]) -> str | None:
    """The outbox row id a message from history delivers, if it is a post of ours."""
    meta = message.get("metadata")
    if not message.get("bot_id") or not isinstance(meta, dict):
        return None
    payload = meta.get("event_payload")
    if meta.get("event_type") != EVENT_TYPE or not isinstance(payload, dict):
        return None
    delivery = payload.get("delivery")
    return None if delivery is None else str(delivery)


class CannotRead(Exception):
    """The bot may not read this conversation's history (its Slack error code)."""


class Allowance:
    """At most ``per_minute`` calls in any 60 s, in this process. A turn further away
    than ``max_wait`` is not waited for (a claimed row must not outlive its lease
    here): the delivery fails, to be retried, still looking first."""

    def __init__(
        self,
        per_minute: int = LOOKUPS_PER_MINUTE,
        max_wait: float = MAX_WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.max_wait = max_wait
        self.clock = clock
        self.calls: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        async with self._lock:
            now = self.clock()
            while self.calls and now - self.calls[0] >= 60.0:
                self.calls.popleft()
            if len(self.calls) >= self.per_minute:
                wait = 60.0 - (now - self.calls[0])
                if wait > self.max_wait:
                    raise DeliveryError(
                        f"Slack history look-ups are used up for {wait:.0f}s; retrying later"
                    )
                await asyncio.sleep(wait)
                self.calls.popleft()
            self.calls.append(self.clock())


@dataclass
class _Read:
    """What one look at a conversation saw: our posts by outbox row id."""

    started: float
    oldest: float
    posts: dict[str, str]  # delivery id → ts
    complete: bool  # the whole span since ``oldest`` was read


class Posted:
    """Finds the message an earlier attempt at a delivery already posted.

    Rows taken over together (a dead worker's batch) mostly target the same channel:
    one read serves every row that was handed over before it started — their earlier
    attempts were over by then, so what it did not see was not posted."""

    def __init__(
        self,
        web: AsyncWebClient,
        allowance: Allowance | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.web = web
        self.allowance = allowance or Allowance()
        self.clock = clock
        self.found = 0  # re-sends answered from history (for logs and tests)
        self._reads: dict[tuple[str, str | None], _Read] = {}
        self._locks: dict[tuple[str, str | None], asyncio.Lock] = {}

    async def find(
        self, channel: str, thread: str | None, delivery_id: str, since: datetime
    ) -> PlatformRef | None:
        """The post of ``delivery_id`` in ``channel`` (in ``thread``: among its
        replies), None when it is not there; :class:`CannotRead` when the bot may not
        read that conversation."""
        asked = self.clock()
        oldest = max(since.timestamp() - SKEW, 0.0)
        key = (channel, thread)
        if len(self._locks) > KEPT:
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            self._reads = {k: v for k, v in self._reads.items() if k in self._locks}
        async with self._locks.setdefault(key, asyncio.Lock()):
            read = self._reads.get(key)
            if read is None or read.started < asked or read.oldest > oldest:
                read = self._reads[key] = await self._read(channel, thread, oldest)
        ts = read.posts.get(delivery_id)
        if ts is not None:
            self.found += 1
            log.info("delivery %s was posted already (%s %s)", delivery_id, channel, ts)
            return PlatformRef(channel, ts, thread or ts)
        if not read.complete:
            log.warning(
                "delivery %s: not in the last %d messages of %s", delivery_id, PAGES * PAGE, channel
            )
        return None

    async def _read(self, channel: str, thread: str | None, oldest: float) -> _Read:
        read = _Read(self.clock(), oldest, {}, complete=False)
        cursor: str | None = None
        for _ in range(PAGES):
            try:
                page = await self._page(channel, thread, f"{oldest:.6f}", cursor)
            except SlackApiError as exc:
                if error_code(exc) not in _CANNOT_READ:
                    raise
                log.warning(
                    "cannot read %s to look for earlier posts (%s)", channel, error_code(exc)
                )
                raise CannotRead(error_code(exc)) from exc
            for m in page.get("messages") or []:
                delivery = delivery_of(m)
                if delivery is not None and (thread is None or m.get("ts") != thread):
                    read.posts.setdefault(delivery, str(m["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                read.complete = True
                break
        return read

    async def _page(
        self, channel: str, thread: str | None, oldest: str, cursor: str | None
    ) -> dict[str, Any]:
        await self.allowance.turn()
        if thread is not None:
            response = await self.web.conversations_replies(
                channel=channel,
                ts=thread,
                oldest=oldest,
                include_all_metadata=True,
                limit=PAGE,
                cursor=cursor,
            )
        else:
            response = await self.web.conversations_history(
                channel=channel,
                oldest=oldest,
                include_all_metadata=True,
                limit=PAGE,
                cursor=cursor,
            )
        return dict(response.data) if isinstance(response.data, dict) else {}


__all__ = ["EVENT_TYPE", "Allowance", "CannotRead", "Posted", "delivery_of", "metadata"]
