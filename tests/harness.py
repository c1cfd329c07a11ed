"""A dialog harness for the core: a real ``Casebot`` over the test database, driven the
way people drive it, with a platform that records every delivered message.

In the spirit of zulip's ``verify_dialog`` and cosmicpython's fakes: no mocks, only a
recording adapter at the port, and steps that read like the conversation they test::

    d = await Dialog.start(db)
    reply = await d.say("gus", "/case open Webhooks fail with 500")
    assert reply.ok
    await d.press("alice", "case:CASE-1:replicating")
    assert d.customer_thread("CASE-1")  # what the customer saw since the last look
    await d.advance("1bd")               # moves the fake clock, fires due timers

Every step drains the outbox and the due timers (``await bot.drain()``), so what a
step caused is delivered before the next one starts. Nothing sleeps: time is a
``FakeClock`` that starts on Monday 2026-11-02 09:00 UTC.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Config, load_config
from bot.durations import parse_duration
from bot.exchange import Context, HomeView, Reply
from bot.messages import Message, Target, TargetKind
from bot.ports import DeliveryContext, PlatformRef
from entrypoints.bootstrap import Casebot
from storage.db import Database
from storage.keys import next_key
from storage.models import Base, Case, CaseEvent, KbArticle, ProcessedEvent, Timer

CONFIG_PATH = Path(__file__).resolve().parent / "casebot-test.yml"

# Tables whose rows are bookkeeping of the delivery itself, not an effect of a command.
_NOT_EFFECTS = {ProcessedEvent.__tablename__}


def load_test_config() -> Config:
    return load_config(CONFIG_PATH)


@dataclass
class Delivery:
    """One message as the platform received it."""

    message: Message
    ctx: DeliveryContext
    ref: PlatformRef
    updated: bool  # True when it edited an earlier message in place

    @property
    def target(self) -> Target:
        return self.message.target


class RecordingPlatform:
    """A platform adapter that records what it is given and answers like the console:
    a customer-facing case message opens the thread ``CASE-n:customer``, a triage alert
    the thread ``CASE-n:staff``, and an update with a previous ref edits that message."""

    name = "console"

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._ids = itertools.count(1)

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        updated = bool(message.update and ctx.previous is not None)
        if updated:
            assert ctx.previous is not None
            ref = ctx.previous
        else:
            mid = str(next(self._ids))
            key = message.case_key or ""
            thread = None
            if message.target.kind == TargetKind.CASE_CUSTOMER:
                thread = f"{key}:customer"
            elif message.target.kind == TargetKind.TEAM and message.case_key:
                thread = f"{key}:staff"
            ref = PlatformRef("console", mid, thread)
        self.deliveries.append(Delivery(message, ctx, ref, updated))
        return ref


@dataclass
class Dialog:
    """A conversation with casebot: people act, then we look at what each audience saw."""

    bot: Casebot
    clock: FakeClock
    platform: RecordingPlatform
    _events: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    async def start(
        cls, db: Database, config: Config | None = None, start: datetime | None = None
    ) -> Dialog:
        clock = FakeClock(start)
        bot = Casebot(config or load_test_config(), db, clock=clock)
        await bot.sync_config()
        platform = RecordingPlatform()
        bot.register_adapter(platform)
        return cls(bot, clock, platform)

    @property
    def config(self) -> Config:
        return self.bot.config

    @property
    def now(self) -> datetime:
        return self.clock.now()

    # -- acting -------------------------------------------------------------------

    def ctx(self, who: str, *, thread: str | None = None, event_id: str | None = None) -> Context:
        person = self.config.person(who)
        return Context(
            platform="console",
            user_id=who,
            channel_id="console",
            thread_id=thread,
            user_name=person.name if person else who,
            event_id=event_id or f"dialog-{next(self._events)}",
        )

    async def say(self, who: str, text: str, *, event_id: str | None = None) -> Reply:
        """``/case …`` typed by ``who``."""
        word, _, rest = text.strip().partition(" ")
        if word != "/case":
            raise ValueError(f"say() takes a /case command, not {text!r}")
        reply = await self.bot.commands.run(self.ctx(who, event_id=event_id), rest)
        await self.drain()
        return reply

    async def press(
        self, who: str, action_id: str, value: str | None = None, *, event_id: str | None = None
    ) -> Reply:
        reply = await self.bot.commands.press(self.ctx(who, event_id=event_id), action_id, value)
        await self.drain()
        return reply

    async def submit(self, who: str, form_id: str, values: dict[str, str]) -> Reply:
        reply = await self.bot.commands.submit(self.ctx(who), form_id, values)
        await self.drain()
        return reply

    async def write_in_thread(
        self, who: str, case_key: str, text: str, purpose: str | None = None
    ) -> Reply | None:
        """A plain message in the case's thread: the customer thread for customers, the
        staff thread for staff, unless ``purpose`` says which."""
        if purpose is None:
            person = self.config.person(who)
            purpose = "customer" if person is None or person.role == "customer" else "staff"
        reply = await self.bot.commands.thread_message(
            self.ctx(who, thread=f"{case_key}:{purpose}"), text
        )
        await self.drain()
        return reply

    async def home(self, who: str) -> HomeView:
        return await self.bot.commands.home(self.ctx(who))

    async def advance(self, duration: str) -> datetime:
        """Move the clock (``"15m"``, ``"1bd"``…) and run whatever became due."""
        target = parse_duration(duration).after(self.now, self.config.support.tz)
        self.clock.set(target)
        await self.drain()
        return target

    async def drain(self) -> None:
        await self.bot.drain()

    # -- what people saw ------------------------------------------------------------

    def delivered(
        self, kind: TargetKind | str | None = None, target_id: str | None = None
    ) -> list[Delivery]:
        """Every delivery so far (to one target, when given)."""
        return [
            d
            for d in self.platform.deliveries
            if (kind is None or d.target.kind == TargetKind(kind))
            and (target_id is None or d.target.id == target_id)
        ]

    def inbox(self, kind: TargetKind | str, target_id: str) -> list[Message]:
        """Messages delivered to one target since the last look at it."""
        key = (str(TargetKind(kind)), target_id)
        all_ = self.delivered(kind, target_id)
        start = self._seen.get(key, 0)
        self._seen[key] = len(all_)
        return [d.message for d in all_[start:]]

    def seen_by(self, person_id: str) -> list[Message]:
        """Direct messages to a person since the last look."""
        return self.inbox(TargetKind.PERSON, person_id)

    def customer_thread(self, case_key: str) -> list[Message]:
        return self.inbox(TargetKind.CASE_CUSTOMER, case_key)

    def staff_thread(self, case_key: str) -> list[Message]:
        return self.inbox(TargetKind.CASE_STAFF, case_key)

    def team_channel(self, team_key: str) -> list[Message]:
        return self.inbox(TargetKind.TEAM, team_key)

    def look_at_everything(self) -> None:
        """Mark everything delivered so far as seen."""
        for d in self.platform.deliveries:
            key = (str(d.target.kind), d.target.id)
            self._seen[key] = len(self.delivered(d.target.kind, d.target.id))

    # -- the record -------------------------------------------------------------------

    async def case(self, key: str) -> Case:
        async with self.bot.db.read() as s:
            return (await s.scalars(select(Case).where(Case.key == key))).one()

    async def timeline(self, key: str) -> list[CaseEvent]:
        async with self.bot.db.read() as s:
            case = (await s.scalars(select(Case).where(Case.key == key))).one()
            return list(
                (
                    await s.scalars(
                        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
                    )
                ).all()
            )

    async def timers(self, key: str, kind: str | None = None) -> list[Timer]:
        async with self.bot.db.read() as s:
            case = (await s.scalars(select(Case).where(Case.key == key))).one()
            stmt = select(Timer).where(Timer.case_id == case.id).order_by(Timer.id)
            if kind:
                stmt = stmt.where(Timer.kind == kind)
            return list((await s.scalars(stmt)).all())

    async def world(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table that holds an effect, to compare before and after."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        async with self.bot.db.read() as s:
            for table in Base.metadata.sorted_tables:
                if table.name in _NOT_EFFECTS:
                    continue
                rows = (await s.execute(select(table))).all()
                out[table.name] = sorted((tuple(r) for r in rows), key=repr)
        return out

    async def add_article(
        self,
        title: str,
        symptoms: str = "",
        resolution: str = "",
        area: str | None = None,
        cause: str = "",
        status: str = "published",
    ) -> str:
        """A knowledge-base article, keyed from the same counter drafts use."""
        async with self.bot.db.transaction() as s:
            key = await next_key(s, "KB")
            s.add(
                KbArticle(
                    key=key,
                    title=title,
                    symptoms=symptoms,
                    cause=cause,
                    resolution=resolution,
                    area=area,
                    tags=[],
                    status=status,
                    created_at=self.now,
                    updated_at=self.now,
                )
            )
        return key

    async def article(self, key: str) -> KbArticle:
        async with self.bot.db.read() as s:
            return (await s.scalars(select(KbArticle).where(KbArticle.key == key))).one()

    # -- common openings ------------------------------------------------------------------

    async def open_case(self, who: str, title: str, **form: str) -> str:
        """Open a case through the form (``area``, ``type``, ``impact``, ``description``)
        and return its key."""
        values = {"title": title, **form}
        reply = await self.submit(who, "open", values)
        assert reply.ok, reply.text
        return reply.text.split()[1].rstrip(":")

    async def working_case(
        self,
        who: str = "gus",
        title: str = "Webhook endpoint returns 500",
        engineer: str = "alice",
        **form: str,
    ) -> str:
        """A case assigned by skill to ``engineer`` and being replicated."""
        form.setdefault("area", "api")
        form.setdefault("impact", "blocked")
        key = await self.open_case(who, title, **form)
        case = await self.case(key)
        assert case.assignee_id == engineer, (case.assignee_id, case.state)
        reply = await self.say(engineer, f"/case replicating {key}")
        assert reply.ok, reply.text
        return key


def titles(messages: Iterable[Message]) -> list[str]:
    return [m.title for m in messages]


def kinds(messages: Iterable[Message]) -> list[str]:
    return [str(m.kind) for m in messages]


def of_kind(messages: Iterable[Message], kind: str) -> list[Message]:
    return [m for m in messages if m.kind == kind]
