"""IMAP polling against an in-process IMAP server: aioimaplib's own test server
(``aioimaplib.imap_testing_server.MockImapServer``, which speaks IMAP4rev1 with IDLE over
a real socket; its search knows ``UNKEYWORD \\Seen`` but not the ``UNSEEN`` casebot
sends, so the fixture teaches it that one word). Mail waiting in the mailbox is handled when casebot starts and marked
``\\Seen`` only then; a new mail wakes the IDLE at once; a wrong address stops the start
with one line."""

from __future__ import annotations

import asyncio
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest
from aioimaplib.imap_testing_server import ImapProtocol, Mail, MockImapServer
from sqlalchemy import func, select

from bot.ports import PlatformError
from storage.models import Case
from tests.email.conftest import SUPPORT, World, started

GUS = "gus@globex.example"


def mail(subject: str, text: str, mid: str) -> Mail:
    m = EmailMessage()
    m["From"] = f"Gus Hartmann <{GUS}>"
    m["To"] = SUPPORT
    m["Subject"] = subject
    m["Message-ID"] = mid
    m.set_content(text)
    return Mail(message_from_bytes(m.as_bytes()))


async def cases(world: World) -> int:
    async with world.bot.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(Case)) or 0)


async def until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):  # at most ~10 s: the poller runs on real sockets
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
async def imap(monkeypatch: pytest.MonkeyPatch) -> tuple[MockImapServer, int]:
    search = ImapProtocol.search

    def unseen(self: ImapProtocol, tag: str, *args: str) -> None:
        words = [
            w for a in args for w in (("UNKEYWORD", "\\Seen") if a.upper() == "UNSEEN" else (a,))
        ]
        search(self, tag, *words)

    monkeypatch.setattr(ImapProtocol, "search", unseen)
    server = MockImapServer()
    listener = await server.run_server(host="127.0.0.1", port=0)
    port = int(listener.sockets[0].getsockname()[1])
    yield server, port  # type: ignore[misc]
    listener.close()
    server.reset()


async def test_mail_in_the_mailbox_opens_cases_and_idle_brings_the_next_at_once(
    imap: tuple[MockImapServer, int], sqlite_template: Path, tmp_path: Path
) -> None:
    server, port = imap
    server.receive(
        mail("Webhooks fail", "Every webhook returns 500.", "<i1@x>"), imap_user="support"
    )
    env = {
        "CASEBOT_IMAP_URL": f"imap://support@127.0.0.1:{port}/INBOX",
        "CASEBOT_IMAP_PASSWORD": "pw",
    }
    async with started(sqlite_template, tmp_path, {**env, "CASEBOT_SMTP_LISTEN": ""}) as world:
        poller = world.email.poller
        assert poller is not None and world.email.receiver is None

        async def one() -> bool:
            await world.settle()
            return await cases(world) == 1

        await until(one, "the waiting mail opens CASE-1")
        messages = server._server_state.get_mailbox_messages("support", "INBOX")
        await until(lambda: _seen(messages, 1), "the mail is marked seen")
        assert poller.idle_supported

        server.receive(mail("Agent install fails", "Helm fails.", "<i2@x>"), imap_user="support")

        async def two() -> bool:
            await world.settle()
            return await cases(world) == 2

        await until(two, "IDLE wakes for the new mail")
        assert [m["Subject"] for _, _, m in world.outside.mails if "opened" in m["Subject"]] == [
            "[CASE-1] opened: Webhooks fail",
            "[CASE-2] opened: Agent install fails",
        ]


async def _seen(messages: list[Mail], n: int) -> bool:
    return sum(1 for m in messages if r"\Seen" in m.flags) == n


async def test_a_mailbox_that_cannot_be_reached_stops_the_start_with_a_reason(
    sqlite_template: Path, tmp_path: Path
) -> None:
    nowhere = {"CASEBOT_IMAP_URL": "imap://support@127.0.0.1:1/INBOX"}
    with pytest.raises(PlatformError, match="cannot read the mailbox at 127.0.0.1:1"):
        async with started(sqlite_template, tmp_path, nowhere):
            pass
