"""Who may do what: the checks every use case makes before it changes anything."""

from __future__ import annotations

from bot.errors import Refusal
from bot.work import Actor
from storage.models import Case


def can_see(actor: Actor, case: Case) -> bool:
    return (
        actor.is_staff
        or actor.role == "system"
        or (actor.is_customer and actor.account_key == case.account_key)
    )


def require_visible(actor: Actor, case: Case) -> None:
    if not can_see(actor, case):
        # Exactly the words of Work.case for a missing case: a customer learns nothing
        # of other accounts, not even that the key exists.
        raise Refusal(f"There is no case {case.key}.")


def require_customer(actor: Actor, case: Case, doing: str) -> None:
    """Only the customer's side (the opener or a colleague in the same account)."""
    require_visible(actor, case)
    if not actor.is_customer:
        raise Refusal(f"Only the customer can {doing} {case.key}; staff can't do it for them.")


def require_engineer(actor: Actor, doing: str) -> None:
    if not actor.is_engineer:
        raise Refusal(f"Only support engineers can {doing}.")


def require_handler(actor: Actor, case: Case, doing: str) -> None:
    """Engineers work the cases assigned to them; the lead can work any case."""
    require_engineer(actor, doing)
    if actor.is_lead:
        return
    if case.assignee_id is None:
        raise Refusal(f"{case.key} has no engineer yet: claim it first (`/case claim {case.key}`).")
    if case.assignee_id != actor.id:
        raise Refusal(
            f"{case.key} is assigned to someone else; ask them or the lead to reassign it."
        )


def require_csm_of(actor: Actor, case: Case, csm_id: str | None, doing: str) -> None:
    """The account's CSM (or the lead) handles escalations."""
    if actor.is_lead or (actor.role == "csm" and actor.id == csm_id):
        return
    raise Refusal(f"Only the account's CSM or the support lead can {doing} {case.key}.")
