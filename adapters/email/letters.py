"""Mail as it arrives: parsed once into a :class:`Letter` (who, what, which thread,
what is attached), with the guards against loops and noise.

Mail casebot never answers (RFC 3834 and the conventions around it): anything marked
``Auto-Submitted`` other than ``no``, ``Precedence: bulk / junk / list``, auto-reply
markers (``X-Autoreply``, ``X-Autorespond``), delivery
reports (``multipart/report``), and mail from mailer-daemons, postmasters or with an
empty return path (a bounce). Those are dropped without a word, so two robots can never
write to each other for ever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

_MSGID = re.compile(r"<[^<>\s]+>")
_ROBOTS = re.compile(r"^(mailer-daemon|postmaster|noreply|no-reply|do-not-reply)@", re.I)
_BULK = {"bulk", "junk", "list", "auto_reply"}


@dataclass(frozen=True)
class Attachment:
    name: str
    size: int
    content_type: str
    data: bytes = field(default=b"", repr=False)


@dataclass
class Letter:
    """One inbound mail, as much of it as casebot uses."""

    sender: str  # the From address, lower case
    sender_name: str
    subject: str
    text: str  # the plain-text body (HTML turned to text when there is no plain part)
    message_id: str  # "<…>", or "" when the mail had none
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)  # To, Cc, Delivered-To…, lower case
    attachments: list[Attachment] = field(default_factory=list)
    size: int = 0
    robot: str | None = None  # why this mail must not be answered, if it must not

    @property
    def thread_ids(self) -> list[str]:
        """Every message id this mail answers, nearest first."""
        return [*self.in_reply_to, *reversed(self.references)]


def parse(raw: bytes, envelope_from: str | None = None) -> Letter:
    """The :class:`Letter` in ``raw`` (RFC 5322 bytes). ``envelope_from`` is the SMTP
    ``MAIL FROM`` when the mail came through the receiver (``""`` for a bounce)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    name, address = parseaddr(str(msg.get("From", "")))
    recipients = [
        a.lower()
        for _, a in getaddresses(
            [
                str(v)
                for h in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
                for v in msg.get_all(h, [])
            ]
        )
        if a
    ]
    letter = Letter(
        sender=address.strip().lower(),
        sender_name=name.strip() or address.strip(),
        subject=" ".join(str(msg.get("Subject", "")).split()),
        text=_body(msg),
        message_id=next(iter(_ids(msg.get("Message-ID"))), ""),
        in_reply_to=_ids(msg.get("In-Reply-To")),
        references=_ids(msg.get("References")),
        recipients=recipients,
        attachments=_attachments(msg),
        size=len(raw),
    )
    letter.robot = _robot(msg, letter, envelope_from)
    return letter


def _ids(value: object) -> list[str]:
    return _MSGID.findall(str(value)) if value else []


def _robot(msg: EmailMessage, letter: Letter, envelope_from: str | None) -> str | None:
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in _BULK:
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond"):
        if msg.get(header) is not None:
            return header
    if msg.get_content_type() == "multipart/report":
        return "a delivery report"
    if envelope_from in ("", "<>") or str(msg.get("Return-Path", "")).strip() == "<>":
        return "an empty return path (a bounce)"
    if not letter.sender or "@" not in letter.sender:
        return "no sender address"
    if _ROBOTS.match(letter.sender):
        return f"mail from {letter.sender}"
    return None


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if part is not None:
        return _text_of(part)
    part = msg.get_body(preferencelist=("html",))
    return _html_to_text(_text_of(part)) if part is not None else ""


def _text_of(part: object) -> str:
    assert isinstance(part, EmailMessage)
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):  # an unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""


_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h\d)\b[^>]*>", re.I)


def _html_to_text(html_text: str) -> str:
    import html

    text = _BREAKS.sub("\n", html_text)
    text = _TAGS.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", html.unescape(text)).strip()


def _attachments(msg: EmailMessage) -> list[Attachment]:
    out = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() not in ("attachment", "inline"):
            continue
        name = part.get_filename()
        if part.get_content_disposition() == "inline" and not name:
            continue  # the body itself
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        data = payload if isinstance(payload, bytes) else b""
        out.append(Attachment(name or "unnamed", size, part.get_content_type(), data))
    return out


def address_of(name: str, address: str) -> str:
    """``Name <address>`` for a header, quoted as RFC 5322 wants."""
    user, _, domain = address.partition("@")
    return str(Address(display_name=name, username=user, domain=domain))
