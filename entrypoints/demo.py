"""`casebot demo`: the whole life cycle, played on the console platform with a fake
clock, printing what each party receives. It runs in a few seconds on a throwaway
SQLite database, so it is also a smoke test of every part working together.

It runs on any valid configuration: the cast (two customers of different accounts when
there are, their CSM, a lead, the engineer who gets the case), the product area, the
case type and the impact all come from the configuration, and the clock is moved to the
moment the next timer is due (a chase step, an SLA warning or breach) rather than by
durations that only fit one file. Every step prints who types what.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from adapters.console import ConsoleAdapter, ConsoleSession
from bot.clock import FakeClock
from bot.config import Config, Person
from bot.kb_files import import_dir
from entrypoints.bootstrap import Casebot
from storage.models import Case, KbArticle, Timer

ENGINEERS = ("engineer", "lead")


@dataclass(frozen=True)
class Cast:
    """Who plays which part, and what the case is about, from the configuration."""

    customer: Person
    other: Person  # a customer of another account when there is one
    lead: Person
    area: str
    area_name: str
    case_type: str
    impact: str

    @classmethod
    def of(cls, config: Config) -> Cast:
        customers = [p for p in config.people if p.role == "customer" and p.account]
        leads = [p for p in config.people if p.role == "lead"] or [
            p for p in config.people if p.role == "engineer"
        ]
        if not customers or not leads:
            raise ValueError("the demo needs a customer with an account and a lead or engineer")
        customer = customers[0]
        other = next((p for p in customers if p.account != customer.account), customers[-1])
        skilled = [a for a in config.product_areas if any(a.key in p.skills for p in config.people)]
        area = (skilled or config.product_areas)[0]
        # The most urgent impact that is not an outage: SLA targets short enough to see.
        impacts = sorted(config.impacts.items(), key=lambda kv: kv[1].severity)
        impact = impacts[1][0] if len(impacts) > 1 else impacts[0][0]
        return cls(
            customer=customer,
            other=other,
            lead=leads[0],
            area=area.key,
            area_name=area.name,
            case_type=next(iter(config.case_types)),
            impact=impact,
        )


class Demo:
    def __init__(self, bot: Casebot, clock: FakeClock, write: Callable[[str], None]) -> None:
        self.bot, self.clock, self.write = bot, clock, write
        self.cast = Cast.of(bot.config)
        self.answers: list[str] = []
        self.session = ConsoleSession(
            bot.commands, write, ask=self._answer, fake_clock=clock, settle=bot.drain
        )
        self.shown: list[str] = []

    def _answer(self, question: str) -> str:
        # Nothing left to answer: leave the form rather than loop on a required field.
        answer = self.answers.pop(0) if self.answers else "/cancel"
        self.write(f"{question}{answer}")
        return answer

    def narrate(self, text: str) -> None:
        self.write(f"\n═══ {text} ═══")

    async def type(self, who: Person | str, *lines: str) -> str:
        """``who`` types ``lines``; returns what was written meanwhile."""
        person = who if isinstance(who, str) else who.id
        start = len(self.shown)
        if self.session.me != person:
            await self.session.handle(f"as {person}")
        for line in lines:
            self.write(f"\n▶ {person}: {line}")
            await self.session.handle(line)
        return "\n".join(self.shown[start:])

    # -- reading the state the script adapts to --------------------------------------------

    async def case(self, key: str) -> Case:
        async with self.bot.db.read() as s:
            return (await s.scalars(select(Case).where(Case.key == key))).one()

    async def next_timer(self, key: str, kind: str) -> Timer | None:
        case = await self.case(key)
        async with self.bot.db.read() as s:
            found = await s.scalars(
                select(Timer)
                .where(Timer.case_id == case.id, Timer.kind == kind, Timer.state == "pending")
                .order_by(Timer.due_at)
            )
            return found.first()

    async def until(self, who: Person | str, key: str, kind: str) -> bool:
        """Move the clock to the next ``kind`` timer of ``key`` (False: there is none)."""
        timer = await self.next_timer(key, kind)
        if timer is None:
            return False
        due = timer.due_at if timer.due_at.tzinfo else timer.due_at.replace(tzinfo=self.now.tzinfo)
        minutes = max(1, math.ceil((due - self.now).total_seconds() / 60))
        step = f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
        await self.type(who, f"advance {step}")
        return True

    @property
    def now(self) -> datetime:
        return self.clock.now()

    async def engineer_of(self, key: str) -> Person:
        """Who works ``key``: its assignee, else the lead gives it to a skilled engineer."""
        config = self.bot.config
        case = await self.case(key)
        if case.assignee_id is None:
            area = case.area or self.cast.area
            staff = [p for p in config.people if p.role in ENGINEERS]
            best = max(staff, key=lambda p: (p.role == "engineer", p.skills.get(area, 0)))
            await self.type(self.cast.lead, f"/case assign {key} {best.id}")
            case = await self.case(key)
        person = config.person(case.assignee_id or self.cast.lead.id)
        return person or self.cast.lead

    async def open_with_form(self, who: Person, title: str, description: str) -> str:
        c = self.cast
        self.answers = [title, c.area, c.case_type, c.impact, description]
        said = await self.type(who, "/case")
        key = opened(said)
        if f"press {key} kb_reject" in said:
            await self.type(who, f"press {key} kb_reject")
        return key


def opened(said: str) -> str:
    """The key in "Opened CASE-7: …"."""
    return said.split("Opened ", 1)[1].split(":", 1)[0]


async def play(demo: Demo) -> None:
    c, d = demo.cast, demo
    d.narrate(f"{c.customer.name} opens a case with the form ({c.area_name})")
    one = await d.open_with_form(
        c.customer,
        f"{c.area_name}: exports come out blank for every user",
        "Since this morning every export is an empty page.",
    )
    engineer = await d.engineer_of(one)
    d.narrate(f"{engineer.name} replicates and asks for information: the chase starts")
    await d.type(
        engineer,
        f"/case replicating {one}",
        f"/case need-info {one} Which browser, and does it happen with a small export?",
    )
    for step in d.bot.config.chase:
        if step.action == "close_unresponsive":
            break
        d.narrate(f"No answer: the chase's next step ({step.action}) after {step.after}")
        await d.until(engineer, one, "chase")
        if step.action == "phone":
            d.narrate(f"{engineer.name} makes the phone call the task asked for")
            await d.type(engineer, f"/case called {one} reached They will answer in the thread")
            break
    d.narrate(f"{c.customer.name} answers in the case thread (an @everyone stays plain text)")
    await d.type(c.customer, f"say {one} Any browser, any size. @everyone please look!")

    d.narrate(f"{c.customer.name} escalates; the CSM acknowledges")
    await d.type(c.customer, f"/case escalate {one} Our board report is due on Friday")
    csm = d.bot.config.csm_for(c.customer.account or "") or c.lead
    await d.type(csm, f"press {one} ack I'm following this with engineering")

    d.narrate("Time passes without a resolution: the SLA warns, then is breached")
    warned = await d.until(engineer, one, "sla_warn")
    breached = await d.until(engineer, one, "sla_breach")
    if not (warned or breached):
        d.write("(this configuration sets no SLA target for the case's severity)")

    d.narrate(f"{engineer.name} logs a defect with engineering")
    await d.type(engineer, f"/case defect {one} Exports render before their data has loaded")
    d.narrate(f"{c.other.name} hits the same problem; the case is linked to ENG-1")
    two = await d.open_with_form(
        c.other, f"{c.area_name} export is blank for us too", "Same as everyone, I suppose."
    )
    second = await d.engineer_of(two)
    await d.type(second, f"/case replicating {two}", f"/case link {two} ENG-1", "/case eng list")

    d.narrate("Engineering fixes ENG-1: both cases get a resolution to confirm")
    await d.type(engineer, "/case eng status ENG-1 fixed Exports now wait for their data")
    d.narrate("One customer confirms; the other rejects (back to its engineer)")
    await d.type(c.customer, f"press {one} confirm")
    await d.type(c.other, f"press {two} reject Still blank for us with large exports")

    d.narrate(f"{c.customer.name} reopens within the window; a new resolution is confirmed")
    await d.type(c.customer, f"/case reopen {one} Blank again since this morning's update")
    await d.type(engineer, f"/case propose {one} Clear the export cache after an update")
    await d.type(c.customer, f"press {one} confirm")

    d.narrate(f"{c.other.name} opens the same problem again: closed as a duplicate")
    three = opened(await d.type(c.other, f"/case open {c.area_name} exports still blank"))
    await d.type(c.lead, f"/case duplicate {three} {two}")
    d.narrate(f"{c.other.name} opens a case and withdraws it")
    four = opened(await d.type(c.other, "/case open Please ignore: opened by mistake"))
    # Withdrawing asks first; the second line is the customer's yes.
    await d.type(c.other, f"/case withdraw {four}", f"/case withdraw {four} yes")

    async with d.bot.db.read() as s:
        drafts = (await s.scalars(select(KbArticle.key).where(KbArticle.status == "draft"))).all()
    if drafts:
        d.narrate("The knowledge-base draft written from the resolved case is published")
        await d.type(engineer, "/case kb drafts", f"/case kb publish {drafts[0]}")
    d.narrate(f"{c.customer.name} answers the survey; the lead looks at the numbers")
    d.answers = ["Quick and clear, thanks"]  # the survey's comment
    await d.type(c.customer, f"press {one} rate:5", f"/case show {one}")
    await d.type(c.lead, "/case stats")


async def run_demo(
    config: Config, write: Callable[[str], None] = print, kb_dir: Path | None = Path("examples/kb")
) -> None:
    with tempfile.TemporaryDirectory(prefix="casebot-demo-") as tmp:
        clock = FakeClock()
        bot = await Casebot.create(config, f"sqlite:///{tmp}/demo.db", clock=clock)
        try:
            if kb_dir is not None and await asyncio.to_thread(kb_dir.is_dir):
                areas = {a.key for a in config.product_areas}
                report = await import_dir(bot.db, kb_dir, clock.now(), areas)
                write(
                    f"(knowledge base: {len(report.created)} example articles imported)"
                    if report.created
                    else "(knowledge base: no example article is in this configuration's "
                    "product areas, so it starts empty)"
                )
            demo = Demo(bot, clock, write)

            def shown(text: str) -> None:
                demo.shown.append(text)
                write(text)

            demo.session.write = shown
            bot.register_adapter(ConsoleAdapter(config, shown))
            await play(demo)
        finally:
            await bot.close()
