"""Email as a :class:`bot.ports.Platform`: the customer's side of a case by mail.

``start(core)`` needs the configuration's ``email:`` section (the support address) and
starts what the environment asks for (:mod:`adapters.email.settings`): the SMTP
receiver, the IMAP poller, or both; a delivery-only platform (``casebot worker``) only
sends. ``deliver`` writes the neutral message as a mail to the person it is for (the
case's customer, or a person's address) and sends it through ``CASEBOT_SMTP_URL``; team
channels and staff threads are never mail (the core routes them to chat).

``sent`` and ``received`` keep the last mails in and out, and ``watch`` is called with
each (``"in"``/``"out"``, the mail), so the console can show email as it happens.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from email.message import EmailMessage

from adapters.common import RecentKeys
from adapters.email import threads
from adapters.email.compose import Sender, answer, compose
from adapters.email.door import Door
from adapters.email.imap import MailboxPoller
from adapters.email.links import Links
from adapters.email.outbound import SmtpSender
from adapters.email.receiver import Receiver
from adapters.email.settings import EmailEnv
from adapters.web import public_url_from_env
from adapters.web.signing import Signer, secret_from_env
from bot.config import Config
from bot.identity import EMAIL
from bot.mailroom import IN_REPLY_TO, Mailroom
from bot.messages import Kind, Message, TargetKind
from bot.ports import (
    Core,
    DeliveryContext,
    DeliveryError,
    PlatformError,
    PlatformOptions,
    PlatformRef,
)

log = logging.getLogger(__name__)

Watch = Callable[[str, EmailMessage], None]


class EmailPlatform:
    name = EMAIL

    def __init__(
        self,
        settings: EmailEnv,
        links: Links,
        *,
        receive: bool = True,
        watch: Watch | None = None,
    ) -> None:
        self.settings = settings
        self.links = links
        self.receiving = receive
        self.watch = watch
        self.smtp = SmtpSender(settings.smtp) if settings.smtp else None
        self.door: Door | None = None
        self.mailroom: Mailroom | None = None
        self.receiver: Receiver | None = None
        self.poller: MailboxPoller | None = None
        self.sender: Sender | None = None
        self.sent: deque[EmailMessage] = deque(maxlen=100)
        self._last_kind: RecentKeys[str, Kind] = RecentKeys(120.0)
        self.received: deque[bytes] = deque(maxlen=100)

    # -- life -------------------------------------------------------------------------

    def use_mailroom(self, mailroom: Mailroom) -> None:
        """What keeps attachments, held mail and the door's answers (the bootstrap)."""
        self.mailroom = mailroom

    async def start(self, core: Core) -> None:
        config = core.config
        if config.email is None:
            raise PlatformError(
                f"email needs an `email:` section with the support address in {config.source}"
            )
        self.sender = Sender(config.email.display_name or config.support.name, config.email.address)
        self.links.max_age = config.email.link_days * 86_400
        if not self.receiving:
            return
        if self.mailroom is None:
            raise PlatformError("email receives through casebot's core: start it with casebot")
        self.door = Door(core, config.email, self.mailroom, self.links.attachment_url)
        env = self.settings
        if env.listen is not None:
            host, port = env.listen
            self.receiver = Receiver(
                host, port, self.receive, self._accepts(config), config.email.max_bytes, "casebot"
            )
            try:
                await self.receiver.start()
            except OSError as exc:
                raise PlatformError(
                    f"cannot receive mail on {host}:{port} ({exc.strerror or exc}): "
                    "set CASEBOT_SMTP_LISTEN to a free host:port"
                ) from None
        if env.imap is not None:
            self.poller = MailboxPoller(env.imap, self.receive, env.imap_poll)
            try:
                await self.poller.start()
            except (OSError, ConnectionError, TimeoutError) as exc:
                await self.stop()
                raise PlatformError(
                    f"cannot read the mailbox at {env.imap.host}:{env.imap.port} ({exc}): "
                    "check CASEBOT_IMAP_URL and CASEBOT_IMAP_PASSWORD"
                ) from None

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self.receiver is not None:
            await self.receiver.stop()

    async def finished(self) -> None:
        await asyncio.Event().wait()  # mail never ends by itself

    def health(self) -> dict[str, object]:
        """For ``GET /healthz``: what receives mail, and whether the mailbox is read."""
        report: dict[str, object] = {"ok": True, "sends": self.smtp is not None}
        if self.receiver is not None:
            report["smtp_listen"] = f"{self.receiver.host}:{self.receiver.port}"
        if self.poller is not None:
            report["imap_rounds"] = self.poller.rounds
            report["imap_idle"] = bool(self.poller.idle_supported)
            report["ok"] = self.poller.connected
        return report

    @staticmethod
    def _accepts(config: Config) -> Callable[[str], bool]:
        """The receiver takes mail for the support and feedback addresses only (an open
        relay would take anything)."""
        assert config.email is not None
        ours = {config.email.address, config.email.feedback_address} - {None}
        return lambda address: address.strip().strip("<>").lower() in ours

    # -- mail in ----------------------------------------------------------------------

    async def receive(self, raw: bytes, envelope_from: str | None = None) -> str:
        """One mail, from the receiver, the poller or a test; the SMTP answer."""
        assert self.door is not None, "the email platform receives once started"
        self.received.append(raw)
        if self.watch is not None:
            from email import message_from_bytes, policy

            mail = message_from_bytes(raw, policy=policy.default)
            if isinstance(mail, EmailMessage):
                self.watch("in", mail)
        return await self.door.receive(raw, envelope_from)

    # -- mail out ---------------------------------------------------------------------

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        if self.sender is None:
            raise DeliveryError("the email platform is not started")
        kind = message.target.kind
        if kind == TargetKind.CASE_CUSTOMER:
            to = ctx.customer_user
        elif kind == TargetKind.PERSON:
            to = ctx.address
        else:
            raise DeliveryError(
                f"mail reaches people, not {kind}: give the team a chat channel", permanent=True
            )
        if not to or "@" not in to:
            raise DeliveryError(f"no mail address for {message.target.id}", permanent=True)
        thread = message.case_key if kind == TargetKind.CASE_CUSTOMER else None
        if _is_answer(message):  # the door's own answer to a mail, threaded under it
            mail = answer(to, self.sender, message.title, message.text, message.fields[0].value)
            await self._send(mail, to)
            return PlatformRef(to, str(mail["Message-ID"]), None)
        if self._says_nothing_new(message):
            return PlatformRef(to, "", thread)
        mail = compose(
            message,
            to,
            self.sender,
            self.links.url,
            ctx.delivery_id,
            footer=_footer(message, self.sender.address),
        )
        await self._send(mail, to)
        if message.case_key:
            self._last_kind.put(message.case_key, message.kind)
        return PlatformRef(to, str(mail["Message-ID"]), thread)

    def _says_nothing_new(self, message: Message) -> bool:
        """A status change right behind the question or proposal that caused it ("is
        waiting for your answer") is not mailed: in chat it edits the case message in
        place, in mail it would be a second mail saying what the first one said."""
        if not (message.update and message.case_key):
            return False
        return self._last_kind.get(message.case_key) in (
            Kind.INFO_REQUEST,
            Kind.RESOLUTION_PROPOSAL,
        )

    async def _send(self, mail: EmailMessage, to: str) -> None:
        if self.smtp is None and self.watch is None:
            raise DeliveryError("CASEBOT_SMTP_URL is not set: casebot cannot send mail")
        assert self.sender is not None
        if self.smtp is not None:
            await self.smtp.send(mail, self.sender.address, to)
        # Without a server (trying casebot at the console) the mail is only shown.
        self.sent.append(mail)
        if self.watch is not None:
            self.watch("out", mail)

    async def write_in(self, sender: str, subject: str, text: str) -> None:
        """A mail written by hand (the console's ``mail`` line), received as if sent."""
        assert self.sender is not None, "the email platform receives once started"
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = self.sender.address
        mail["Subject"] = subject
        mail["Message-ID"] = threads.message_id(None, f"typed{len(self.received)}", "console")
        mail.set_content(text)
        await self.receive(mail.as_bytes(), sender)


def _is_answer(message: Message) -> bool:
    f = message.fields
    return message.case_key is None and len(f) == 1 and f[0].label == IN_REPLY_TO


def _footer(message: Message, address: str) -> str:
    if message.case_key:
        return (
            f"Reply to this mail to write on {message.case_key}, or write to {address} "
            f"with [{message.case_key}] in the subject."
        )
    return f"Write to {address} to reach support."


def from_env(
    env: Mapping[str, str], options: PlatformOptions, watch: Watch | None = None
) -> EmailPlatform:
    settings = EmailEnv.read(env)
    web = options.web
    env_url = public_url_from_env(env)

    def base() -> str | None:
        return env_url or (web.public_url if web is not None and web.running else None)

    links = Links(Signer(secret_from_env(env)), base)
    return EmailPlatform(settings, links, receive=options.receive, watch=watch)
