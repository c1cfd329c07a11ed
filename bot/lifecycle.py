"""The case state machine as a table: (action, from state) → to state.

Anything not in the table is refused with a clear message and changes nothing.
Tests walk every (state, action) pair against this table.
"""

from __future__ import annotations

from enum import StrEnum

from bot.errors import Refusal


class State(StrEnum):
    OPEN = "open"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    REPLICATING = "replicating"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    WAITING_ON_ENGINEERING = "waiting_on_engineering"
    SOLUTION_PROPOSED = "solution_proposed"
    RESOLVED = "resolved"
    CLOSED = "closed"


ACTIVE = frozenset(State) - {State.RESOLVED, State.CLOSED}
WORKING = frozenset(
    {
        State.ASSIGNED,
        State.REPLICATING,
        State.WAITING_ON_CUSTOMER,
        State.WAITING_ON_ENGINEERING,
        State.SOLUTION_PROPOSED,
    }
)
# While in these states the customer owes us an answer: the chase sequence runs
# and service-level clocks stop.
WAITING_ON_CUSTOMER = frozenset({State.WAITING_ON_CUSTOMER, State.SOLUTION_PROPOSED})


class Act(StrEnum):
    TRIAGE = "triage"
    CLAIM = "claim"
    ASSIGN = "assign"
    REPLICATE = "replicate"
    NEED_INFO = "need_info"
    CUSTOMER_ANSWER = "customer_answer"
    PROPOSE = "propose"
    LOG_ENG = "log_eng"
    LINK_ENG = "link_eng"
    ENG_FIXED = "eng_fixed"
    ENG_WONT_FIX = "eng_wont_fix"
    ENG_REOPENED = "eng_reopened"
    CONFIRM = "confirm"
    REJECT = "reject"
    ACCEPT_KB = "accept_kb"
    WITHDRAW = "withdraw"
    DUPLICATE = "duplicate"
    CLOSE_UNRESPONSIVE = "close_unresponsive"
    REOPEN = "reopen"


S = State

TRANSITIONS: dict[Act, dict[State, State]] = {
    Act.TRIAGE: {S.OPEN: S.TRIAGED},
    Act.CLAIM: {S.TRIAGED: S.ASSIGNED},
    # (Re)assignment keeps the working state; only a triaged case moves to assigned.
    Act.ASSIGN: {S.TRIAGED: S.ASSIGNED} | {s: s for s in WORKING},
    Act.REPLICATE: {S.ASSIGNED: S.REPLICATING},
    Act.NEED_INFO: {
        S.ASSIGNED: S.WAITING_ON_CUSTOMER,
        S.REPLICATING: S.WAITING_ON_CUSTOMER,
        S.WAITING_ON_CUSTOMER: S.WAITING_ON_CUSTOMER,
    },
    Act.CUSTOMER_ANSWER: {S.WAITING_ON_CUSTOMER: S.REPLICATING},
    Act.PROPOSE: {
        S.ASSIGNED: S.SOLUTION_PROPOSED,
        S.REPLICATING: S.SOLUTION_PROPOSED,
        S.WAITING_ON_CUSTOMER: S.SOLUTION_PROPOSED,
        S.WAITING_ON_ENGINEERING: S.SOLUTION_PROPOSED,
    },
    Act.LOG_ENG: {
        S.ASSIGNED: S.WAITING_ON_ENGINEERING,
        S.REPLICATING: S.WAITING_ON_ENGINEERING,
        S.WAITING_ON_CUSTOMER: S.WAITING_ON_ENGINEERING,
    },
    Act.LINK_ENG: {
        S.ASSIGNED: S.WAITING_ON_ENGINEERING,
        S.REPLICATING: S.WAITING_ON_ENGINEERING,
        S.WAITING_ON_CUSTOMER: S.WAITING_ON_ENGINEERING,
        S.WAITING_ON_ENGINEERING: S.WAITING_ON_ENGINEERING,
    },
    Act.ENG_FIXED: {S.WAITING_ON_ENGINEERING: S.SOLUTION_PROPOSED},
    Act.ENG_WONT_FIX: {S.WAITING_ON_ENGINEERING: S.REPLICATING},
    # The fix did not hold (the tracker issue reopened): the proposal is withdrawn.
    Act.ENG_REOPENED: {S.SOLUTION_PROPOSED: S.WAITING_ON_ENGINEERING},
    Act.CONFIRM: {S.SOLUTION_PROPOSED: S.RESOLVED},
    Act.REJECT: {S.SOLUTION_PROPOSED: S.REPLICATING},
    Act.ACCEPT_KB: {S.OPEN: S.RESOLVED, S.TRIAGED: S.RESOLVED, S.ASSIGNED: S.RESOLVED},
    Act.WITHDRAW: {s: S.CLOSED for s in ACTIVE},
    Act.DUPLICATE: {s: S.CLOSED for s in ACTIVE},
    Act.CLOSE_UNRESPONSIVE: {s: S.CLOSED for s in WAITING_ON_CUSTOMER},
    # A reopened case goes back to its engineer (the service sends a case that never
    # had one, i.e. one resolved by a KB article, back to triage instead). A closed case
    # reopens too, but only one closed for a reason the customer can take back (withdrawn,
    # unresponsive): the service asks :data:`REOPENABLE_CLOSES`.
    Act.REOPEN: {S.RESOLVED: S.REPLICATING, S.CLOSED: S.REPLICATING},
}

