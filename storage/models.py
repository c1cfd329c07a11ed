"""SQLAlchemy 2.0 typed models: the system of record.

Relationships are ``lazy="raise"`` so no query hides behind an attribute; repositories
load what a use case needs explicitly.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer ids that autoincrement on both SQLite and PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, aware UTC out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use an aware UTC datetime")
        from datetime import UTC

        return (
            value.astimezone(UTC)
            if dialect.name != "sqlite"
            else value.astimezone(UTC).replace(tzinfo=None)
        )

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from datetime import UTC

        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class AccountRow(Base):
    """An account (organization), synced from the configuration."""

    __tablename__ = "accounts"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(64))
    csm_id: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(64))


class PersonRow(Base):
    """A person: configured ones are synced; customers recognised by their account's
    channel or role are added on first contact (``configured`` False)."""

    __tablename__ = "people"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(64))
    account_key: Mapped[str | None] = mapped_column(String(64))
    configured: Mapped[bool] = mapped_column(default=True)
    identities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_assigned_at: Mapped[datetime | None] = mapped_column()


class Counter(Base):
    """Human key sequences (CASE-n, ENG-n, KB-n) without gaps."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    # Reports (storage/reports.py) select cases by when they were opened, resolved,
    # closed; the first two indexes also hold what the unfiltered figures read, so those
    # are answered from the index without visiting the wide case rows.
    __table_args__ = (
        Index(
            "ix_cases_created_at",
            "created_at",
            "first_response_at",
            "resolved_at",
            "severity",
            "close_reason",
            "kb_article_key",
        ),
        Index("ix_cases_resolved_at", "resolved_at", "created_at", "assignee_id"),
        Index("ix_cases_closed_at", "closed_at"),
        # The backlog and engineers' load: the active cases, their age and engineer.
        Index("ix_cases_state_created_at", "state", "created_at", "assignee_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    area: Mapped[str | None] = mapped_column(String(64))
    case_type: Mapped[str | None] = mapped_column(String(64))
    impact: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(4))
    team: Mapped[str | None] = mapped_column(String(64))
    account_key: Mapped[str] = mapped_column(String(64), index=True)
    opener_id: Mapped[str] = mapped_column(String(128))
    assignee_id: Mapped[str | None] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    duplicate_of: Mapped[str | None] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(16))
    origin_channel: Mapped[str | None] = mapped_column(String(128))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalation_reason: Mapped[str | None] = mapped_column(Text)
    proposed_resolution: Mapped[str | None] = mapped_column(Text)
    info_request: Mapped[str | None] = mapped_column(Text)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    kb_suggested: Mapped[list[Any]] = mapped_column(default=list)
    kb_article_key: Mapped[str | None] = mapped_column(String(32))
    chase_step: Mapped[int] = mapped_column(Integer, default=0)
    chase_generation: Mapped[int] = mapped_column(Integer, default=0)
    # Per-state timestamps.
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    triaged_at: Mapped[datetime | None] = mapped_column()
    # When the triage alert went out (after the customer looked at KB suggestions).
    routed_at: Mapped[datetime | None] = mapped_column()
    assigned_at: Mapped[datetime | None] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column()
    replicating_at: Mapped[datetime | None] = mapped_column()
    waiting_since: Mapped[datetime | None] = mapped_column()
    solution_proposed_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    escalation_acked_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    reopened_at: Mapped[datetime | None] = mapped_column()
    # Seconds spent waiting on the customer (service-level clocks stop meanwhile).
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # Service levels (bot/sla.py): since when the clock is stopped, and what the pending
    # SLA timers were computed from (severity, targets, paused or not).
    sla_paused_at: Mapped[datetime | None] = mapped_column()
    sla_basis: Mapped[str | None] = mapped_column(String(64))


class CaseEvent(Base):
    """The append-only case timeline: who, when, what, from, to."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column()
    actor_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    internal: Mapped[bool] = mapped_column(default=False)


class Conversation(Base):
    """Where a case is discussed on a platform: (platform, channel, thread) → case."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("platform", "channel", "thread", name="uq_conversation"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(128))
    thread: Mapped[str] = mapped_column(String(128))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "customer" | "staff"


