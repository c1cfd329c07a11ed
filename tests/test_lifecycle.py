"""The case state machine: every (state, action) pair of the transition table, then the
same guard seen through the real commands, where a refusal must change nothing."""

from __future__ import annotations

import itertools

import pytest

from bot.errors import Refusal
from bot.lifecycle import STATE_WORDS, TRANSITIONS, VERBS, Act, State, next_state
from storage.db import Database
from tests.harness import Dialog

# The life cycle of DESIGN.md, written out independently of bot/lifecycle.py so that a
# change to the table has to be a change to this list too: "action: from → to".
DESIGNED = """
triage: open → triaged
claim: triaged → assigned
assign: triaged → assigned
assign: assigned → assigned
assign: replicating → replicating
assign: waiting_on_customer → waiting_on_customer
assign: waiting_on_engineering → waiting_on_engineering
assign: solution_proposed → solution_proposed
replicate: assigned → replicating
need_info: assigned → waiting_on_customer
need_info: replicating → waiting_on_customer
need_info: waiting_on_customer → waiting_on_customer
customer_answer: waiting_on_customer → replicating
propose: assigned → solution_proposed
propose: replicating → solution_proposed
propose: waiting_on_customer → solution_proposed
propose: waiting_on_engineering → solution_proposed
log_eng: assigned → waiting_on_engineering
log_eng: replicating → waiting_on_engineering
log_eng: waiting_on_customer → waiting_on_engineering
link_eng: assigned → waiting_on_engineering
link_eng: replicating → waiting_on_engineering
link_eng: waiting_on_customer → waiting_on_engineering
link_eng: waiting_on_engineering → waiting_on_engineering
eng_fixed: waiting_on_engineering → solution_proposed
eng_wont_fix: waiting_on_engineering → replicating
eng_reopened: solution_proposed → waiting_on_engineering
confirm: solution_proposed → resolved
reject: solution_proposed → replicating
accept_kb: open → resolved
accept_kb: triaged → resolved
accept_kb: assigned → resolved
withdraw: open → closed
withdraw: triaged → closed
withdraw: assigned → closed
withdraw: replicating → closed
withdraw: waiting_on_customer → closed
withdraw: waiting_on_engineering → closed
withdraw: solution_proposed → closed
duplicate: open → closed
duplicate: triaged → closed
duplicate: assigned → closed
duplicate: replicating → closed
duplicate: waiting_on_customer → closed
duplicate: waiting_on_engineering → closed
duplicate: solution_proposed → closed
close_unresponsive: waiting_on_customer → closed
close_unresponsive: solution_proposed → closed
reopen: resolved → replicating
reopen: closed → replicating
"""


def _designed() -> dict[tuple[Act, State], State]:
    table = {}
    for line in DESIGNED.strip().splitlines():
        act, _, move = line.partition(": ")
        src, _, dst = move.partition(" → ")
        table[(Act(act), State(src))] = State(dst)
    return table


EXPECTED = _designed()
ALL_PAIRS = list(itertools.product(Act, State))


def test_the_table_is_the_designed_life_cycle() -> None:
    actual = {(act, src): dst for act, moves in TRANSITIONS.items() for src, dst in moves.items()}
    assert actual == EXPECTED
    assert set(TRANSITIONS) == set(Act) == set(VERBS)
    assert set(STATE_WORDS) == set(State)


@pytest.mark.parametrize(("act", "state"), ALL_PAIRS, ids=[f"{a}-{s}" for a, s in ALL_PAIRS])
def test_every_state_and_action(act: Act, state: State) -> None:
    if (act, state) in EXPECTED:
        assert next_state("CASE-7", state.value, act) == EXPECTED[(act, state)]
        return
    with pytest.raises(Refusal) as refused:
        next_state("CASE-7", state.value, act)
    message = refused.value.message
    # Names the case, where it is, and what cannot be done, in words a person reads.
    assert message.startswith(f"CASE-7 is {STATE_WORDS[state]}: you can't {VERBS[act]} now")
    assert " it " in f" {VERBS[act]} "  # every verb names the case: "close it with …"
    assert "_" not in message, message  # no state or action identifiers leak into it


def test_closed_and_resolved_only_reopen() -> None:
    # Which closed cases may reopen (withdrawn, unresponsive; not a duplicate) is the
    # service's answer: see tests/test_no_dead_ends.py.
    assert [a for a in Act if State.CLOSED in TRANSITIONS[a]] == [Act.REOPEN]
    assert [a for a in Act if State.RESOLVED in TRANSITIONS[a]] == [Act.REOPEN]


def test_every_state_is_reachable_and_every_case_can_end() -> None:
    edges: dict[State, set[State]] = {s: set() for s in State}
    for moves in TRANSITIONS.values():
        for src, dst in moves.items():
            edges[src].add(dst)

    def reach(start: State) -> set[State]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    assert reach(State.OPEN) == set(State)
    for s in State:
        assert reach(s) & {State.RESOLVED, State.CLOSED}, s


def test_refusals_with_few_allowed_states_say_when_it_is_possible() -> None:
    with pytest.raises(Refusal) as refused:
        next_state("CASE-2", "replicating", Act.CONFIRM)
    assert refused.value.message == (
        "CASE-2 is being replicated: you can't confirm a resolution of it now "
        "(only when it is waiting for the customer to confirm a resolution)."
    )


# -- the same guard through the real commands ---------------------------------------------


