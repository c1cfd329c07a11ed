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
which ``LOOKUPS_PER_MINUTE`` keeps this process under; a 429 surfaces as a
``DeliveryError`` with its ``Retry-After`` and the row is retried then (still
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
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import error_code
from bot.ports import PlatformRef

log = logging.getLogger(__name__)

EVENT_TYPE = "casebot_delivery"
SKEW = 60.0  # seconds: our clock against Slack's, when cutting the history short
PAGE = 200  # messages per history page
PAGES = 5  # pages read at most: the lookup's span (the window beyond it remains)
LOOKUPS_PER_MINUTE = 40  # under Tier 3's 50, for this process
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


def delivers(message: dict[str, Any], delivery_id: str) -> bool:
    """Is ``message`` (from history) a bot post of that outbox row?"""
    meta = message.get("metadata")
    if not message.get("bot_id") or not isinstance(meta, dict):
        return False
    payload = meta.get("event_payload")
    return (
        meta.get("event_type") == EVENT_TYPE
        and isinstance(payload, dict)
        and str(payload.get("delivery")) == delivery_id
    )


class CannotRead(Exception):
    """The bot may not read this conversation's history (its Slack error code)."""


class Allowance:
    """At most ``per_minute`` calls in any 60 s, in this process (waits for a turn)."""

    def __init__(
        self,
        per_minute: int = LOOKUPS_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.calls: deque[float] = deque()
        self.waited = 0.0
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        async with self._lock:
            now = self.clock()
            while self.calls and now - self.calls[0] >= 60.0:
                self.calls.popleft()
            if len(self.calls) >= self.per_minute:
                wait = 60.0 - (now - self.calls[0])
                self.waited += wait
                await asyncio.sleep(wait)
                self.calls.popleft()
            self.calls.append(self.clock())


class Posted:
    """Finds the message an earlier attempt at a delivery already posted."""

    def __init__(self, web: AsyncWebClient, allowance: Allowance | None = None) -> None:
        self.web = web
        self.allowance = allowance or Allowance()
        self.found = 0  # re-sends answered from history (for logs and tests)

    async def find(
        self, channel: str, thread: str | None, delivery_id: str, since: datetime
    ) -> PlatformRef | None:
        """The post of ``delivery_id`` in ``channel`` (in ``thread``: among its
        replies), None when it is not there; :class:`CannotRead` when the bot may not
        read that conversation."""
        oldest = f"{max(since.timestamp() - SKEW, 0.0):.6f}"
        cursor: str | None = None
        for _ in range(PAGES):
            try:
                page = await self._page(channel, thread, oldest, cursor)
            except SlackApiError as exc:
                if error_code(exc) not in _CANNOT_READ:
                    raise
                log.warning(
                    "cannot look for delivery %s in %s (%s)", delivery_id, channel, error_code(exc)
                )
                raise CannotRead(error_code(exc)) from exc
            for m in page.get("messages") or []:
                if delivers(m, delivery_id) and (thread is None or m.get("ts") != thread):
                    self.found += 1
                    ts = str(m["ts"])
                    log.info("delivery %s was posted already (%s %s)", delivery_id, channel, ts)
                    return PlatformRef(channel, ts, thread or ts)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return None
        log.warning(
            "delivery %s: not in the last %d messages of %s", delivery_id, PAGES * PAGE, channel
        )
        return None

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


__all__ = ["EVENT_TYPE", "Allowance", "CannotRead", "Posted", "delivers", "metadata"]
