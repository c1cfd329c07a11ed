"""The outbox dispatcher: delivers notifications committed with the changes that
caused them, in order per case, retrying with backoff, exactly once as seen by users.

A row is claimed (state ``sending`` with a lease), paced (:mod:`bot.pacing`: a send slot
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
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from bot.durations import parse_duration
from bot.messages import Kind, Message, TargetKind
from bot.pacing import channel_key
from bot.ports import DeliveryContext, DeliveryError, PlatformAdapter, PlatformRef
from storage.models import Case, Conversation, MessageRef, OutboxRow, PersonRow

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


def claimable(now: datetime):  # type: ignore[no-untyped-def]
    """Due rows whose case has no earlier undelivered row (so a case's messages keep
    their order: the thread exists before anything is posted into it)."""
    earlier = aliased(OutboxRow)
    blocked = exists().where(
        earlier.case_key == OutboxRow.case_key,
        earlier.platform == OutboxRow.platform,
        earlier.id < OutboxRow.id,
        earlier.state.in_(("pending", "sending")),
    )
    return and_(
        or_(
            and_(OutboxRow.state == "pending", OutboxRow.next_attempt_at <= now),
            and_(OutboxRow.state == "sending", OutboxRow.lease_until < now),
        ),
        or_(OutboxRow.case_key.is_(None), ~blocked),
    )


async def claim(
    db,
    now: datetime,
    worker: str,
    platforms: list[str],
    policy: RetryPolicy,  # type: ignore[no-untyped-def]
    limit: int = 50,
) -> list[int]:
    if not platforms:
        return []
    async with db.transaction() as s:
        rows = (
            await s.scalars(
                select(OutboxRow)
                .where(claimable(now), OutboxRow.platform.in_(platforms))
                .order_by(OutboxRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for r in rows:
            r.state = "sending"
            r.lease_until = now + policy.lease
            r.worker = worker
        return [r.id for r in rows]


async def delivery_context(s, row: OutboxRow, message: Message, config) -> DeliveryContext:  # type: ignore[no-untyped-def]
    platform = row.platform
    previous = None
    if message.ref:
        ref = (
            await s.scalars(
                select(MessageRef).where(
                    MessageRef.ref == message.ref, MessageRef.platform == platform
                )
            )
        ).first()
        if ref:
            previous = PlatformRef(ref.channel, ref.message_id, ref.thread_id)
    if not message.case_key:
        return DeliveryContext(previous=previous, delivery_id=str(row.id))
    case = (await s.scalars(select(Case).where(Case.key == message.case_key))).one_or_none()
    if case is None:
        return DeliveryContext(previous=previous, delivery_id=str(row.id))
    threads: dict[str, PlatformRef] = {}
    for conv in (
        await s.scalars(
            select(Conversation).where(
                Conversation.case_id == case.id, Conversation.platform == platform
            )
        )
    ).all():
        threads[conv.purpose] = PlatformRef(conv.channel, conv.thread, conv.thread)
    team = config.team(case.team) if case.team else None
    return DeliveryContext(
        previous=previous,
        delivery_id=str(row.id),
        customer_thread=threads.get("customer"),
        staff_thread=threads.get("staff"),
        origin_channel=case.origin_channel if case.platform == platform else None,
        customer_user=await platform_user(s, config, case.opener_id, platform),
        assignee_user=await platform_user(s, config, case.assignee_id, platform),
        team_channel=team.channels.get(platform) if team else None,
    )


async def platform_user(s, config, person_id: str | None, platform: str) -> str | None:  # type: ignore[no-untyped-def]
    if person_id is None:
        return None
    if platform == "console":
        return person_id
    person = config.person(person_id)
    if person is not None:
        return person.identities.get(platform)
    row = await s.get(PersonRow, person_id)
    if row is not None:
        return (row.identities or {}).get(platform)
    return None


async def deliver_one(app, row_id: int, worker: str, policy: RetryPolicy) -> bool:  # type: ignore[no-untyped-def]
    """Deliver one claimed row. Returns True when it was sent."""
    async with app.db.read() as s:
        row = await s.get(OutboxRow, row_id)
        if row is None or row.state != "sending" or row.worker != worker:
            return False
        message = Message.from_dict(row.message)
        ctx = await delivery_context(s, row, message, app.config)
        platform = row.platform
    adapter: PlatformAdapter | None = app.adapters.get(platform)
    pacer = getattr(app, "pacer", None)
    channel = ""
    if adapter is not None and pacer is not None:
        channel = channel_key(platform, message, ctx, app.config)
        if not await _paced(app, pacer, platform, channel, row_id, worker):
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
    now = app.clock.now()
    async with app.db.transaction() as s:
        row = await s.get(OutboxRow, row_id, with_for_update=True)
        if row is None or row.worker != worker or row.state != "sending":
            if error is None:
                log.warning(
                    "outbox.lease_lost",
                    id=row_id,
                    worker=worker,
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
                await _record(s, message, platform, result)
            return True
        row.attempts += 1
        row.last_error = str(error)[:2000]
        since = row.requeued_at or row.created_at
        if error.permanent or now - since >= policy.horizon:
            row.state = "failed"
            log.error("outbox.failed", id=row.id, kind=row.kind, error=str(error))
        else:
            row.state = "pending"
            row.next_attempt_at = now + timedelta(
                seconds=policy.delay(row.attempts, error.retry_after)
            )
            log.warning("outbox.retry", id=row.id, attempts=row.attempts, error=str(error))
        return False


async def _paced(app, pacer, platform: str, channel: str, row_id: int, worker: str) -> bool:  # type: ignore[no-untyped-def]
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
                await postpone(app, row_id, worker, slot.delay - ahead / 2)
                return False
            # Near enough, but more than a window ahead: ask again closer to it.
            await _sleep_or_give_back(app, row_id, worker, slot.delay - ahead / 2)
            continue
        if loop.time() + slot.delay > give_up:
            await pacer.release(slot)
            await postpone(app, row_id, worker, slot.delay)
            return False
        due = loop.time() + slot.delay
        if slot.delay > 0:
            await _sleep_or_give_back(app, row_id, worker, slot.delay)
        if loop.time() - due <= pacer.tolerance:
            return True
        pacer.late += 1
        await pacer.release(slot)
    await postpone(app, row_id, worker, 0.0)
    return False


async def _sleep_or_give_back(app, row_id: int, worker: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    try:
        await asyncio.sleep(max(seconds, 0.0))
    except asyncio.CancelledError:
        await asyncio.shield(postpone(app, row_id, worker, 0.0))
        raise


async def postpone(app, row_id: int, worker: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Give a claimed row back to the queue, due in ``seconds``."""
    async with app.db.transaction() as s:
        row = await s.get(OutboxRow, row_id, with_for_update=True)
        if row is None or row.worker != worker or row.state != "sending":
            return
        row.state = "pending"
        row.next_attempt_at = app.clock.now() + timedelta(seconds=max(seconds, 0.0))
        row.lease_until = None
        row.worker = None


