"""The outbox dispatcher: delivers notifications committed with the changes that
caused them, in order per case and destination, retrying with backoff, exactly once as seen by users.

A row is claimed (state ``sending`` with a lease), paced (:mod:`bot.delivery.pacing`: a send slot
within the platform's rate limits, shared by all workers), delivered, then marked
``sent`` with the platform's message id. A worker that dies between the platform
accepting a message and that last commit leaves a row whose lease expires and is sent
again: that window (one platform round trip plus one commit, a few to a few hundred
milliseconds per message in flight) is the only way a user sees a double.

Failures (5xx, network errors, 429) go back to ``pending`` with exponential backoff and
full jitter, or exactly the ``Retry-After`` a 429 asked for (which also blocks the
channel's shared window, so other workers wait too). A row still failing when the
retry horizon has passed since it was queued is ``failed``: visible with
``casebot outbox list --failed`` and queued again with ``casebot outbox retry``.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, case, exists, literal, or_, select, true
from sqlalchemy.orm import aliased

from bot import metrics
from bot.config import Config
from bot.delivery.digest import DIGEST, Digests, StormRule, prepare
from bot.delivery.pacing import Pacer, channel_key
from bot.delivery.records import delivery_context, record
from bot.durations import parse_duration
from bot.messages import Message
from bot.ports import Clock, DeliveryError, Outlet, PlatformRef
from storage.db import Database
from storage.models import OutboxRow

log = structlog.get_logger(__name__)


@dataclass
class RetryPolicy:
    base: float = 2.0  # seconds
    cap: float = 300.0
    horizon: timedelta = timedelta(hours=24)  # give up (state failed) after this long
    lease: timedelta = timedelta(seconds=60)

    def delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(retry_after, 0.0)
        # Exponential backoff with full jitter.
        return random.uniform(0, min(self.cap, self.base * (2 ** max(attempts - 1, 0))))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetryPolicy:
        """``CASEBOT_OUTBOX_HORIZON`` (e.g. ``24h``), ``CASEBOT_OUTBOX_LEASE`` (``60s``),
        ``CASEBOT_OUTBOX_BACKOFF`` (the first retry's ceiling, ``2s``) and
        ``CASEBOT_OUTBOX_BACKOFF_CAP`` (``5m``)."""
        env = os.environ if env is None else env
        policy = cls()
        if v := env.get("CASEBOT_OUTBOX_HORIZON"):
            policy.horizon = parse_seconds(v)
        if v := env.get("CASEBOT_OUTBOX_LEASE"):
            policy.lease = parse_seconds(v)
        if v := env.get("CASEBOT_OUTBOX_BACKOFF"):
            policy.base = parse_seconds(v).total_seconds()
        if v := env.get("CASEBOT_OUTBOX_BACKOFF_CAP"):
            policy.cap = parse_seconds(v).total_seconds()
        return policy


def parse_seconds(text: str) -> timedelta:
    """``90s``, ``5m``, ``24h``, ``2d`` or a plain (fractional) number of seconds."""
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        return parse_duration(text).approx()


def lane(row: type[OutboxRow] | Any) -> ColumnElement[str]:
    """The destination a case's message keeps its order in: the customer's side (its
    thread opens with the first message), the staff side (the team's card, then the staff
    thread hanging from it) or one person's DM. Lanes never wait for each other, so a
    lead's DM paced behind a storm's alerts holds no case's card back."""
    target = row.message["target"]
    kind = target["kind"].as_string()
    return case(
        (kind == "case_customer", literal("customer")),
        (kind == "person", literal("person:") + target["id"].as_string()),
        else_=literal("staff"),
    )


def claimable(now: datetime) -> ColumnElement[bool]:
    """Due rows with no earlier undelivered row of their case in their lane (so a case's
    messages keep their order where it matters: the thread exists before anything is
    posted into it)."""
    earlier = aliased(OutboxRow)
    blocked = exists().where(
        earlier.case_key == OutboxRow.case_key,
        earlier.platform == OutboxRow.platform,
        earlier.id < OutboxRow.id,
        earlier.state.in_(("pending", "sending")),
        lane(earlier) == lane(OutboxRow),
    )
    return and_(
        or_(
            and_(OutboxRow.state == "pending", OutboxRow.next_attempt_at <= now),
            and_(OutboxRow.state == "sending", OutboxRow.lease_until < now),
        ),
        or_(OutboxRow.case_key.is_(None), ~blocked),
    )


async def claim(
    db: Database,
    now: datetime,
    worker: str,
    platforms: list[str],
    policy: RetryPolicy,
    limit: int = 50,
) -> list[int]:
    if not platforms:
        return []
    async with db.transaction() as s:
        due = and_(claimable(now), OutboxRow.platform.in_(platforms))
        # Digests first: one delivery shows a team twenty cases, so a busy worker's
        # backlog never holds them back (there are few: one page per team at a time).
        rows = list(
            (
                await s.scalars(
                    select(OutboxRow)
                    .where(due, OutboxRow.kind == DIGEST)
                    .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        taken = [r.id for r in rows]
        rows += (
            await s.scalars(
                select(OutboxRow)
                .where(due, OutboxRow.id.not_in(taken) if taken else true())
                # Longest due first: rows a busy channel sent back (paced) never crowd
                # out what is due elsewhere, such as a customer's confirmation.
                .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
                .limit(limit - len(rows))
                .with_for_update(skip_locked=True)
            )
        ).all()
        for r in rows:
            if r.state == "sending":
                # Taken over from a worker whose lease ran out: its attempt may have
                # reached the platform, so it counts (and the adapter may look first).
                r.attempts += 1
            r.state = "sending"
            r.lease_until = now + policy.lease
            r.worker = worker
        return [r.id for r in rows]


@dataclass
class Dispatch:
    """Delivers claimed outbox rows through the running platforms."""

    db: Database
    config: Config
    clock: Clock
    platforms: Mapping[str, Outlet]
    pacer: Pacer | None
    worker: str
    policy: RetryPolicy
    storm: StormRule = field(default_factory=StormRule.from_env)

    async def deliver_one(self, row_id: int) -> bool:
        """Deliver one claimed row. Returns True when it was sent."""
        async with self.db.read() as s:
            row = await s.get(OutboxRow, row_id)
            if row is None or row.state != "sending" or row.worker != self.worker:
                return False
            message = Message.from_dict(row.message)
            ctx = await delivery_context(s, row, message, self.config)
            platform, queued = row.platform, dict(row.message)
            prepare(row.kind, message, ctx)
        adapter: Outlet | None = self.platforms.get(platform)
        if adapter is not None:  # a storm: folded into a digest, or a folded case's card
            digests = Digests(self.db, self.config, self.clock, self.storm)
            if await digests.fold(row_id, self.worker, message, platform, queued):
                return True
            if await digests.fold_lead_alert(row_id, self.worker, message, platform):
                return True
            if not await digests.settle(row_id, self.worker, message, platform):
                return False
        pacer = self.pacer
        channel = ""
        if adapter is not None and pacer is not None:
            channel = channel_key(platform, message, ctx)
            if not await self._paced(pacer, platform, channel, row_id):
                return False
        result: PlatformRef | None = None
        error: DeliveryError | None = None
        if adapter is None:
            error = DeliveryError(f"no {platform} adapter is running")
        else:
            token = pacer.delivering(platform, channel) if pacer is not None else None
            try:
                result = await adapter.deliver(message, ctx)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - a network error is retried like a 5xx
                error = DeliveryError(f"{exc.__class__.__name__}: {exc}")
            finally:
                if token is not None and pacer is not None:
                    pacer.done(token)
            if error is not None and error.retry_after is not None and pacer is not None:
                await pacer.penalize(platform, channel, error.retry_after)
        metrics.delivered(platform, error)
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await s.get(OutboxRow, row_id, with_for_update=True)
            if row is None or row.worker != self.worker or row.state != "sending":
                if error is None:
                    log.warning(
                        "outbox.lease_lost",
                        id=row_id,
                        worker=self.worker,
                        note="delivered after our lease ran out; another worker may deliver it too",
                    )
                return False
            if error is None:
                row.state = "sent"
                row.sent_at = now
                row.attempts += 1
                row.last_error = None
                if result is not None:
                    row.platform_channel = result.channel
                    row.platform_message_id = result.message_id
                    await record(s, message, platform, result)
                if row.message != queued:  # amended meanwhile (a digest): deliver it again
                    row.state, row.next_attempt_at = "pending", now + self.storm.edit_gap
                return True
            row.attempts += 1
            row.last_error = str(error)[:2000]
            since = row.requeued_at or row.created_at
            if error.permanent or now - since >= self.policy.horizon:
                row.state = "failed"
                log.error("outbox.failed", id=row.id, kind=row.kind, error=str(error))
            else:
                row.state = "pending"
                row.next_attempt_at = now + timedelta(
                    seconds=self.policy.delay(row.attempts, error.retry_after)
                )
                log.warning("outbox.retry", id=row.id, attempts=row.attempts, error=str(error))
            return False

    async def _paced(self, pacer: Pacer, platform: str, channel: str, row_id: int) -> bool:
        """Wait for a send slot. False when the row went back to the queue instead.

        A send that starts later than its slot (a busy event loop) would crowd the next
        slot, which another worker may already hold: it gives the slot back and takes a
        fresh one, so the windows count sends when they really happen."""
        loop = asyncio.get_running_loop()
        ahead = pacer.lookahead(platform, channel)
        # Never wait longer in all than the pacer allows (a fraction of the lease), so a
        # row is never still waiting here when another worker may claim it.
        give_up = loop.time() + pacer.max_wait
        for _ in range(8):
            slot = await pacer.reserve(platform, channel)
            if not slot.granted:
                if ahead >= pacer.max_wait or loop.time() + slot.delay > give_up:
                    # The channel's allowance is spoken for further ahead than we wait:
                    # queue the row again for when a slot frees (no attempt is counted).
                    await self.postpone(row_id, slot.delay - ahead / 2)
                    return False
                # Near enough, but more than a window ahead: ask again closer to it.
                await self._sleep_or_give_back(row_id, slot.delay - ahead / 2)
                continue
            if loop.time() + slot.delay > give_up:
                await pacer.release(slot)
                await self.postpone(row_id, slot.delay)
                return False
            due = loop.time() + slot.delay
            if slot.delay > 0:
                await self._sleep_or_give_back(row_id, slot.delay)
            if loop.time() - due <= pacer.tolerance:
                return True
            pacer.late += 1
            await pacer.release(slot)
        await self.postpone(row_id, 0.0)
        return False

    async def _sleep_or_give_back(self, row_id: int, seconds: float) -> None:
        try:
            await asyncio.sleep(max(seconds, 0.0))
        except asyncio.CancelledError:
            await asyncio.shield(self.postpone(row_id, 0.0))
            raise

    async def postpone(self, row_id: int, seconds: float) -> None:
        """Give a claimed row back to the queue, due in ``seconds``."""
        async with self.db.transaction() as s:
            row = await s.get(OutboxRow, row_id, with_for_update=True)
            if row is None or row.worker != self.worker or row.state != "sending":
                return
            row.state = "pending"
            row.next_attempt_at = self.clock.now() + timedelta(seconds=max(seconds, 0.0))
            row.lease_until = None
            row.worker = None

    async def deliver_claimed(self, ids: Sequence[int], concurrency: int = 1) -> int:
        """Deliver claimed rows (of different cases, so any order is fine between them);
        ``concurrency`` > 1 lets paced rows wait for their slots side by side. Returns how
        many were sent."""
        if concurrency <= 1 or len(ids) <= 1:
            sent = 0
            for row_id in ids:
                sent += await self.deliver_safely(row_id)
            return sent
        gate = asyncio.Semaphore(concurrency)

        async def one(row_id: int) -> int:
            async with gate:
                return await self.deliver_safely(row_id)

        return sum(await asyncio.gather(*(one(i) for i in ids)))

    async def deliver_safely(self, row_id: int) -> int:
        try:
            return int(await self.deliver_one(row_id))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the lease brings the row back; go on with others
            log.exception("outbox.deliver_failed", id=row_id)
            return 0
