"""The built-in SMTP receiver (aiosmtpd), for a team that points an MX record or a
forwarder at casebot (``CASEBOT_SMTP_LISTEN=host:port``).

It serves on the process's own event loop (not aiosmtpd's thread), and answers ``250``
only once the mail was handled, so a crash before that leaves the sending server to
retry (and the core's de-duplication makes the retry one effect). Mail casebot cannot
handle for a failure of its own is answered ``451`` (try again later); mail over the
size limit ``552`` with the limit in the words, which the sending server passes back to
the sender.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

Receive = Callable[[bytes, str | None], Awaitable[str]]


class _Handler:
    def __init__(self, receive: Receive, accepts: Callable[[str], bool]) -> None:
        self.receive = receive
        self.accepts = accepts

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if not self.accepts(address):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not raw:
            raw = envelope.content
        try:
            return await self.receive(raw, envelope.mail_from)
        except Exception:  # noqa: BLE001 - the sending server retries a 451
            log.exception("email: a received mail could not be handled")
            return "451 4.3.0 casebot could not take this mail now; please try again later"


class Receiver:
    def __init__(
        self,
        host: str,
        port: int,
        receive: Receive,
        accepts: Callable[[str], bool],
        max_bytes: int,
        hostname: str,
    ) -> None:
        self.host = host
        self.port = port
        self._handler = _Handler(receive, accepts)
        # Mail a little over the limit reaches the handler, which refuses it with words.
        self._limit = max_bytes * 2
        self._hostname = hostname
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self._handler,
                data_size_limit=self._limit,
                hostname=self._hostname,
                loop=loop,
            ),
            self.host,
            self.port,
        )
        sockets: list[Any] = list(self._server.sockets or [])
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("email: receiving mail on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            await server.wait_closed()
