"""`casebot demo`: the whole life cycle, scripted on the console platform with a fake
clock, printing what each party receives. It runs in a few seconds on a throwaway
SQLite database, so it is also a smoke test of every part working together."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from adapters.console import ConsolePlatform
from bot.clock import FakeClock
from bot.config import Config
from bot.kb_files import import_dir
from entrypoints.bootstrap import Casebot

# (narration, [console lines]) — each step is one thing a person does.
SCRIPT: list[tuple[str, list[str]]] = [
    (
        "A customer opens a case with the quick path",
        ["as gus", "/case open Dashboard export to PDF shows blank charts on every dashboard"],
    ),
    (
        "The knowledge base was searched first: no article answers it with confidence, so "
        "nothing is suggested (no suggestion beats a wrong one) and the case was routed",
        [],
    ),
    ("(the triage alert and the assignment by skill went out above)", []),
    (
        "The engineer corrects the severity (a blocked enterprise customer), starts replicating "
        "and asks for information",
        [
            "as omar",
            "/case severity CASE-1 S2",
            "/case replicating CASE-1",
            "/case need-info CASE-1 Which browser, and does it happen with a 1-hour time range?",
        ],
    ),
    (
        "A business day passes without an answer: the chase sequence reminds the customer",
        ["advance 1bd"],
    ),
    (
        "The customer answers in the case thread: the chase stops",
        ["as gus", "say CASE-1 Chrome 131 and Firefox, any time range. @everyone please look!"],
    ),
    (
        "The engineer logs a defect with engineering",
        ["as omar", "/case defect CASE-1 PDF export renders charts before their data has loaded"],
    ),
    (
        "A second account hits the same problem; its case is linked and ENG-1's priority rises",
        [
            "as ivy",
            "/case open The PDF export of our dashboard comes out blank",
            "as omar",
            "/case severity CASE-2 S3",
            "/case replicating CASE-2",
            "/case link CASE-2 ENG-1",
            "/case eng list",
        ],
    ),
    (
        "The first customer escalates: their CSM gets a DM",
        [
            "as gus",
            "/case escalate CASE-1 Our board report is due on Friday",
            "as dana",
            "press CASE-1 ack I'm following this with engineering",
        ],
    ),
    (
        "Engineering fixes ENG-1: both cases get a resolution to confirm",
        ["as omar", "/case eng status ENG-1 fixed Charts now wait for their data before export"],
    ),
    (
        "One customer confirms (resolved); the other rejects (back to its engineer)",
        [
            "as gus",
            "press CASE-1 confirm",
            "as ivy",
            "press CASE-2 reject Still blank for us when the dashboard has 20+ charts",
        ],
    ),
    (
        "The engineer publishes the knowledge-base draft written from the resolved case",
        [
            "as omar",
            "/case kb drafts",
            "/case kb publish KB-11",
            "/case kb search PDF export blank charts",
        ],
    ),
    ("The customer answers the survey", ["as gus", "press CASE-1 rate:5", "/case show CASE-1"]),
    (
        "Another customer asks what an article answers: it is suggested, and solves it",
        [
            "as ivy",
            "/case open Helm upgrade fails: the migration job times out",
            "press CASE-3 kb_accept:KB-8",
        ],
    ),
]


async def run_demo(
    config: Config, write: Callable[[str], None] = print, kb_dir: Path | None = Path("examples/kb")
) -> None:
    with tempfile.TemporaryDirectory(prefix="casebot-demo-") as tmp:
        clock = FakeClock()
        bot = await Casebot.create(config, f"sqlite:///{tmp}/demo.db", clock=clock)
        try:
            if kb_dir is not None and await asyncio.to_thread(kb_dir.is_dir):
                report = await import_dir(bot.db, kb_dir, clock.now())
                write(f"(knowledge base: {len(report.created)} articles imported)")
            console = ConsolePlatform(write, fake_clock=clock, settle=bot.drain)
            await bot.start_platform(console)
            session = console.session
            assert session is not None
            for n, (narration, lines) in enumerate(SCRIPT, 1):
                write(f"\n═══ {n}. {narration} ═══")
                for line in lines:
                    who = session.me or "?"
                    if not line.startswith("as "):
                        write(f"\n▶ {who}: {line}")
                    await session.handle(line)
        finally:
            await bot.close()