class MessageRef(Base):
    """Where a named message (``Message.ref``) was posted, to edit it in place."""

    __tablename__ = "message_refs"
    __table_args__ = (UniqueConstraint("ref", "platform", name="uq_message_ref"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(128))
    platform: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str] = mapped_column(String(128))
    thread_id: Mapped[str | None] = mapped_column(String(128))


class EngIssue(Base):
    """A defect or enhancement logged with engineering (ENG-n), linked to many cases."""

    __tablename__ = "eng_issues"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # defect | enhancement
    platform: Mapped[str] = mapped_column(String(16), default="console")
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="open")
    area: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    priority_score: Mapped[int] = mapped_column(Integer, default=0)


class EngLink(Base):
    __tablename__ = "eng_links"
    __table_args__ = (UniqueConstraint("eng_id", "case_id", name="uq_eng_link"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    eng_id: Mapped[int] = mapped_column(ForeignKey("eng_issues.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    linked_at: Mapped[datetime] = mapped_column()


class EngFollower(Base):
    __tablename__ = "eng_followers"
    __table_args__ = (UniqueConstraint("eng_id", "person_id", name="uq_eng_follower"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    eng_id: Mapped[int] = mapped_column(ForeignKey("eng_issues.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(128))
    platform: Mapped[str] = mapped_column(String(16))


class KbArticle(Base):
    """A knowledge-base article: published ones are searched as cases open."""

    __tablename__ = "kb_articles"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    symptoms: Mapped[str] = mapped_column(Text, default="")
    cause: Mapped[str] = mapped_column(Text, default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    area: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    source_case: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="published", index=True)
    author_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    person_id: Mapped[str] = mapped_column(String(128))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column()


class Feedback(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(128))
    account_key: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column()


class Timer(Base):
    """A durable timer: a row with a due time, claimed atomically by a worker.

    ``state``: pending → running (leased until ``lease_until``) → done | cancelled.
    Handlers re-check their guard against the case when they fire.
    """

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_due", "state", "due_at"),
        # Claiming (bot/timers.py) walks these: cheap however many timers are pending.
        Index(
            "ix_timers_pending_due",
            "due_at",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index(
            "ix_timers_running_lease",
            "lease_until",
            postgresql_where=text("state = 'running'"),
            sqlite_where=text("state = 'running'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    due_at: Mapped[datetime] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    lease_until: Mapped[datetime | None] = mapped_column()
    worker: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column()
    fired_at: Mapped[datetime | None] = mapped_column()


class OutboxRow(Base):
    """A notification written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index(
            "ix_outbox_pending_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index(
            "ix_outbox_sending_lease",
            "lease_until",
            postgresql_where=text("state = 'sending'"),
            sqlite_where=text("state = 'sending'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    case_key: Mapped[str | None] = mapped_column(String(32), index=True)
    message: Mapped[dict[str, Any]] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    worker: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    platform_channel: Mapped[str | None] = mapped_column(String(128))
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    # When `casebot outbox retry` queued a failed row again (its retry horizon restarts).
    requeued_at: Mapped[datetime | None] = mapped_column()


class ProcessedEvent(Base):
    """Platform event ids already handled (de-duplication without Redis)."""

    __tablename__ = "processed_events"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # What the person was answered, committed with the effect: a request processed
    # again after a crash (storage.inbox) answers the same words, not "Already done."
    outcome: Mapped[str | None] = mapped_column(Text)


class InboxRow(Base):
    """A platform request casebot acknowledged (issue #10; queries in storage/inbox.py).
    Here rather than in its own module: storage.inbox imports this one, and the reverse
    import would be a cycle."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index(
            "ix_inbox_pending_lease",
            "lease_until",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    delivery: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    lease_until: Mapped[datetime] = mapped_column()
    worker: Mapped[str] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    done_at: Mapped[datetime | None] = mapped_column()


class SpentLink(Base):
    """A single-use link's nonce (the dashboard's sign-in), recorded when the link is
    used: a second use, or a replay at another worker, finds it and is refused."""

    __tablename__ = "spent_links"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(index=True)


# Tables kept in modules of their own join Base.metadata here. They import Base from
# this module, so they are loaded by name once it is complete (not an import cycle).
importlib.import_module("storage.trackers")  # issue #12: eng_tracker_links
importlib.import_module("storage.mail")  # issue #13: email_attachments, email_held
importlib.import_module("storage.rollup_tables")  # issue #11: report_facts, report_days
