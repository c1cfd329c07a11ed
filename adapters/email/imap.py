"""Polling a mailbox over IMAP (aioimaplib), for a team whose support@ lives on a mail
server of its own (``CASEBOT_IMAP_URL=imaps://user@host/INBOX``).

Each round fetches the unseen mail (``UID SEARCH UNSEEN``, ``BODY.PEEK[]`` so nothing is
marked read by the fetch), hands each one to the platform and only then marks it
``\\Seen``: a crash in between leaves it unseen, and the next round's retry has one
effect (the core de-duplicates by ``Message-ID``). Between rounds it waits in ``IDLE``
when the server has it (a new mail wakes it at once), else ``CASEBOT_IMAP_POLL``
seconds; a lost connection is retried with a growing pause.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from contextlib import suppress

import aioimaplib

from adapters.email.settings import Server

log = logging.getLogger(__name__)

Receive = Callable[[bytes, str | None], Awaitable[str]]
IDLE_SECONDS = 25 * 60  # under the 29 minutes RFC 2177 lets a server wait
TIMEOUT = 30.0
_FETCHED = re.compile(rb"UID (\d+)")


class MailboxPoller:
    def __init__(self, server: Server, receive: Receive, poll: float = 60.0) -> None:
        self.server = server
        self.receive = receive
        self.poll = poll
        self._task: asyncio.Task[None] | None = None
        self._client: aioimaplib.IMAP4 | None = None
        self.rounds = 0  # completed fetch rounds (for health and tests)
        self.idle_supported: bool | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def connect(self) -> aioimaplib.IMAP4:
        s = self.server
        if s.tls:
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                s.host, s.port, timeout=TIMEOUT, ssl_context=ssl.create_default_context()
            )
        else:
            client = aioimaplib.IMAP4(s.host, s.port, timeout=TIMEOUT)
        await client.wait_hello_from_server()
        resp = await client.login(s.user, s.password)
        if resp.result != "OK":
            raise ConnectionError(f"IMAP login as {s.user} refused")
        resp = await client.select(s.path)
        if resp.result != "OK":
            raise ConnectionError(f"IMAP mailbox {s.path} cannot be selected")
        self.idle_supported = client.has_capability("IDLE")
        return client

    async def start(self) -> None:
        """Connect once now (so a wrong URL or password stops the start with a reason),
        then keep polling in the background."""
        self._client = await self.connect()
        self._task = asyncio.create_task(self._run(), name="casebot-imap")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._client is not None:
            with suppress(Exception):
                await asyncio.wait_for(self._client.logout(), 5)
            self._client = None

    async def _run(self) -> None:
        pause = 1.0
        while True:
            try:
                if self._client is None:
                    self._client = await self.connect()
                await self.fetch_round(self._client)
                pause = 1.0
                await self._wait(self._client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the mailbox must keep being read
                log.warning("email: IMAP %s:%s: %s", self.server.host, self.server.port, exc)
                self._client = None
                await asyncio.sleep(pause)
                pause = min(pause * 2, 300.0)

    async def fetch_round(self, client: aioimaplib.IMAP4) -> int:
        """Handle every unseen mail once; how many there were."""
        resp = await client.uid_search("UNSEEN")
        uids = [u for line in resp.lines[:1] for u in line.split() if u.isdigit()]
        for uid in uids:
            fetched = await client.uid("fetch", uid.decode(), "(BODY.PEEK[])")
            raw = next((bytes(x) for x in fetched.lines if isinstance(x, bytearray)), None)
            if raw is None:
                continue
            answer = await self.receive(raw, None)
            if answer.startswith("4"):  # our own failure: leave it unseen for the next round
                continue
            await client.uid("store", uid.decode(), "+FLAGS", "(\\Seen)")
        self.rounds += 1
        return len(uids)

    async def _wait(self, client: aioimaplib.IMAP4) -> None:
        if not self.idle_supported:
            await asyncio.sleep(self.poll)
            return
        idle = await client.idle_start(timeout=IDLE_SECONDS)
        try:
            while True:
                push = await client.wait_server_push(timeout=IDLE_SECONDS + 60)
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                lines = push if isinstance(push, list) else []
                if any(b"EXISTS" in bytes(x) for x in lines if isinstance(x, bytes | bytearray)):
                    break
        finally:
            client.idle_done()
            with suppress(Exception):
                await asyncio.wait_for(idle, TIMEOUT)
