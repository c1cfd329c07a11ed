"""``/case dashboard`` and ``/case transcript``: the signed links to the web pages, how
long each lasts, and the words that hand them out. The links themselves are made by the
process that serves the pages (:class:`bot.ports.Links`)."""

from __future__ import annotations

from bot.actors import Actor
from bot.errors import Refusal
from bot.policy import Deed
from bot.ports import Links
from bot.work import Work

SIGN_IN_MINUTES = 10  # a sign-in link works once, within this time
SESSION_HOURS = 8  # then the dashboard asks for a new link
TRANSCRIPT_DAYS = 7  # a transcript link can be opened again and again until then

NOT_SERVED = (
    "The web pages are not served by this casebot: its operator sets CASEBOT_SECRET_KEY "
    "(and CASEBOT_PUBLIC_URL) and runs it with an HTTP port (see docs/dashboard.md)."
)


def _links(w: Work) -> Links:
    if w.links is None:
        raise Refusal(NOT_SERVED)
    return w.links


async def dashboard(w: Work, a: Actor) -> str:
    w.require(a, Deed.DASHBOARD)
    url = _links(w).sign_in(a.id)
    return (
        f"Your dashboard sign-in link (it works once, within {SIGN_IN_MINUTES} minutes; "
        f"don't share it): {url}"
    )


async def transcript(w: Work, a: Actor, key: str) -> str:
    case = await w.case(key, lock=False)
    w.require(a, Deed.TRANSCRIPT, case)
    url = _links(w).transcript(a.id, case.key)
    return f"The transcript of {case.key} (valid for {TRANSCRIPT_DAYS} days): {url}"
