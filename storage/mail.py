"""What casebot keeps of inbound mail (issue #13; the rules in bot/mailroom.py): the
attachments of a mail, kept up to the configured limit, and the mail of senders no
account knows, held for the lead when ``email.unknown_senders`` is ``queue``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

# As storage.models.BigId (not imported: this module is imported at its end).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class MailAttachment(Base):
    """One attachment of one mail. ``data`` is None when it was over the limit (listed
    as not kept); ``case_key`` is set once the mail has landed on a case."""

    __tablename__ = "email_attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mail_key: Mapped[str] = mapped_column(String(200), index=True)
    case_key: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    kept: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column()


class HeldMail(Base):
    """A mail from a sender no account knows, waiting for the lead to place it
    (``state``: held | accepted; ``case_key`` the case it opened)."""

    __tablename__ = "email_held"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mail_key: Mapped[str] = mapped_column(String(200), unique=True)
    sender: Mapped[str] = mapped_column(String(320), index=True)
    sender_name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="held")
    account_key: Mapped[str | None] = mapped_column(String(64))
    case_key: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column()
