"""The outbox dispatcher: delivers notifications committed with the changes that
caused them, in order per case, retrying with backoff, exactly once as seen by users.

A row is claimed (state ``sending`` with a lease), delivered, then marked ``sent`` with
the platform's message id. A worker that dies between the platform accepting a
message and that last commit leaves a row whose lease expires and is sent again: that
window (one platform round trip plus one commit) is the only way a user sees a double.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from bot.messages import Kind, Message, TargetKind
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


async def claim(db, now: datetime, worker: str, platforms: list[str], policy: RetryPolicy,  # type: ignore[no-untyped-def]
                limit: int = 50) -> list[int]:
    if not platforms:
        return []
    async with db.transaction() as s:
        rows = (await s.scalars(
            select(OutboxRow)
            .where(claimable(now), OutboxRow.platform.in_(platforms))
            .order_by(OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )).all()
        for r in rows:
            r.state = "sending"
            r.lease_until = now + policy.lease
            r.worker = worker
        return [r.id for r in rows]


async def delivery_context(s, row: OutboxRow, message: Message, config) -> DeliveryContext:  # type: ignore[no-untyped-def]
    platform = row.platform
    previous = None
    if message.ref:
        ref = (await s.scalars(select(MessageRef).where(
            MessageRef.ref == message.ref, MessageRef.platform == platform))).first()
        if ref:
            previous = PlatformRef(ref.channel, ref.message_id, ref.thread_id)
    if not message.case_key:
        return DeliveryContext(previous=previous)
    case = (await s.scalars(select(Case).where(Case.key == message.case_key))).one_or_none()
    if case is None:
        return DeliveryContext(previous=previous)
    threads: dict[str, PlatformRef] = {}
    for conv in (await s.scalars(select(Conversation).where(
            Conversation.case_id == case.id, Conversation.platform == platform))).all():
        threads[conv.purpose] = PlatformRef(conv.channel, conv.thread, conv.thread)
    team = config.team(case.team) if case.team else None
    return DeliveryContext(
        previous=previous,
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
    now = app.clock.now()
    result: PlatformRef | None = None
    error: DeliveryError | None = None
    if adapter is None:
        error = DeliveryError(f"no {platform} adapter is running")
    else:
        try:
            result = await adapter.deliver(message, ctx)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - a network error is retried like a 5xx
            error = DeliveryError(f"{exc.__class__.__name__}: {exc}")
    async with app.db.transaction() as s:
        row = await s.get(OutboxRow, row_id, with_for_update=True)
        if row is None or row.worker != worker or row.state != "sending":
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
        row.last_error = str(error)
        if error.permanent or now - row.created_at >= policy.horizon:
            row.state = "failed"
            log.error("outbox.failed", id=row.id, kind=row.kind, error=str(error))
        else:
            row.state = "pending"
            row.next_attempt_at = now + timedelta(
                seconds=policy.delay(row.attempts, error.retry_after))
            log.warning("outbox.retry", id=row.id, attempts=row.attempts, error=str(error))
        return False


async def _record(s, message: Message, platform: str, ref: PlatformRef) -> None:  # type: ignore[no-untyped-def]
    if message.ref:
        existing = (await s.scalars(select(MessageRef).where(
            MessageRef.ref == message.ref, MessageRef.platform == platform))).first()
        if existing is None:
            s.add(MessageRef(ref=message.ref, platform=platform, channel=ref.channel,
                             message_id=ref.message_id, thread_id=ref.thread_id))
    purpose = None
    if message.kind == Kind.CASE_OPENED and message.target.kind == TargetKind.CASE_CUSTOMER:
        purpose = "customer"
    elif message.kind == Kind.TRIAGE_ALERT and not message.update:
        purpose = "staff"
    if purpose and message.case_key:
        case = (await s.scalars(select(Case).where(Case.key == message.case_key))).one_or_none()
        thread = ref.thread_id or ref.message_id
        if case is not None:
            have = (await s.scalars(select(Conversation).where(
                Conversation.case_id == case.id, Conversation.platform == platform,
                Conversation.purpose == purpose))).first()
            if have is None:
                s.add(Conversation(platform=platform, channel=ref.channel, thread=thread,
                                   case_id=case.id, purpose=purpose))
