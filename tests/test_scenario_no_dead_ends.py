"""Issue #9 (part c) on every platform: withdraw asks first and is undone by a reopen, a
message after a close is kept and says how to come back, `called` says what is true,
and the knowledge-base draft is read and corrected with typed commands (`kb show`,
`kb edit`), through the stages of tests/test_scenario.py (the console's typed lines,
Slack's signed requests, Discord's slash commands)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import load_config
from entrypoints.bootstrap import Casebot
from storage.models import Case, KbArticle
from tests.test_scenario import STAGES, Step

# Each step, the case's state after it, and words its answer must hold.
SCRIPT: list[tuple[Step, str]] = [
    (
        Step(
            "customer",
            "open",
            {"title": "Webhook deliveries fail with HTTP 500"},
            "triaged|assigned",
        ),
        "",
    ),
    (Step("lead", "assign", {"case": "CASE-1", "engineer": "@lead"}, "assigned"), ""),
    (Step("lead", "replicating", {"case": "CASE-1"}, "replicating"), ""),
    (
        Step("lead", "called", {"case": "CASE-1", "outcome": "reached"}, "replicating"),
        "No chase was running",
    ),
    (Step("customer", "withdraw", {"case": "CASE-1"}, "replicating"), "To go ahead"),
    (
        Step("customer", "withdraw", {"case": "CASE-1", "confirm": "yes"}, "closed"),
        "reopen it until",
    ),
    (
        Step("customer", "reply", {"case": "CASE-1", "text": "Wrong button, sorry"}, "closed"),
        "Your message is kept",
    ),
    (
        Step("customer", "reopen", {"case": "CASE-1", "reason": "Still failing"}, "replicating"),
        "reopened",
    ),
    (
        Step(
            "lead",
            "propose",
            {"case": "CASE-1", "resolution": "Rotate the webhook signing secret"},
            "solution_proposed",
        ),
        "",
    ),
    (Step("customer", "press", {"id": "case:CASE-1:confirm"}, "resolved"), ""),
    (Step("lead", "kb show", {"draft": "KB-1"}, "resolved"), "drafted from CASE-1"),
    (
        Step(
            "lead",
            "kb edit",
            {"draft": "KB-1", "section": "cause", "text": "A cached secret"},
            "resolved",
        ),
        "cause updated",
    ),
]


@pytest.mark.parametrize("platform", sorted(STAGES))
async def test_no_dead_ends_on_every_platform(
    platform: str, sqlite_template: Path, tmp_path: Path
) -> None:
    config_path, make_stage = STAGES[platform]
    path = tmp_path / "casebot.db"
    shutil.copy(sqlite_template, path)
    bot = await Casebot.create(
        load_config(config_path), f"sqlite+aiosqlite:///{path}", clock=FakeClock(), migrate=False
    )
    try:
        async with make_stage(bot) as stage:
            for step, words in SCRIPT:
                answer = await stage.act(step.who, step)
                async with bot.db.read() as s:
                    case = (await s.scalars(select(Case).where(Case.key == "CASE-1"))).one()
                assert case.state in step.state.split("|"), (platform, step, answer)
                assert words in answer, (platform, step, answer)
            async with bot.db.read() as s:
                article = (await s.scalars(select(KbArticle).where(KbArticle.key == "KB-1"))).one()
            assert (article.status, article.cause) == ("draft", "A cached secret")
            assert article.resolution == "Rotate the webhook signing secret"
    finally:
        await bot.close()
