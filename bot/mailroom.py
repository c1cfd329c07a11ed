"""The mail side of the core: what the email adapter keeps and says through the
database and the outbox (adapters import no storage; see docs/email.md).

- Answers: a refusal, a ``/case`` command's answer, the thanks for feedback, the answer
  to a mail too large to take. Each is an outbox delivery to the sender's address
  (retried, paced per recipient domain like every mail), at most once a day with the
  same words to the same address: the day's event marker, shared by every worker.
- Attachments: kept in the database up to ``email.attachments`` (per attachment and per
  mail); larger ones are listed on the timeline as not kept and the sender is told
  once. Staff who may see the case fetch a kept one (:meth:`Mailroom.fetch`, the policy's
  ``Deed.ATTACHMENT``); nobody else does.
- Held mail (``email.unknown_senders: queue``) is in :mod:`bot.held_mail`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sqlalchemy import delete, select, update

from bot import identity
from bot.errors import Duplicate, Refusal
from bot.exchange import Context
from bot.identity import EMAIL
from bot.messages import Field, Kind, Message, Target
from bot.policy import Deed
from bot.reports.pages import Pages
from bot.units import Units
from storage.mail import MailAttachment
from storage.models import Case

NOT_KEPT = "not kept (too large)"
# The field an answer carries the Message-ID of the mail it answers in (the email
# platform threads it under that mail, and never shows the field).
IN_REPLY_TO = "In-Reply-To"
NO_ATTACHMENT = "There is no such attachment, or it was not kept."


def too_large(names: Sequence[str], limit: int) -> str:
    """What the sender is told (once) about attachments that were not kept."""
    return (
        f"We could not keep {', '.join(names)}: we keep attachments up to "
        f"{size_words(limit)}. Please send larger files as a link."
    )


def size_words(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


@dataclass(frozen=True)
class Incoming:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Kept:
    """One attachment as the case lists it (``kept`` False: over the limit)."""

    id: int
    name: str
    size: int
    kept: bool

    def line(self, url: Callable[[int], str | None]) -> str:
        what = f"Attachment A-{self.id}: {self.name} ({size_words(self.size)})"
        if not self.kept:
            return f"{what}: {NOT_KEPT}"
        link = url(self.id)
        return f"{what}: {link}" if link else f"{what}, kept"


@dataclass(frozen=True)
class Fetched:
    name: str
    content_type: str
    data: bytes


def answer_subject(subject: str) -> str:
    s = subject.strip() or "your mail"
    return s if s.lower().startswith("re:") else f"Re: {s}"


class Mailroom:
    def __init__(self, units: Units) -> None:
        self.units = units

    async def answer(self, to: str, subject: str, text: str, in_reply_to: str = "") -> bool:
        """Queue ``text`` as a mail to ``to``; False when the same words went to the
        same address today already."""
        digest = hashlib.sha256(f"{to.lower()}\n{text}".encode()).hexdigest()[:40]
        day = self.units.clock.now().date().isoformat()
        message = Message(
            kind=Kind.CASE_UPDATE,
            target=Target.person(identity.person_id(EMAIL, to.lower())),
            title=answer_subject(subject),
            text=text,
            fields=[Field(IN_REPLY_TO, in_reply_to)],
            platform=EMAIL,
        )
        try:
            async with self.units.work(f"email-answer:{digest}:{day}") as w:
                w.notify(message)
        except Duplicate:
            return False
        return True

    async def keep(self, mail_key: str, files: Sequence[Incoming]) -> list[Kept]:
        """Keep what fits of a mail's attachments (the same mail again: the same rows)."""
        config = self.units.config.email
        assert config is not None
        limits = config.attachments
        async with self.units.work() as w:
            have = (
                await w.session.scalars(
                    select(MailAttachment)
                    .where(MailAttachment.mail_key == mail_key)
                    .order_by(MailAttachment.id)
                )
            ).all()
            if not have:
                total = 0
                for f in files:
                    fits = len(f.data) <= limits.max_bytes
                    fits = fits and total + len(f.data) <= limits.max_total_bytes
                    total += len(f.data) if fits else 0
                    row = MailAttachment(
                        mail_key=mail_key,
                        name=f.name[:255],
                        content_type=f.content_type[:128],
                        size=len(f.data),
                        kept=fits,
                        data=f.data if fits else None,
                        created_at=w.now,
                    )
                    w.session.add(row)
                    have = [*have, row]
                await w.session.flush()
            return [Kept(r.id, r.name, r.size, r.kept) for r in have]

    async def place(self, mail_key: str, sender: str, case_key: str | None) -> str | None:
        """The case a mail's attachments belong to, once the mail landed: ``case_key``
        (a reply the core took), else the sender's newest mail case that lists them."""
        async with self.units.work() as w:
            if case_key is None:
                actor = await identity.actor_for(
                    w.session, w.config, Context(platform=EMAIL, user_id=sender)
                )
                first = (
                    await w.session.scalars(
                        select(MailAttachment.id)
                        .where(MailAttachment.mail_key == mail_key)
                        .order_by(MailAttachment.id)
                    )
                ).first()
                if first is None:
                    return None
                case_key = (
                    await w.session.scalars(
                        select(Case.key)
                        .where(
                            Case.opener_id == actor.id,
                            Case.platform == EMAIL,
                            Case.description.contains(f"Attachment A-{first}:"),
                        )
                        .order_by(Case.id.desc())
                    )
                ).first()
                if case_key is None:
                    return None
            await w.session.execute(
                update(MailAttachment)
                .where(MailAttachment.mail_key == mail_key, MailAttachment.case_key.is_(None))
                .values(case_key=case_key)
            )
            return case_key

    async def discard(self, mail_key: str) -> None:
        """Forget the attachments of a mail the core refused (they belong to no case)."""
        async with self.units.work() as w:
            await w.session.execute(
                delete(MailAttachment).where(
                    MailAttachment.mail_key == mail_key, MailAttachment.case_key.is_(None)
                )
            )

    async def fetch(self, person_id: str, attachment_id: int) -> Fetched:
        """A kept attachment, for a staff member who may see its case (else Refusal)."""
        actor = await Pages(self.units).who(person_id)
        async with self.units.work() as w:
            row = await w.session.get(MailAttachment, attachment_id)
            if row is None or not row.kept or row.data is None or row.case_key is None:
                raise Refusal(NO_ATTACHMENT)
            case = await w.case(row.case_key, lock=False)
            w.require(actor, Deed.ATTACHMENT, case)
            return Fetched(row.name, row.content_type, row.data)


@runtime_checkable
class UsesMailroom(Protocol):
    """A platform that keeps mail through the core (given before ``start``)."""

    def use_mailroom(self, mailroom: Mailroom) -> None: ...
