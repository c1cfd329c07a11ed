"""How a mail finds its case, and what the customer wrote in it.

- The thread: every mail casebot sends about a case has a ``Message-ID`` of its own
  grammar (:func:`message_id`), so a reply's ``In-Reply-To`` / ``References`` name the
  case; else the subject's ``[CASE-12]`` tag does (:func:`subject`). Either only
  *names* a case: whether the sender may write on it is the core's decision (a
  sender of another account is refused, whatever the headers say).
- What they wrote: quoted history and signatures are cut with ``mail-parser-reply``
  (a maintained parser of the ``On … wrote:`` forms of many languages and clients).
- What they asked: a first line ``confirm`` / ``reject <reason>`` answers a proposed
  resolution; a first line ``/case …`` is any command, as typed in chat.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from mailparser_reply import EmailReplyParser

from adapters.email.letters import Attachment, Letter

_KEY = r"CASE-\d+"
_OURS = re.compile(rf"^<casebot\.({_KEY})\.", re.I)
_TAG = re.compile(rf"\[({_KEY})\]", re.I)
# The languages whose reply headers ("On … wrote:", "Am … schrieb:") are recognised.
LANGUAGES = ["en", "de", "fr", "it", "es", "nl", "pl", "sv"]

# The keywords a customer may answer a proposal with, in the words the mail shows.
CONFIRM = "confirm"
REJECT = "reject"
HOW_TO_ANSWER = (
    f"Reply {CONFIRM.upper()} if it is solved, or {REJECT.upper()} followed by what is "
    "still wrong; or use the links in this mail."
)


def message_id(case_key: str | None, delivery_id: str | None, domain: str) -> str:
    """A ``Message-ID`` for a mail casebot sends: it names its case, so replies find it."""
    tag = secrets.token_hex(4)
    if case_key:
        return f"<casebot.{case_key}.{delivery_id or 'x'}.{tag}@{domain}>"
    return f"<casebot.{delivery_id or 'x'}.{tag}@{domain}>"


def thread_root(case_key: str, domain: str) -> str:
    """The ``Message-ID`` every mail of a case refers to, so clients keep one thread."""
    return f"<casebot.{case_key}.root@{domain}>"


def subject(case_key: str | None, title: str) -> str:
    """``[CASE-12] title`` (a title that starts with the key loses it: the tag says it)."""
    if not case_key or _TAG.search(title):
        return title
    if title.upper().startswith(case_key + " "):
        title = title[len(case_key) + 1 :]
    return f"[{case_key}] {title}"


def case_named(letter: Letter, domain: str | None = None) -> str | None:
    """The case a mail answers: by its thread headers (ids casebot made at ``domain``),
    else its subject's tag."""
    for mid in letter.thread_ids:
        m = _OURS.match(mid)
        if m and (domain is None or mid.lower().endswith(f"@{domain.lower()}>")):
            return m.group(1).upper()
    m = _TAG.search(letter.subject)
    return m.group(1).upper() if m else None


def new_text(letter: Letter) -> str:
    """What the sender wrote in this mail, without quoted history or signature."""
    text = letter.text.strip()
    if not text:
        return ""
    try:
        parsed = EmailReplyParser(languages=LANGUAGES).read(text)
        body = parsed.replies[0].body.strip() if parsed.replies else text
    except Exception:  # noqa: BLE001 - a parser failure must not lose the mail
        body = text
    return body or text


def title_of(letter: Letter) -> str:
    """A new case's title: the subject, without Re:/Fwd: and the case tag."""
    title = re.sub(r"^\s*((re|fwd?|aw|wg|tr)\s*:\s*)+", "", letter.subject, flags=re.I)
    return " ".join(_TAG.sub("", title).split())


@dataclass(frozen=True)
class Ask:
    """What a reply asks for: a command (``confirm``, ``reject``, any ``/case`` line)
    or, when ``command`` is None, a message on the case."""

    command: str | None
    text: str


def ask_of(text: str) -> Ask:
    first, _, rest = text.strip().partition("\n")
    word, _, tail = first.strip().partition(" ")
    lower = word.lower().rstrip(".!,:")
    if lower == CONFIRM and not tail.strip():
        return Ask(CONFIRM, "")
    if lower == REJECT:
        # The reason is the rest of the line (as the mail asks), else the next paragraph:
        # what follows is often a signature no parser can tell from words.
        reason = tail.strip() or rest.strip().split("\n\n", 1)[0].strip()
        return Ask(REJECT, " ".join(reason.split()))
    if lower == "/case":
        return Ask("/case", first.strip()[len(word) :].strip())
    return Ask(None, text.strip())


def listing(attachments: list[Attachment]) -> str:
    """The attachments as lines for the case (name and size)."""
    return "\n".join(f"Attachment: {a.name} ({_size(a.size)})" for a in attachments)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"
