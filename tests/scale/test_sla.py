"""Service levels as the team lives them: a warning at ``warn_at`` of the target, a breach
that alerts the team and escalates to the lead, a clock that stops while the case waits
on the customer, and the time left in ``/case show`` and the home view."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Config
from bot.exchange import Context, Reply
from bot.messages import Kind, Message, TargetKind
from bot.ports import DeliveryContext, PlatformRef
from entrypoints.bootstrap import Casebot
from storage.db import Database
from storage.models import Case, CaseEvent, Timer

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


class Recorder:
    name = "console"

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self._ids = itertools.count(1)

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        self.sent.append(message)
        if message.update and ctx.previous:
            return ctx.previous
        thread = None
        if message.target.kind == TargetKind.CASE_CUSTOMER:
            thread = f"{message.case_key}:customer"
        elif message.target.kind == TargetKind.TEAM and message.case_key:
            thread = f"{message.case_key}:staff"
        return PlatformRef("console", str(next(self._ids)), thread)

    def to(self, kind: TargetKind, target: str) -> list[Message]:
        return [m for m in self.sent if m.target.kind == kind and m.target.id == target]


class Desk:
    """Just enough of a dialog to walk a case through its service levels."""

    def __init__(self, bot: Casebot, clock: FakeClock, platform: Recorder) -> None:
        self.bot, self.clock, self.platform = bot, clock, platform
        self._events = itertools.count(1)

    @classmethod
    async def start(cls, db: Database, config: Config) -> Desk:
        clock = FakeClock(START)
        bot = Casebot(config, db, clock=clock)
        await bot.sync_config()
        platform = Recorder()
        bot.register_adapter(platform)
        return cls(bot, clock, platform)

    def ctx(self, who: str) -> Context:
        return Context(
            platform="console",
            user_id=who,
            channel_id="console",
            event_id=f"sla-{next(self._events)}",
        )

    async def say(self, who: str, text: str) -> Reply:
        reply = await self.bot.commands.run(self.ctx(who), text)
        assert reply.ok, reply.text
        await self.bot.drain()
        return reply

    async def open(self, impact: str) -> str:
        reply = await self.bot.commands.submit(
            self.ctx("cleo"),
            "open",
            {"title": "Webhook API calls fail", "area": "api", "impact": impact},
        )
        assert reply.ok, reply.text
        await self.bot.drain()
        async with self.bot.db.read() as s:
            return (await s.scalars(select(Case.key).order_by(Case.id.desc()))).first() or ""

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.bot.drain()

    async def case(self, key: str) -> Case:
        async with self.bot.db.read() as s:
            return (await s.scalars(select(Case).where(Case.key == key))).one()

    async def pending(self, key: str) -> list[tuple[str, datetime, str]]:
        async with self.bot.db.read() as s:
            case = (await s.scalars(select(Case).where(Case.key == key))).one()
            rows = (
                await s.scalars(
                    select(Timer)
                    .where(
                        Timer.case_id == case.id,
                        Timer.state == "pending",
                        Timer.kind.in_(("sla_warn", "sla_breach")),
                    )
                    .order_by(Timer.due_at)
                )
            ).all()
            return [(t.kind, t.due_at, t.payload["target"]) for t in rows]

    async def timeline(self, key: str, kind: str) -> list[str]:
        async with self.bot.db.read() as s:
            case = (await s.scalars(select(Case).where(Case.key == key))).one()
            return list(
                (
                    await s.scalars(
                        select(CaseEvent.text).where(
                            CaseEvent.case_id == case.id, CaseEvent.kind == kind
                        )
                    )
                ).all()
            )

    def alerts(self) -> list[str]:
        return [m.title for m in self.platform.to(TargetKind.TEAM, "ops") if m.kind == Kind.ALERT]

    async def show_line(self, who: str, key: str) -> str:
        text = (await self.bot.commands.run(self.ctx(who), f"show {key}")).text
        found = [line for line in text.splitlines() if "due in" in line or "breached" in line]
        assert found, text
        return found[0]


async def test_a_case_is_warned_then_breached_and_escalated_to_the_lead(
    sdb: Database, config: Config
) -> None:
    d = await Desk.start(sdb, config)
    key = await d.open("degraded")  # S2: first response 1h, resolution 2d
    case = await d.case(key)
    assert case.severity == "S2" and case.assignee_id == "olga"
    assert await d.pending(key) == [
        ("sla_warn", START + timedelta(minutes=48), "first_response"),
        ("sla_breach", START + timedelta(hours=1), "first_response"),
        ("sla_warn", START + timedelta(hours=38, minutes=24), "resolution"),
        ("sla_breach", START + timedelta(days=2), "resolution"),
    ]
    assert await d.show_line("olga", key) == "First response due in 1h"

    await d.advance(timedelta(minutes=48))
    assert d.alerts() == [f"{key} (S2): first response due in 12m"]
    assert await d.show_line("olga", key) == "First response due in 12m"
    # Targets are the support team's: the customer's view shows none (bot.disclosure).
    page = (await d.bot.commands.run(d.ctx("cleo"), f"show {key}")).text
    assert "due in" not in page and "breached" not in page

    await d.advance(timedelta(minutes=32))  # 10:20, twenty minutes late
    assert d.alerts()[1:] == [f"{key} (S2): first response target of 1h breached"]
    case = await d.case(key)
    assert case.escalation_level == 2
    assert [m.kind for m in d.platform.to(TargetKind.PERSON, "rosa")] == [Kind.ESCALATION_DM]
    assert await d.show_line("olga", key) == "First response target breached 20m ago"

    # The engineer answers: the first-response target is met (late), resolution runs on.
    await d.say("olga", f"replicating {key}")
    assert [(k, tgt) for k, _, tgt in await d.pending(key)] == [
        ("sla_warn", "resolution"),
        ("sla_breach", "resolution"),
    ]
    assert await d.show_line("olga", key) == "Resolution due in 1d 22h"

    await d.advance(START + timedelta(hours=38, minutes=24) - d.clock.now())
    assert d.alerts()[2:] == [f"{key} (S2): resolution due in 9h 36m"]
    # Nothing fires twice however the clock moves on.
    await d.advance(timedelta(days=3))
    assert d.alerts()[3:] == [f"{key} (S2): resolution target of 2d breached"]
    assert len(await d.timeline(key, "sla_breached")) == 2
    assert len(d.platform.to(TargetKind.PERSON, "rosa")) == 1  # already with the lead


async def test_the_clock_stops_while_the_case_waits_on_the_customer(
    sdb: Database, config: Config
) -> None:
    d = await Desk.start(sdb, config)
    key = await d.open("degraded")
    await d.advance(timedelta(minutes=10))
    await d.say("olga", f"need-info {key} Which endpoint?")  # first response; clock stops
    assert await d.pending(key) == []
    assert await d.show_line("olga", key) == (
        "Resolution due in 1d 23h (clock stopped while waiting on the customer)"
    )
    home = await d.bot.commands.home(d.ctx("olga"))
    mine = dict(home.sections)["Assigned to me"]
    assert [line.time_left for line in mine] == ["resolution in 1d 23h (paused)"]

    await d.advance(timedelta(days=5))  # the chase reminds; no SLA fires meanwhile
    assert d.alerts() == []
    await d.say("cleo", f"reply {key} The /hooks endpoint")  # the clock runs again
    case = await d.case(key)
    assert case.paused_seconds == 5 * 86400 and case.sla_paused_at is None
    resumed = START + timedelta(minutes=10, days=5)
    assert await d.pending(key) == [
        ("sla_warn", resumed + timedelta(hours=38, minutes=14), "resolution"),
        ("sla_breach", resumed + timedelta(days=2, minutes=-10), "resolution"),
    ]
    assert await d.show_line("olga", key) == "Resolution due in 1d 23h"

    await d.say("olga", f"propose {key} Rotate the token")  # waits on the customer again
    await d.say("cleo", f"confirm {key}")
    assert await d.pending(key) == []
    await d.advance(timedelta(days=10))
    assert d.alerts() == []


async def test_a_severity_change_moves_the_targets(sdb: Database, config: Config) -> None:
    d = await Desk.start(sdb, config)
    key = await d.open("blocked")  # S3: first response 4h
    assert (await d.pending(key))[1][1] == START + timedelta(hours=4)
    await d.say("olga", f"severity {key} S1")  # first response 30m
    assert [(k, due) for k, due, tgt in await d.pending(key) if tgt == "first_response"] == [
        ("sla_warn", START + timedelta(minutes=24)),
        ("sla_breach", START + timedelta(minutes=30)),
    ]
    await d.advance(timedelta(minutes=25))
    assert d.alerts() == [f"{key} (S1): first response due in 5m"]


async def test_no_targets_no_timers_no_text(sdb: Database, config: Config) -> None:
    config.sla.first_response.clear()
    config.sla.resolution.clear()
    d = await Desk.start(sdb, config)
    key = await d.open("degraded")
    assert await d.pending(key) == []
    text = (await d.bot.commands.run(d.ctx("olga"), f"show {key}")).text
    assert "due in" not in text and "breached" not in text