async def deliver_claimed(
    app,
    ids: Sequence[int],
    worker: str,
    policy: RetryPolicy,  # type: ignore[no-untyped-def]
    concurrency: int = 1,
) -> int:
    """Deliver claimed rows (of different cases, so any order is fine between them);
    ``concurrency`` > 1 lets paced rows wait for their slots side by side. Returns how
    many were sent."""
    if concurrency <= 1 or len(ids) <= 1:
        sent = 0
        for row_id in ids:
            sent += await deliver_safely(app, row_id, worker, policy)
        return sent
    gate = asyncio.Semaphore(concurrency)

    async def one(row_id: int) -> int:
        async with gate:
            return await deliver_safely(app, row_id, worker, policy)

    return sum(await asyncio.gather(*(one(i) for i in ids)))


async def deliver_safely(app, row_id: int, worker: str, policy: RetryPolicy) -> int:  # type: ignore[no-untyped-def]
    try:
        return int(await deliver_one(app, row_id, worker, policy))
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the lease brings the row back; go on with others
        log.exception("outbox.deliver_failed", id=row_id)
        return 0


async def listing(db, failed: bool) -> list[str]:  # type: ignore[no-untyped-def]
    """One line per notification not yet delivered (``failed``: given up on)."""
    states = ("failed",) if failed else ("pending", "sending")
    async with db.read() as s:
        rows = (
            await s.scalars(
                select(OutboxRow).where(OutboxRow.state.in_(states)).order_by(OutboxRow.id)
            )
        ).all()
    lines = []
    for r in rows:
        when = (
            f"next try {r.next_attempt_at:%Y-%m-%d %H:%M:%S}Z"
            if r.state == "pending"
            else f"queued {r.created_at:%Y-%m-%d %H:%M:%S}Z"
        )
        title = str((r.message or {}).get("title", ""))[:60]
        line = (
            f"#{r.id} {r.state} {r.platform} {r.kind} {r.case_key or '-'} "
            f'attempts={r.attempts} {when} "{title}"'
        )
        if r.last_error:
            line += f" — {r.last_error[:200]}"
        lines.append(line)
    return lines


