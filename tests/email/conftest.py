"""Fixtures for the email platform: the real core on SQLite, the email platform started
the way ``casebot run`` starts it (its SMTP receiver on 127.0.0.1, its links on the
shared web server), a real SMTP server standing for the world outside (aiosmtpd) that
receives every mail casebot sends, and Slack as a recording platform at the core's
port, where the engineers work.

Tests read as the dialog: the customer mails casebot (over real SMTP, through
aiosmtplib), the engineer types in "Slack", and we look at the customer's mailbox.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.email import EmailPlatform, from_env
from adapters.email.links import mount
from adapters.web import WebServer
from bot.clock import FakeClock
from bot.config import Config, load_config
from bot.durations import parse_duration
from bot.exchange import Context, Reply
from bot.messages import Message, TargetKind
from bot.ports import PlatformOptions
from entrypoints.bootstrap import Casebot
from storage.db import Database
from tests.conftest import open_database
from tests.harness import RecordingPlatform

CONFIG = Path(__file__).with_name("casebot.yml")
SUPPORT = "support@casebot.example"
FEEDBACK = "feedback@casebot.example"


class Slack(RecordingPlatform):
    """Where the team works: records what the core posts there."""

    name = "slack"


class Outside:
    """The rest of the world's mail servers: an aiosmtpd server that keeps every mail."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self.refuse: set[str] = set()  # addresses answered 550
        self.defer: set[str] = set()  # addresses answered 451 (try later)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        if address in self.defer:
            return "451 4.2.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mail = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append((str(envelope.mail_from), list(envelope.rcpt_tos), mail))
        return "250 OK"

    async def start(self, port: int = 0) -> None:
        """Listen (again, after ``stop``, on the same ``port``: the server came back)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="outside", loop=loop), "127.0.0.1", port
        )
        self.port = int(list(self._server.sockets)[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")


@dataclass
class World:
    bot: Casebot
    clock: FakeClock
    email: EmailPlatform
    slack: Slack
    outside: Outside
    web: WebServer
    _seen: dict[str, int] = field(default_factory=dict)
    _events: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def config(self) -> Config:
        return self.bot.config

    # -- the customer's side: mail --------------------------------------------------------

    async def mail(
        self,
        sender: str,
        subject: str,
        text: str,
        *,
        to: str = SUPPORT,
        headers: dict[str, str] | None = None,
        envelope_from: str | None = None,
        message_id: str | None = None,
        attach: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    ) -> str:
        """``sender`` writes to casebot over SMTP; returns the mail's Message-ID."""
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = to
        mail["Subject"] = subject
        mid = message_id or f"<m{next(self._events)}.{sender.replace('@', '.')}@client.example>"
        mail["Message-ID"] = mid
        for k, v in (headers or {}).items():
            mail[k] = v
        mail.set_content(text)
        for name, data in attach:
            mail.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
        await self.send_raw(mail.as_bytes(), sender if envelope_from is None else envelope_from, to)
        return mid

    async def send_raw(self, raw: bytes, envelope_from: str, to: str = SUPPORT) -> None:
        assert self.email.receiver is not None
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.email.receiver.port)
        async with smtp:
            await smtp.sendmail(envelope_from, [to], raw)  # "" is a bounce's MAIL FROM:<>
        await self.settle()

    async def reply_to(self, sender: str, mail: EmailMessage, text: str) -> str:
        """``sender`` answers ``mail`` the way a mail client does: Re: subject, thread
        headers, the old mail quoted under the new words."""
        quoted = "\n".join("> " + line for line in text_of(mail).splitlines())
        body = f"{text}\n\nOn Mon, 2 Nov 2026 at 10:00, Support <{SUPPORT}> wrote:\n{quoted}\n"
        mid = str(mail["Message-ID"])
        return await self.mail(
            sender,
            "Re: " + str(mail["Subject"]),
            body,
            headers={"In-Reply-To": mid, "References": mid},
        )

    def inbox(self, address: str) -> list[EmailMessage]:
        """Mail ``address`` received since the last look."""
        mails = [m for _, rcpt, m in self.outside.mails if address in rcpt]
        seen = self._seen.get(address, 0)
        self._seen[address] = len(mails)
        return mails[seen:]

    # -- the team's side: Slack --------------------------------------------------------

    async def slack_says(self, user_id: str, text: str) -> Reply:
        ctx = Context(
            platform="slack",
            user_id=user_id,
            channel_id="C1PLATFORM",
            event_id=f"slack-{next(self._events)}",
        )
        reply = await self.bot.commands.run(ctx, text.removeprefix("/case").strip())
        await self.settle()
        return reply

    def posted(self, kind: TargetKind, target_id: str) -> list[Message]:
        return [
            d.message
            for d in self.slack.deliveries
            if d.target.kind == kind and d.target.id == target_id
        ]

    # -- time ---------------------------------------------------------------------------

    async def settle(self) -> None:
        await self.bot.drain()

    async def advance(self, duration: str) -> None:
        self.clock.set(parse_duration(duration).after(self.clock.now(), self.config.support.tz))
        await self.settle()


ENV = {
    "CASEBOT_SMTP_LISTEN": "127.0.0.1:0",
    "CASEBOT_SECRET_KEY": "test-secret-for-links",
}


@asynccontextmanager
async def started(
    sqlite_template: Path,
    tmp_path: Path,
    extra: dict[str, str] | None = None,
    db: Database | None = None,
    config: Path = CONFIG,
) -> AsyncIterator[World]:
    """A world whose email platform was started with ``ENV`` and ``extra`` (on ``db``,
    else a copy of the SQLite template)."""
    if db is None:
        path = tmp_path / "casebot.db"
        shutil.copy(sqlite_template, path)
        db = Database(f"sqlite+aiosqlite:///{path}")
    clock = FakeClock()
    bot = Casebot(load_config(config), db, clock=clock)
    await bot.sync_config()
    outside = Outside()
    await outside.start()
    env = {**ENV, "CASEBOT_SMTP_URL": f"smtp://127.0.0.1:{outside.port}", **(extra or {})}
    web = WebServer("127.0.0.1", 0)
    slack = Slack()
    bot.register_adapter(slack)
    email = from_env(env, PlatformOptions(web=web))
    try:
        await bot.start_platform(email)
        mount(web, bot, env)
        await web.start()
        yield World(bot, clock, email, slack, outside, web)
    finally:
        await web.stop()
        await bot.close()
        await outside.stop()


@pytest.fixture
async def world(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[World]:
    async with started(sqlite_template, tmp_path) as w:
        yield w


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_world(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[World]:
    """The world on SQLite, then on PostgreSQL (for the tests that matter on both)."""
    db = await open_database(request, tmp_path, "pg_database")
    async with started(sqlite_template, tmp_path, db=db) as w:
        yield w
