"""Who may do what: the one rule table.

Every act a person can ask of casebot is a :class:`Deed`. :data:`RULES` says, for each,
which roles may do it at all and how it binds to the case it is done to (its
:class:`Scope`). Everything asks this table and nothing else:

- the use cases call :func:`require` before they change anything;
- ``/case help``, the forms (shown only to people who may submit them) and the
  buttons on a message (shown only to the audience that may press them) call
  :func:`allowed` or :func:`role_may`, a dry run of the same rule.

The words of a refusal live in the rule too, so a refusal reads the same whichever
door (command, button, form, thread message) the request came through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.actors import ENGINEERING, PEOPLE_ROLES, STAFF, Actor, Role
from bot.errors import Refusal


class Deed(StrEnum):
    OPEN = "open"
    LIST = "list"
    SHOW = "show"
    REPLY = "reply"
    CONFIRM = "confirm"
    REJECT = "reject"
    ESCALATE = "escalate"
    REOPEN = "reopen"
    WITHDRAW = "withdraw"
    ANSWER_KB = "answer_kb"  # accept or reject the suggested articles
    FOLLOW = "follow"
    SURVEY = "survey"
    FEEDBACK = "feedback"
    QUEUE = "queue"
    CLAIM = "claim"
    ASSIGN = "assign"
    AREA = "area"
    SEVERITY = "severity"
    REPLICATING = "replicating"
    NEED_INFO = "need-info"
    PROPOSE = "propose"
    LOG_ENG = "log_eng"  # defect, enhancement
    LINK = "link"
    NOTE = "note"
    CALLED = "called"
    DUPLICATE = "duplicate"
    ENG = "eng"  # the backlog and an issue's status
    KB = "kb"  # search, drafts, publish, discard
    ACK = "ack"
    JOIN = "join"
    STATS = "stats"
    HELP = "help"
    DASHBOARD = "dashboard"  # sign in to the web dashboard (staff; a CSM sees their accounts)
    TRANSCRIPT = "transcript"  # a read-only web transcript of one's own account's case
    IMPACT = "impact"  # the customer corrects the business impact casebot gave a case
    ATTACHMENT = "attachment"  # fetch a mail's kept attachment (staff who see the case)
    ACCEPT_MAIL = "accept-email"  # place a held mail from an unknown sender in an account


class Scope(StrEnum):
    """How a deed binds to its case (checked after the role)."""

    NONE = "none"  # no case, or any case the actor can see
    CUSTOMER = "customer"  # the case's own customers only, never staff for them
    HANDLER = "handler"  # the assigned engineer, or the lead
    ACCOUNT = "account"  # engineers and the lead on any case; a CSM on their accounts
    CSM = "csm"  # the account's CSM, or the lead


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    scope: Scope = Scope.NONE
    doing: str = ""  # the words after "can …" in a refusal
    refusal: str = ""  # the whole refusal, when the scope's words don't fit


@dataclass(frozen=True)
class Subject:
    """What a rule needs to know of the case a deed is done to."""

    key: str
    account_key: str
    assignee_id: str | None = None
    csm_id: str | None = None


EVERYONE = frozenset(PEOPLE_ROLES)
CUSTOMERS = frozenset({Role.CUSTOMER})
CSM_AND_LEAD = frozenset({Role.CSM, Role.LEAD})
LEAD = frozenset({Role.LEAD})
ENG = frozenset(ENGINEERING)

RULES: dict[Deed, Rule] = {
    Deed.HELP: Rule(EVERYONE),
    Deed.OPEN: Rule(
        CUSTOMERS,
        refusal="Cases are opened by customers. Staff can use `/case queue` to see the work.",
    ),
    Deed.LIST: Rule(EVERYONE),
    Deed.SHOW: Rule(EVERYONE),
    Deed.FEEDBACK: Rule(EVERYONE),
    Deed.FOLLOW: Rule(EVERYONE),
    Deed.REPLY: Rule(
        EVERYONE,
        Scope.ACCOUNT,
        "reply on",
        "Only engineers, the lead, the account's CSM and its customers can reply on {key}.",
    ),
    Deed.CONFIRM: Rule(CUSTOMERS, Scope.CUSTOMER, "confirm a resolution of"),
    Deed.REJECT: Rule(CUSTOMERS, Scope.CUSTOMER, "reject a resolution of"),
    Deed.ESCALATE: Rule(CUSTOMERS, Scope.CUSTOMER, "escalate"),
    Deed.REOPEN: Rule(CUSTOMERS, Scope.CUSTOMER, "reopen"),
    Deed.WITHDRAW: Rule(CUSTOMERS, Scope.CUSTOMER, "withdraw"),
    Deed.ANSWER_KB: Rule(CUSTOMERS, Scope.CUSTOMER, "answer the suggestions for"),
    Deed.SURVEY: Rule(CUSTOMERS, Scope.CUSTOMER, "answer the survey of"),
    Deed.QUEUE: Rule(frozenset(STAFF), refusal="The queue is for staff."),
    Deed.CLAIM: Rule(ENG, Scope.NONE, "claim cases"),
    Deed.ASSIGN: Rule(
        frozenset(STAFF),
        Scope.ACCOUNT,
        "assign cases",
        "Only engineers, the lead, or the account's CSM can assign cases.",
    ),
    Deed.SEVERITY: Rule(
        frozenset(STAFF),
        Scope.ACCOUNT,
        "change severity",
        "Only engineers, the lead, or the account's CSM can change severity.",
    ),
    Deed.AREA: Rule(ENG, Scope.NONE, "change a case's area"),
    Deed.REPLICATING: Rule(ENG, Scope.HANDLER, "start replicating"),
    Deed.NEED_INFO: Rule(ENG, Scope.HANDLER, "ask for information"),
    Deed.PROPOSE: Rule(ENG, Scope.HANDLER, "propose resolutions"),
    Deed.CALLED: Rule(ENG, Scope.HANDLER, "record calls"),
    Deed.LOG_ENG: Rule(ENG, Scope.HANDLER, "log engineering issues"),
    Deed.LINK: Rule(ENG, Scope.HANDLER, "link engineering issues"),
    Deed.DUPLICATE: Rule(ENG, Scope.NONE, "close duplicates"),
    Deed.NOTE: Rule(
        frozenset(STAFF), Scope.ACCOUNT, "add internal notes", "Internal notes are for staff."
    ),
    Deed.JOIN: Rule(frozenset(STAFF), Scope.ACCOUNT, "join", "Only staff can join a case thread."),
    Deed.ENG: Rule(ENG, Scope.NONE, "work the engineering backlog"),
    Deed.KB: Rule(ENG, Scope.NONE, "manage the knowledge base"),
    Deed.ACK: Rule(CSM_AND_LEAD, Scope.CSM, "acknowledge the escalation of"),
    Deed.STATS: Rule(LEAD, refusal="The statistics are for the support lead."),
    Deed.DASHBOARD: Rule(frozenset(STAFF), refusal="The dashboard is for staff."),
    Deed.TRANSCRIPT: Rule(
        CUSTOMERS,
        Scope.CUSTOMER,
        refusal="Transcripts are for customers; staff read the case with `/case show {key}`.",
    ),
    Deed.IMPACT: Rule(
        CUSTOMERS,
        Scope.CUSTOMER,
        "change the impact of",
        "Only the customer can change the impact of {key}; staff change its severity.",
    ),
    Deed.ATTACHMENT: Rule(
        frozenset(STAFF),
        Scope.ACCOUNT,
        "open the attachments of",
        "Attachments of {key} are for staff who work on it.",
    ),
    Deed.ACCEPT_MAIL: Rule(
        LEAD, refusal="Mail from unknown senders is placed by the support lead."
    ),
}


def rule(deed: Deed) -> Rule:
    return RULES[deed]


def role_may(role: Role | str, deed: Deed) -> bool:
    """Whether people of ``role`` may do ``deed`` at all (on some case)."""
    return role == Role.SYSTEM or Role(role) in RULES[deed].roles


def deeds_for(role: Role | str) -> list[Deed]:
    return [d for d in Deed if role_may(role, d)]


def can_see(actor: Actor, subject: Subject) -> bool:
    """Engineers and the lead see every case; a CSM the cases of the accounts they look
    after; customers their own account's."""
    if actor.is_system or actor.is_engineer:
        return True
    if actor.role == Role.CSM:
        return subject.csm_id == actor.id
    return actor.is_customer and actor.account_key == subject.account_key


