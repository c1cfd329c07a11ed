"""Where delivered messages live and whom they address: the context the dispatcher
gives a platform (threads, the resolved address, the people to bring in), what it
records after a delivery, and the operators' views of the queue (``casebot outbox``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import identity
from bot.config import Config
from bot.messages import Kind, Message, TargetKind
from bot.ports import DeliveryContext, PlatformRef
from storage.db import Database
from storage.models import Case, Conversation, MessageRef, OutboxRow


async def delivery_context(
    s: AsyncSession, row: OutboxRow, message: Message, config: Config
) -> DeliveryContext:
    platform = row.platform
    since = maybe_posted_since(row)
    address = await address_of(s, config, message, platform)
    mentions = tuple(
        u
        for u in [await identity.platform_user(s, config, p, platform) for p in message.mentions]
        if u
    )
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
        return DeliveryContext(
            previous=previous,
            delivery_id=str(row.id),
            maybe_posted_since=since,
            address=address,
            mention_users=mentions,
        )
    case = (await s.scalars(select(Case).where(Case.key == message.case_key))).one_or_none()
    if case is None:
        return DeliveryContext(
            previous=previous,
            delivery_id=str(row.id),
            maybe_posted_since=since,
            address=address,
            mention_users=mentions,
        )
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
    account = config.account(case.account_key)
    return DeliveryContext(
        previous=previous,
        delivery_id=str(row.id),
        maybe_posted_since=since,
        address=address,
        mention_users=mentions,
        customer_thread=threads.get("customer"),
        staff_thread=threads.get("staff"),
        origin_channel=case.origin_channel if case.platform == platform else None,
        customer_user=await identity.platform_user(s, config, case.opener_id, platform),
        assignee_user=await identity.platform_user(s, config, case.assignee_id, platform),
        team_channel=team.channels.get(platform) if team else None,
        staff_channel=_channel(team.staff_channels.get(platform) if team else None),
        account_channel=_channel(account.channels.get(platform) if account else None),
    )


def maybe_posted_since(row: OutboxRow) -> datetime | None:
    """When an earlier attempt may already have posted this row: any attempt counted
    (one whose worker died holding it is counted when the row is taken over) — a
    timeout or a dropped connection leaves the platform's answer unknown."""
    if row.attempts <= 0:
        return None
    created = row.created_at
    return created if created.tzinfo is not None else created.replace(tzinfo=UTC)


async def address_of(
    s: AsyncSession, config: Config, message: Message, platform: str
) -> str | None:
    """The platform address of the message's own target: a person's user id, a team's
    channel id (None for case threads, which the context's threads address)."""
    target = message.target
    if target.kind == TargetKind.PERSON:
        return await identity.platform_user(s, config, target.id, platform)
    if target.kind == TargetKind.TEAM:
        # A team's staff-only channel, where it has one, carries what is internal.
        team = config.team(target.id)
        if team is None:
            return None
        channel = team.staff_channels.get(platform) or team.channels.get(platform)
        return str(channel) if channel is not None else None
    return None


async def record(s: AsyncSession, message: Message, platform: str, ref: PlatformRef) -> None:
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


async def listing(db: Database, failed: bool) -> list[str]:
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


async def requeue(db: Database, ids: Sequence[int] | None, now: datetime) -> int:
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
        return int(getattr(result, "rowcount", 0) or 0)


async def backlog(db: Database) -> dict[str, int]:
    """How many rows are in each state (for health checks and the benchmarks)."""
    async with db.read() as s:
        rows = (
            await s.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))
        ).all()
    return {state: int(n) for state, n in rows}


def _channel(value: object) -> str | None:
    return str(value) if value is not None else None