# The close reasons a customer can take back within the reopen window (a duplicate
# stays closed: its conversation goes on in the case it duplicates).
REOPENABLE_CLOSES = frozenset({"withdrawn", "unresponsive"})

# How each close reason reads after "closed", for people.
CLOSE_REASON_WORDS: dict[str, str] = {
    "withdrawn": "at the customer's request",
    "duplicate": "as a duplicate",
    "unresponsive": "after no answer to our reminders",
}

# The one word for "no engineer on the case yet", wherever a case shows its engineer.
NO_ENGINEER = "nobody yet"

# How a person would say each action on a case ("it"), for refusals.
VERBS: dict[Act, str] = {
    Act.TRIAGE: "triage it",
    Act.CLAIM: "claim it",
    Act.ASSIGN: "assign it",
    Act.REPLICATE: "start replicating it",
    Act.NEED_INFO: "ask for information on it",
    Act.CUSTOMER_ANSWER: "answer it",
    Act.PROPOSE: "propose a resolution for it",
    Act.LOG_ENG: "log an engineering issue for it",
    Act.LINK_ENG: "link an engineering issue to it",
    Act.ENG_FIXED: "mark it fixed",
    Act.ENG_WONT_FIX: "mark it won't fix",
    Act.ENG_REOPENED: "reopen the engineering issue of it",
    Act.CONFIRM: "confirm a resolution of it",
    Act.REJECT: "reject a resolution of it",
    Act.ACCEPT_KB: "close it with a knowledge-base article",
    Act.WITHDRAW: "withdraw it",
    Act.DUPLICATE: "close it as a duplicate",
    Act.CLOSE_UNRESPONSIVE: "close it as unresponsive",
    Act.REOPEN: "reopen it",
}

# The one word for each state, everywhere a state is shown.
STATE_WORDS: dict[State, str] = {
    S.OPEN: "open",
    S.TRIAGED: "waiting for an engineer",
    S.ASSIGNED: "assigned",
    S.REPLICATING: "being replicated",
    S.WAITING_ON_CUSTOMER: "waiting on the customer",
    S.WAITING_ON_ENGINEERING: "waiting on engineering",
    S.SOLUTION_PROPOSED: "waiting for the customer to confirm a resolution",
    S.RESOLVED: "resolved",
    S.CLOSED: "closed",
}


def next_state(key: str, state: str, act: Act) -> State:
    """The state ``act`` leads to from ``state``, or a :class:`Refusal` saying why not."""
    current = State(state)
    allowed = TRANSITIONS[act]
    if current not in allowed:
        hint = ""
        froms = sorted(s.value for s in allowed)
        if len(froms) <= 4:
            hint = f" (only when it is {', '.join(STATE_WORDS[State(f)] for f in froms)})"
        raise Refusal(f"{key} is {STATE_WORDS[current]}: you can't {VERBS[act]} now{hint}.")
    return allowed[current]


def state_line(state: str, close_reason: str | None) -> str:
    """A case's state in words, with its close reason where that adds something:
    "closed as a duplicate", never "resolved (resolved)"."""
    words = STATE_WORDS[State(state)]
    extra = CLOSE_REASON_WORDS.get(close_reason or "") if state == State.CLOSED else None
    if state == State.RESOLVED and close_reason == "deflected":
        extra = "by a knowledge-base article"
    return f"{words} {extra}" if extra else words