async def reach_state(d: Dialog, state: str) -> str:
    """A case of Gus's in ``state``, worked by Alice, reached through the commands."""
    if state == "triaged":
        # No keyword matches, so no area, so nobody is picked: it waits for a claim.
        key = await d.open_case("gus", "Something odd happened")
        assert (await d.case(key)).assignee_id is None
        return key
    key = await d.open_case("gus", "Webhook endpoint returns 500", area="api", impact="blocked")
    steps = {
        "assigned": [],
        "replicating": ["alice:replicating {k}"],
        "waiting_on_customer": ["alice:replicating {k}", "alice:need-info {k} Which region?"],
        "waiting_on_engineering": ["alice:replicating {k}", "alice:defect {k} Webhooks 500"],
        "solution_proposed": ["alice:replicating {k}", "alice:propose {k} Rotate the secret"],
        "resolved": [
            "alice:replicating {k}",
            "alice:propose {k} Rotate the secret",
            "gus:confirm {k}",
        ],
        "closed": ["gus:withdraw {k} yes"],
    }[state]
    for step in steps:
        who, _, command = step.partition(":")
        reply = await d.say(who, "/case " + command.format(k=key))
        assert reply.ok, reply.text
    assert (await d.case(key)).state == state
    return key


# Representative commands, each from a person allowed to give it, in a state it is
# not allowed in. Grouped by state: a refusal changes nothing, so one case serves all.
WRONG_STATE: dict[str, list[tuple[str, str]]] = {
    "triaged": [
        ("lee", "replicating {k}"),
        ("lee", "propose {k} Try again"),
        ("gus", "confirm {k}"),
        ("gus", "survey {k} 5"),
        ("gus", "reopen {k} still broken"),
    ],
    "assigned": [
        ("gus", "reject {k} Not solved"),
        ("alice", "claim {k}"),
    ],
    "replicating": [("alice", "replicating {k}"), ("gus", "confirm {k}")],
    "waiting_on_customer": [("alice", "replicating {k}"), ("gus", "confirm {k}")],
    "solution_proposed": [("alice", "defect {k} Something"), ("alice", "need-info {k} More?")],
    "waiting_on_engineering": [
        ("alice", "need-info {k} More?"),
        ("gus", "reopen {k} please"),
        ("alice", "replicating {k}"),
    ],
    "resolved": [
        ("alice", "propose {k} Another idea"),
        ("alice", "claim {k}"),
        ("gus", "withdraw {k}"),
        ("gus", "escalate {k} too slow"),
        ("dana", "severity {k} S1"),
        ("alice", "need-info {k} More?"),
    ],
    # (A withdrawn case reopens, and a message on it is kept: tests/test_no_dead_ends.py.)
    "closed": [
        ("gus", "confirm {k}"),
        ("lee", "assign {k} bruno"),
        ("alice", "area {k} install"),
        ("gus", "withdraw {k} yes"),
    ],
}


@pytest.mark.parametrize("state", list(WRONG_STATE))
async def test_commands_in_the_wrong_state_are_refused_and_change_nothing(
    db: Database, state: str
) -> None:
    d = await Dialog.start(db)
    key = await reach_state(d, state)
    before, delivered = await d.world(), len(d.platform.deliveries)
    for who, command in WRONG_STATE[state]:
        text = command.format(k=key)
        reply = await d.say(who, "/case " + text)
        assert not reply.ok, (text, reply.text)
        assert key in reply.text, (text, reply.text)
        assert await d.world() == before, text
        assert len(d.platform.deliveries) == delivered, text


async def test_the_timeline_is_one_unbroken_chain_of_states(db: Database) -> None:
    """Whatever path a case takes, every state change is on its timeline, each one
    starting where the previous one ended, and the last one is where the case is."""
    d = await Dialog.start(db)
    key = await d.working_case("gus")
    steps = [
        ("alice", "need-info {k} Which region?"),
        ("gus", "reply {k} eu-west-1"),
        ("alice", "defect {k} Webhook signature"),
        ("lee", "eng status ENG-2 wont_fix"),
        ("alice", "propose {k} Rotate the secret"),
        ("gus", "reject {k} No luck"),
        ("lee", "assign {k} bruno"),
        ("bruno", "propose {k} Re-register it"),
        ("gina", "confirm {k}"),
        ("gus", "reopen {k} It is back"),
        ("bruno", "need-info {k} Logs?"),
        ("bruno", "link {k} ENG-1"),
    ]
    # ENG-1 comes from another case first.
    second = await d.open_case("ivy", "Helm upgrade fails", area="install")
    await d.say("bruno", f"/case replicating {second}")
    await d.say("bruno", f"/case enhancement {second} Helm upgrades")
    for who, command in steps:
        reply = await d.say(who, "/case " + command.format(k=key))
        assert reply.ok, (command, reply.text)
        await d.advance("1h")
    await d.say("bruno", "/case eng status ENG-1 fixed")
    assert (await d.case(key)).state == "solution_proposed"
    await d.say("gus", f"/case withdraw {key} yes")

    moves = [e for e in await d.timeline(key) if e.to_state]
    assert moves[0].from_state is None and moves[0].to_state == "open"
    for before, after in zip(moves, moves[1:], strict=False):
        assert after.from_state == before.to_state, (before.kind, after.kind)
        assert after.at >= before.at
    case = await d.case(key)
    assert moves[-1].to_state == case.state == "closed"
    assert {"waiting_on_engineering", "solution_proposed", "resolved", "waiting_on_customer"} <= {
        m.to_state for m in moves
    }
