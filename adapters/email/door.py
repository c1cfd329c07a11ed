"""Mail in: what a letter means for the core, and the few answers mail needs.

A letter is guarded (robots, size, a flood from one sender, a repeat), then becomes one
core call, as the sender (``Context(platform="email", user_id=<address>)``; the core
places them by ``people[].identities.email``, else by an account's ``email_domains``):

- to the feedback address: ``feedback``;
- naming a case (thread headers or ``[CASE-n]``): ``confirm`` / ``reject <reason>`` /
  ``/case …`` as its first line asks, else a message on the case (``thread_message``);
- anything else: a quick ``open`` (subject → title, text → description).

What the core has to say comes back by the outbox (the acknowledgement with the case
key, the status mails). So does every answer the door gives itself — a refusal, a
``/case`` command's answer, the thanks for feedback, a mail too large, attachments not
kept — through :class:`bot.mailroom.Mailroom`: retried while the mail server is down,
at most once a day with the same words to the same sender, so a sender casebot does not
know hears it once, not per mail. With ``email.unknown_senders: queue`` a new mail from
such a sender is held for the lead (:mod:`bot.held_mail`) instead of refused.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable

from adapters.common import RecentKeys
from adapters.email import threads
from adapters.email.letters import Letter, parse
from bot import held_mail
from bot.config import Email
from bot.exchange import Context, Reply
from bot.identity import EMAIL
from bot.mailroom import Incoming, Mailroom, too_large
from bot.ports import Core

log = logging.getLogger(__name__)

AttachmentUrl = Callable[[int], str | None]
DAY = 86_400.0
OK = "250 OK"


def too_big(size: int, limit: int) -> str:
    return (
        f"Your mail was {size / 1_048_576:.1f} MB; we accept mail up to "
        f"{limit / 1_048_576:.1f} MB. Please send large files as a link, "
        "or split them over several mails."
    )


class Door:
    def __init__(
        self,
        core: Core,
        settings: Email,
        mailroom: Mailroom,
        attachment_url: AttachmentUrl = lambda _: None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = core
        self.settings = settings
        self.mailroom = mailroom
        self.attachment_url = attachment_url
        self._now = now
        self._recent: RecentKeys[str, None] = RecentKeys(DAY, now=now)
        self._by_sender: dict[str, deque[float]] = {}
        self.dropped: list[tuple[str, str]] = []  # (sender, why): what was not handled

    async def receive(self, raw: bytes, envelope_from: str | None = None) -> str:
        """Handle one mail; the SMTP answer for it (``250 OK``, or a refusal).
        ``envelope_from`` is the SMTP ``MAIL FROM`` (None for mail read from a mailbox)."""
        limit = self.settings.max_bytes
        letter = parse(raw, envelope_from)
        if letter.robot:
            return self._drop(letter, letter.robot)
        if letter.sender in (self.settings.address, self.settings.feedback_address):
            return self._drop(letter, "mail from casebot's own address")
        if len(raw) > limit:
            if envelope_from is None:  # read from a mailbox: the sender hears it by mail
                await self._answer_once(letter, too_big(len(raw), limit))
            self._drop(letter, "too big")  # over SMTP, the 552 is the sender's answer
            return f"552 5.3.4 {too_big(len(raw), limit)}"
        key = letter.message_id or hashlib.sha256(raw).hexdigest()
        if not self._recent.claim(key):
            return self._drop(letter, "a repeat")
        if not self._allowed(letter.sender):
            return self._drop(letter, "too many mails from this sender")
        try:
            reply = await self.handle(letter, key[:200])
        except BaseException:
            self._recent.release(key)  # let a re-delivery through
            raise
        if reply is not None and reply.text and not reply.duplicate:
            await self._answer_once(letter, reply.text)
        return OK

    def _drop(self, letter: Letter, why: str) -> str:
        log.info("email: not answering %s (%s)", letter.sender or "?", why)
        self.dropped.append((letter.sender, why))
        return OK

    def _allowed(self, sender: str) -> bool:
        now = self._now()
        times = self._by_sender.setdefault(sender, deque())
        while times and now - times[0] > 3600:
            times.popleft()
        if len(times) >= self.settings.per_sender_per_hour:
            return False
        times.append(now)
        return True

    async def _answer_once(self, letter: Letter, text: str) -> None:
        """An answer of the door's own, by the outbox (once a day per sender and words)."""
        await self.mailroom.answer(letter.sender, letter.subject, text, letter.message_id)

    async def _listing(self, letter: Letter, mail_key: str) -> str:
        """The attachments as the case lists them, each kept if it fits (the sender
        hears once which did not)."""
        if not letter.attachments:
            return ""
        files = [Incoming(a.name, a.content_type, a.data) for a in letter.attachments]
        kept = await self.mailroom.keep(mail_key, files)
        left = [k.name for k in kept if not k.kept]
        if left:
            await self._answer_once(letter, too_large(left, self.settings.attachments.max_bytes))
        return "\n".join(k.line(self.attachment_url) for k in kept)

    async def handle(self, letter: Letter, mail_key: str) -> Reply | None:
        """The core call a letter is; the reply to mail back (None: nothing to say)."""
        event_id = "email:" + mail_key[:180]
        ctx = Context(
            platform=EMAIL, user_id=letter.sender, user_name=letter.sender_name, event_id=event_id
        )
        text = threads.new_text(letter)
        feedback = self.settings.feedback_address
        if feedback and feedback in letter.recipients:
            body = "\n\n".join(p for p in (text, threads.listing(letter.attachments)) if p)
            return await self.core.invoke(ctx, "feedback", {"text": body or "(no text)"})
        key = threads.case_named(letter, self.settings.address.rpartition("@")[2])
        if key is None and self.settings.unknown_senders == "queue":
            units = self.mailroom.units
            if not await held_mail.known(units, letter.sender):
                body = "\n\n".join(p for p in (text, await self._listing(letter, mail_key)) if p)
                title = threads.title_of(letter)
                args = (letter.sender, letter.sender_name, title, body or "(no text)")
                await held_mail.hold(units, mail_key, *args)
                await self._answer_once(letter, held_mail.HELD)
                return None
        attached = await self._listing(letter, mail_key)
        body = "\n\n".join(p for p in (text, attached) if p) or "(no text)"
        reply = await self._on_case(letter, ctx, key, text, body)
        if attached and reply is None:
            await self.mailroom.place(mail_key, letter.sender, key)
        elif attached:  # refused (a stranger, another account's case): nothing is kept
            await self.mailroom.discard(mail_key)
        return reply

    async def _on_case(
        self, letter: Letter, ctx: Context, key: str | None, text: str, body: str
    ) -> Reply | None:
        if key is None:
            reply = await self.core.invoke(
                ctx,
                "open",
                {"title": threads.title_of(letter) or "(no subject)", "description": body},
            )
            return None if reply.ok else reply
        ask = threads.ask_of(text)
        if ask.command == "/case":
            return await self.core.run(ctx, ask.text)
        if ask.command == threads.CONFIRM:
            reply = await self.core.invoke(ctx, "confirm", {"case": key})
        elif ask.command == threads.REJECT:
            reply = await self.core.invoke(ctx, "reject", {"case": key, "reason": ask.text})
        else:
            in_thread = Context(
                platform=EMAIL,
                user_id=letter.sender,
                user_name=letter.sender_name,
                thread_id=key,
                event_id=ctx.event_id,
            )
            found = await self.core.thread_message(in_thread, body)
            # A case opened elsewhere has no mail thread: the mail is a reply on it.
            reply = found or await self.core.invoke(ctx, "reply", {"case": key, "text": body})
        return None if reply.ok else reply