async def requeue(db, ids: Sequence[int] | None, now: datetime) -> int:  # type: ignore[no-untyped-def]
    """Failed rows (all, or those of ``ids``) go back to the queue with a fresh horizon."""
    stmt = (
        update(OutboxRow)
        .where(OutboxRow.state == "failed")
        .values(
            state="pending",
            next_attempt_at=OutboxRow.created_at,
            requeued_at=now,
            worker=None,
            lease_until=None,
        )
    )
    if ids is not None:
        stmt = stmt.where(OutboxRow.id.in_(list(ids)))
    async with db.transaction() as s:
        result = await s.execute(stmt)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def backlog(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How many rows are in each state (for health checks and the benchmarks)."""
    async with db.read() as s:
        rows = (
            await s.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))
        ).all()
    return {state: int(n) for state, n in rows}


async def _record(s, message: Message, platform: str, ref: PlatformRef) -> None:  # type: ignore[no-untyped-def]
    """Remember where the message landed. A message posted anew under a known ref (the
    old one was deleted, or an alert moved to another team) replaces the old location,
    so later edits go to the message people can see."""
    if message.ref:
        existing = (
            await s.scalars(
                select(MessageRef).where(
                    MessageRef.ref == message.ref, MessageRef.platform == platform
                )
            )
        ).first()
        if existing is None:
            s.add(
                MessageRef(
                    ref=message.ref,
                    platform=platform,
                    channel=ref.channel,
                    message_id=ref.message_id,
                    thread_id=ref.thread_id,
                )
            )
        elif (existing.channel, existing.message_id) != (ref.channel, ref.message_id):
            existing.channel, existing.message_id = ref.channel, ref.message_id
            existing.thread_id = ref.thread_id
    purpose = None
    if message.kind == Kind.CASE_OPENED and message.target.kind == TargetKind.CASE_CUSTOMER:
        purpose = "customer"
    elif message.kind == Kind.TRIAGE_ALERT and not message.update:
        purpose = "staff"
    if purpose and message.case_key:
        case = (await s.scalars(select(Case).where(Case.key == message.case_key))).one_or_none()
        thread = ref.thread_id or ref.message_id
        if case is not None:
            have = (
                await s.scalars(
                    select(Conversation).where(
                        Conversation.case_id == case.id,
                        Conversation.platform == platform,
                        Conversation.purpose == purpose,
                    )
                )
            ).first()
            if have is None:
                s.add(
                    Conversation(
                        platform=platform,
                        channel=ref.channel,
                        thread=thread,
                        case_id=case.id,
                        purpose=purpose,
                    )
                )
            elif purpose == "staff" and (have.channel, have.thread) != (ref.channel, thread):
                # A new alert (the case moved to another team): staff talk there now.
                have.channel, have.thread = ref.channel, thread
