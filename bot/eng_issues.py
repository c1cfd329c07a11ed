"""Finding an engineering issue: by key for staff, and for a customer only through
their account's linked cases (a missing issue and another account's issue answer
alike, with the issues they may follow)."""

from __future__ import annotations

from sqlalchemy import select

from bot.actors import Actor
from bot.errors import Refusal
from bot.keys import normalize_key
from bot.lifecycle import ACTIVE
from bot.work import Work
from storage.models import Case, EngFollower, EngIssue, EngLink


async def eng_issue_for(w: Work, eng_key: str) -> EngIssue:
    """The engineering issue by key (``ENG-3``, ``eng-3`` or ``3``), locked for update."""
    key = normalize_key(eng_key, "ENG")
    issue = (
        await w.session.scalars(select(EngIssue).where(EngIssue.key == key).with_for_update())
    ).one_or_none()
    if issue is None:
        raise Refusal(f"There is no engineering issue {key}.")
    return issue


def notice_ref(issue: EngIssue, case: Case) -> str:
    """The customer thread's latest notice about ``issue``: following edits its button away."""
    return f"eng:{issue.key}:{case.key}"


async def customer_issue(w: Work, actor: Actor, eng_key: str) -> EngIssue:
    """The issue a customer names, if one of their account's cases is linked to it.
    A missing issue and another account's issue are answered alike, with the issues
    they may follow (nothing about other accounts leaks)."""
    key = normalize_key(eng_key, "ENG")
    rows = (
        await w.session.execute(
            select(EngIssue, Case.key)
            .join(EngLink, EngLink.eng_id == EngIssue.id)
            .join(Case, Case.id == EngLink.case_id)
            .where(Case.account_key == actor.account_key)
            .order_by(EngIssue.id, Case.id)
        )
    ).all()
    for issue, _ in rows:
        if issue.key == key:
            return await eng_issue_for(w, key)
    linked: dict[str, list[str]] = {}
    for issue, case_key in rows:
        linked.setdefault(issue.key, []).append(case_key)
    if not linked:
        raise Refusal(
            f"{key} is not one you can see or follow: you can see and follow the "
            "engineering issues "
            "your account's cases are linked to, and none of them is linked to one yet."
        )
    may = ", ".join(f"{k} ({', '.join(cs)})" for k, cs in linked.items())
    raise Refusal(
        f"{key} is not linked to any of your account's cases. "
        f"Engineering issues you can see and follow: {may}."
    )


async def followed_by_account(w: Work, issue: EngIssue, account_key: str) -> bool:
    ids = (
        await w.session.scalars(select(EngFollower.person_id).where(EngFollower.eng_id == issue.id))
    ).all()
    return any((p := w.config.person(i)) is not None and p.account == account_key for i in ids)


async def linked_cases(
    w: Work,
    issue: EngIssue,
    *,
    account_key: str | None = None,
    active_only: bool = False,
    lock: bool = False,
) -> list[Case]:
    """The cases linked to ``issue``, in key order: of one account, only the active
    ones, or locked for update, when asked. The one query every ENG use case reads."""
    stmt = select(Case).join(EngLink, EngLink.case_id == Case.id).where(EngLink.eng_id == issue.id)
    if account_key is not None:
        stmt = stmt.where(Case.account_key == account_key)
    if lock:
        stmt = stmt.with_for_update()
    cases = list((await w.session.scalars(stmt.order_by(Case.id))).all())
    return [c for c in cases if c.state in ACTIVE] if active_only else cases
