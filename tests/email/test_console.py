"""Trying mail at the console (``casebot run --platform console --platform email``
without a mail server): a ``mail`` line is a mail to support, and every mail in and
out is shown; the team's side shows on the console too."""

from __future__ import annotations

import shutil
from pathlib import Path

from adapters.console import ConsolePlatform
from adapters.email import from_env
from bot.clock import FakeClock
from bot.config import load_config
from bot.ports import PlatformOptions
from entrypoints import mail_console
from entrypoints.bootstrap import Casebot
from tests.email.conftest import CONFIG


async def test_mail_typed_at_the_console_opens_a_case_and_the_mails_show(
    sqlite_template: Path, tmp_path: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "c.db")
    bot = await Casebot.create(
        load_config(CONFIG),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
        clock=FakeClock(),
        migrate=False,
    )
    shown: list[str] = []
    console = ConsolePlatform(shown.append, settle=bot.drain)
    email = from_env({"CASEBOT_SECRET_KEY": "k"}, PlatformOptions(settle=bot.drain))
    try:
        await bot.start_platform(console)
        await bot.start_platform(email)
        mail_console.wire(bot.running)
        assert console.session is not None
        await console.session.handle("mail pat@globex.example Webhooks fail | Every call is a 500.")
        screen = "\n".join(shown)
        assert "── mail in from pat@globex.example ──" in screen
        assert (
            "── mail out to pat@globex.example ──\nSubject: [CASE-1] opened: Webhooks fail"
            in screen
        )
        assert "── to #platform (Platform support) ──\nNew case CASE-1" in screen
        await console.session.handle("mail pat@globex.example no bar here")
        assert shown[-1] == "Usage: mail <address> <subject> | <text>"
    finally:
        await bot.close()


async def test_without_the_email_platform_the_console_says_how_to_start_it() -> None:
    shown: list[str] = []
    console = ConsolePlatform(shown.append)

    class Core:
        config = load_config(CONFIG)

    await console.start(Core())  # type: ignore[arg-type]
    assert console.session is not None
    await console.session.handle("mail pat@globex.example Hi | there")
    assert "--platform email" in shown[-1]