def refusal(actor: Actor, deed: Deed, subject: Subject | None = None) -> str | None:
    """Why ``actor`` may not do ``deed`` (to ``subject``), or None if they may."""
    if actor.is_system:
        return None
    r = RULES[deed]
    key = subject.key if subject else ""
    if subject is not None and not can_see(actor, subject):
        if actor.role == Role.CSM:
            return f"{subject.key} belongs to an account you don't look after."
        # The words of a missing case: a customer learns nothing of other accounts,
        # not even that the key exists.
        return f"There is no case {subject.key}."
    if actor.role not in r.roles:
        return _words(r, key)
    if subject is None:
        return None
    if r.scope == Scope.HANDLER and not actor.is_lead:
        if subject.assignee_id is None:
            return f"{key} has no engineer yet: claim it first (`/case claim {key}`)."
        if subject.assignee_id != actor.id:
            return f"{key} is assigned to someone else; ask them or the lead to reassign it."
    if r.scope == Scope.ACCOUNT and actor.role == Role.CSM and actor.id != subject.csm_id:
        return _words(r, key)
    if r.scope == Scope.CSM and not actor.is_lead and actor.id != subject.csm_id:
        return _words(r, key)
    return None


def _words(r: Rule, key: str) -> str:
    if r.refusal:
        return r.refusal.format(key=key)
    if r.scope == Scope.CUSTOMER:
        return f"Only the customer can {r.doing} {key}; staff can't do it for them."
    if r.scope == Scope.CSM:
        return f"Only the account's CSM or the support lead can {r.doing} {key}."
    if r.roles <= ENG:
        return f"Only support engineers can {r.doing}."
    return f"You can't {r.doing or 'do that'}."


def allowed(actor: Actor, deed: Deed, subject: Subject | None = None) -> bool:
    """A dry run of :func:`require`: for help, forms and which buttons to show."""
    return refusal(actor, deed, subject) is None


def require(actor: Actor, deed: Deed, subject: Subject | None = None) -> None:
    """Refuse (and change nothing) unless ``actor`` may do ``deed`` to ``subject``."""
    reason = refusal(actor, deed, subject)
    if reason is not None:
        raise Refusal(reason)


def require_visible(actor: Actor, subject: Subject) -> None:
    """Refuse unless ``actor`` may see the case at all (``show``)."""
    require(actor, Deed.SHOW, subject)


def audience_may(roles: Iterable[Role], deed: Deed) -> bool:
    """Whether a message's audience (people of these roles) may press a button that
    does ``deed``: a button is shown only where someone who sees it may use it."""
    return any(role_may(r, deed) for r in roles)
