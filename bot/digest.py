"""Look-alike cases handled once: the triage digest's button for a group of cases that
look alike (:mod:`bot.delivery.digest` groups them) links them all to one engineering
issue — the known issue they look like, or one new defect titled like the first case.

No rule of its own: the presser takes each case nobody has (``claim``), then the issue
is logged and linked by :mod:`bot.engineering`'s use cases, which check the presser's
permission for every case. One refusal refuses the whole group, and changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.actors import Actor
from bot.cases.assignment import claim
from bot.delivery.digest import read_group
from bot.engineering import link, log_issue
from bot.errors import Refusal
from bot.work import Work
from storage.models import EngIssue, EngLink


async def link_all(w: Work, actor: Actor, key: str, group: str) -> str:
    read = read_group(key, group)
    if read is None:
        raise Refusal("That button is not one of mine.")
    known, keys = read
    for k in keys:
        if (await w.case(k)).assignee_id is None:
            await claim(w, actor, k)
    if known is None:
        await log_issue(w, actor, key, "defect", (await w.case(key)).title)
        case = await w.case(key)
        issue = (
            await w.session.scalars(
                select(EngIssue.key)
                .join(EngLink, EngLink.eng_id == EngIssue.id)
                .where(EngLink.case_id == case.id)
                .order_by(EngIssue.id.desc())
            )
        ).first()
        assert issue is not None
        rest = keys[1:]
    else:
        issue, rest = known, keys
    for k in rest:
        await link(w, actor, k, issue)
    return f"Linked {', '.join(keys)} to {issue}."
