"""The core's neutral messages as mail: one multipart (plain text + HTML) per message,
from the same parts every platform renders (title, text, fields, buttons).

Every word a user typed is escaped in the HTML part (``html.escape``), so nothing in it
becomes markup or a link; the plain part is plain. Buttons become signed links (see
:mod:`adapters.email.links`), one per button, that do what the button does, as the
person the mail is addressed to; a proposal also says how to answer by reply keyword.
Mails carry ``Auto-Submitted: auto-generated`` (RFC 3834), so well-behaved
auto-responders never answer them, and thread headers that bring replies back to the
case.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formatdate

from adapters.email import threads
from adapters.email.letters import address_of
from bot.messages import Action, Kind, Message

# Kinds whose buttons include confirm: the mail also tells how to answer by keyword.
_ANSWER_BY_KEYWORD = {Kind.RESOLUTION_PROPOSAL, Kind.CHASE_REMINDER}
LinkMaker = Callable[[Action, str], str | None]


@dataclass(frozen=True)
class Sender:
    name: str
    address: str

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def header(self) -> str:
        return address_of(self.name, self.address)


def compose(
    message: Message,
    to: str,
    sender: Sender,
    link: LinkMaker,
    delivery_id: str | None = None,
    footer: str = "",
) -> EmailMessage:
    """The mail for ``message`` to ``to``; ``link(action, to)`` makes a button's URL
    (None when links cannot be made: then the mail shows the keywords only)."""
    key = message.case_key
    if message.update and message.text:
        # Mail cannot edit what it sent: a change of the case message is a short mail
        # whose subject is the news itself.
        message = replace(message, title=f"{key or ''} {message.text}".strip(), text="")
    mail = EmailMessage()
    mail["From"] = sender.header
    mail["To"] = to
    mail["Subject"] = threads.subject(key, _one_line(message.title))
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    if key:
        root = threads.thread_root(key, sender.domain)
        if message.kind == Kind.CASE_OPENED:
            mail["Message-ID"] = root
        else:
            mail["Message-ID"] = threads.message_id(key, delivery_id, sender.domain)
            mail["In-Reply-To"] = root
            mail["References"] = root
    else:
        mail["Message-ID"] = threads.message_id(None, delivery_id, sender.domain)

    links = [(a, link(a, to)) for a in message.actions]
    mail.set_content(_plain(message, links, footer))
    mail.add_alternative(_html(message, links, footer), subtype="html")
    return mail


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def _answer_hint(message: Message) -> bool:
    return message.kind in _ANSWER_BY_KEYWORD and any(
        a.id.endswith(":confirm") for a in message.actions
    )


def _plain(message: Message, links: list[tuple[Action, str | None]], footer: str) -> str:
    lines = [message.title, ""]
    if message.text:
        lines += [message.text, ""]
    lines += [f"{f.label}: {f.value}" for f in message.fields]
    if message.fields:
        lines.append("")
    usable = [(a, url) for a, url in links if url]
    if usable:
        lines += [f"{a.label}: {url}" for a, url in usable]
        lines.append("")
    if _answer_hint(message):
        lines += [threads.HOW_TO_ANSWER, ""]
    if footer:
        lines.append(footer)
    return "\n".join(lines).rstrip() + "\n"


def _e(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>\n")


def _html(message: Message, links: list[tuple[Action, str | None]], footer: str) -> str:
    parts = [f'<h2 style="font-size:16px">{_e(message.title)}</h2>']
    if message.text:
        parts.append(f"<p>{_e(message.text)}</p>")
    if message.fields:
        rows = "".join(
            f'<tr><th align="left" style="padding-right:12px">{_e(f.label)}</th>'
            f"<td>{_e(f.value)}</td></tr>"
            for f in message.fields
        )
        parts.append(f"<table>{rows}</table>")
    buttons = [
        f'<a href="{html.escape(url, quote=True)}" style="display:inline-block;'
        "margin:4px 8px 4px 0;padding:6px 12px;border:1px solid #888;border-radius:4px;"
        f'text-decoration:none">{_e(a.label)}</a>'
        for a, url in links
        if url
    ]
    if buttons:
        parts.append("<p>" + "".join(buttons) + "</p>")
    if _answer_hint(message):
        parts.append(f"<p>{_e(threads.HOW_TO_ANSWER)}</p>")
    if footer:
        parts.append(f'<p style="color:#666;font-size:12px">{_e(footer)}</p>')
    return "<!doctype html>\n<html><body>" + "\n".join(parts) + "</body></html>\n"


def answer(
    to: str, sender: Sender, subject: str, text: str, in_reply_to: str | None
) -> EmailMessage:
    """A short answer to a mail (a refusal, a thank-you): plain and HTML."""
    mail = EmailMessage()
    mail["From"] = sender.header
    mail["To"] = to
    subj = subject if subject.lower().startswith("re:") else f"Re: {subject or 'your mail'}"
    mail["Subject"] = _one_line(subj)
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Auto-Submitted"] = "auto-replied"
    mail["X-Auto-Response-Suppress"] = "All"
    mail["Message-ID"] = threads.message_id(None, None, sender.domain)
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    mail.set_content(text.rstrip() + "\n")
    mail.add_alternative(
        f"<!doctype html>\n<html><body><p>{_e(text)}</p></body></html>\n", subtype="html"
    )
    return mail


def summary(direction: str, mail: EmailMessage) -> str:
    """A mail as a few console lines: who, the subject, the plain text."""
    who = f"from {mail['From']}" if direction == "in" else f"to {mail['To']}"
    part = mail.get_body(preferencelist=("plain",))
    text = str(part.get_content()) if isinstance(part, EmailMessage) else ""
    lines = [f"── mail {direction} {who} ──", f"Subject: {mail['Subject']}"]
    lines += [f"  {line}" for line in text.replace("\r\n", "\n").strip().splitlines()]
    return "\n".join(lines)
