"""Following an engineering issue: hearing about every change to it, once."""

from __future__ import annotations

from sqlalchemy import select

from bot import templates as t
from bot.actors import Actor
from bot.disclosure import eng_status_words
from bot.eng_issues import customer_issue, eng_issue_for, linked_cases, notice_ref
from bot.errors import Refusal
from bot.lifecycle import ACTIVE
from bot.messages import Target
from bot.policy import Deed
from bot.work import Work
from storage.models import EngFollower, EngIssue


async def follow(w: Work, actor: Actor, eng_key: str, on: bool) -> str:
    w.require(actor, Deed.FOLLOW)
    if actor.is_customer:
        issue = await customer_issue(w, actor, eng_key)
    else:
        issue = await eng_issue_for(w, eng_key)
    row = (
        await w.session.scalars(
            select(EngFollower).where(
                EngFollower.eng_id == issue.id, EngFollower.person_id == actor.id
            )
        )
    ).first()
    if on:
        if row:
            raise Refusal(f"You already follow {issue.key}.")
        w.session.add(EngFollower(eng_id=issue.id, person_id=actor.id, platform=actor.platform))
        if actor.is_customer:
            await _drop_follow_buttons(w, actor, issue)
        return f"You'll hear about every change to {issue.key}."
    if not row:
        raise Refusal(f"You don't follow {issue.key}.")
    await w.session.delete(row)
    return f"You no longer follow {issue.key}."


async def _drop_follow_buttons(w: Work, actor: Actor, issue: EngIssue) -> None:
    """Someone of the account follows: the latest notice in each of its linked cases'
    threads loses its Follow button (edited in place)."""
    cases = await linked_cases(w, issue, account_key=actor.account_key)
    for case in cases:
        if case.state not in ACTIVE:
            continue
        w.notify(
            t.eng_update(
                issue,
                f"Update on {issue.key} (linked to {case.key})",
                f"{issue.title}\n{issue.key} is {eng_status_words(issue.status)}. "
                f"{actor.name} follows it.",
                Target.case_customer(case.key),
                case.key,
                follow=False,
                customer=True,
                ref=notice_ref(issue, case),
                update=True,
            ),
            case,
        )
