"""The policy table, pair by pair: every deed against every role and every relation of
the actor to the case; then the doors that ask it (help, forms, buttons) agree.

The expectations below are written out from the product's rules (DESIGN.md and the
README's command table), not derived from bot/policy.py, so a change to the table that
nobody meant shows up here.
"""

from __future__ import annotations

import itertools
from contextlib import nullcontext

import pytest

from bot import policy
from bot.actions import DEEDS
from bot.actors import SYSTEM, Actor, Role
from bot.errors import Refusal
from bot.messages import Action, Kind, Message, Target
from bot.policy import Deed, Subject
from commands.table import COMMANDS, visible
from storage.db import Database
from tests.harness import Dialog

C, E, M, L = Role.CUSTOMER, Role.ENGINEER, Role.CSM, Role.LEAD
ALL = {C, E, M, L}
STAFF = {E, M, L}
ENG = {E, L}

# Who may do each deed at all (on some case).
WHO: dict[Deed, set[Role]] = {
    Deed.HELP: ALL,
    Deed.OPEN: {C},
    Deed.LIST: ALL,
    Deed.SHOW: ALL,
    Deed.FEEDBACK: ALL,
    Deed.FOLLOW: ALL,
    Deed.REPLY: ALL,
    Deed.CONFIRM: {C},
    Deed.REJECT: {C},
    Deed.ESCALATE: {C},
    Deed.REOPEN: {C},
    Deed.WITHDRAW: {C},
    Deed.ANSWER_KB: {C},
    Deed.SURVEY: {C},
    Deed.QUEUE: STAFF,
    Deed.CLAIM: ENG,
    Deed.ASSIGN: STAFF,
    Deed.SEVERITY: STAFF,
    Deed.AREA: ENG,
    Deed.REPLICATING: ENG,
    Deed.NEED_INFO: ENG,
    Deed.PROPOSE: ENG,
    Deed.CALLED: ENG,
    Deed.LOG_ENG: ENG,
    Deed.LINK: ENG,
    Deed.DUPLICATE: ENG,
    Deed.NOTE: STAFF,
    Deed.JOIN: STAFF,
    Deed.ENG: ENG,
    Deed.KB: ENG,
    Deed.ACK: {M, L},
    Deed.STATS: {L},
    Deed.DASHBOARD: STAFF,
    Deed.TRANSCRIPT: {C},
    Deed.IMPACT: {C},
    Deed.ATTACHMENT: STAFF,
    Deed.ACCEPT_MAIL: {L},
}

# Deeds bound to the assigned engineer; to the account's CSM (among staff); to the
# account's own CSM only (with the lead).
HANDLER = {
    Deed.REPLICATING,
    Deed.NEED_INFO,
    Deed.PROPOSE,
    Deed.CALLED,
    Deed.LOG_ENG,
    Deed.LINK,
}
ACCOUNT_CSM = {Deed.REPLY, Deed.ASSIGN, Deed.SEVERITY, Deed.NOTE, Deed.JOIN, Deed.ATTACHMENT}
OWN_CSM = {Deed.ACK}


def test_the_table_covers_every_deed() -> None:
    assert set(policy.RULES) == set(Deed) == set(WHO)


@pytest.mark.parametrize(("deed", "role"), list(itertools.product(Deed, [C, E, M, L])))
def test_who_may_do_what_at_all(deed: Deed, role: Role) -> None:
    assert policy.role_may(role, deed) is (role in WHO[deed])


def expected(deed: Deed, actor: Actor, s: Subject) -> bool:
    """The rule in words: who sees the case, then the role, then the relation."""
    if actor.role == C and s.account_key != actor.account_key:
        return False  # another account's case does not exist for them
    if actor.role == M and s.csm_id != actor.id:
        return False  # nor for the CSM of other accounts
    if actor.role not in WHO[deed]:
        return False
    if deed in HANDLER and actor.role != L:
        return s.assignee_id == actor.id
    if deed in ACCOUNT_CSM and actor.role == M:
        return s.csm_id == actor.id
    if deed in OWN_CSM and actor.role == M:
        return s.csm_id == actor.id
    return True


ACTORS = [
    Actor("gus", "Gus", C, "acme"),
    Actor("ivy", "Ivy", C, "globex"),
    Actor("alice", "Alice", E),
    Actor("bruno", "Bruno", E),
    Actor("dana", "Dana", M),
    Actor("carl", "Carl", M),
    Actor("lena", "Lena", L),
]
SUBJECTS = [
    Subject("CASE-1", "acme", assignee, csm)
    for assignee in (None, "alice", "bruno")
    for csm in ("dana", None)
]


@pytest.mark.parametrize("deed", list(Deed))
def test_every_actor_against_every_case(deed: Deed) -> None:
    for actor, subject in itertools.product(ACTORS, SUBJECTS):
        got = policy.allowed(actor, deed, subject)
        assert got is expected(deed, actor, subject), (deed, actor.id, subject)
        reason = policy.refusal(actor, deed, subject)
        assert (reason is None) is got
        if reason is not None:
            assert reason.strip() and "{" not in reason  # words, fully formatted
        with pytest.raises(Refusal) if not got else nullcontext():
            policy.require(actor, deed, subject)


def test_the_system_may_do_everything() -> None:
    for deed, subject in itertools.product(Deed, SUBJECTS):
        assert policy.allowed(SYSTEM, deed, subject)


def test_a_customer_learns_nothing_of_another_accounts_case() -> None:
    ivy = ACTORS[1]
    for deed in Deed:
        reason = policy.refusal(ivy, deed, SUBJECTS[0])
        assert reason == "There is no case CASE-1.", deed


def test_every_button_and_command_names_a_deed_of_the_table() -> None:
    assert set(DEEDS.values()) <= set(Deed)
    assert {c.deed for c in COMMANDS} <= set(Deed)


@pytest.mark.parametrize("who", ["gus", "alice", "dana", "lee"])
async def test_help_lists_exactly_what_the_table_allows(db: Database, who: str) -> None:
    d = await Dialog.start(db)
    person = d.config.person(who)
    assert person is not None
    text = (await d.say(who, "/case help")).text
    for command in visible():
        line = f"`/case {command.usage}` — {command.does}"
        assert (line in text) is policy.role_may(person.role, command.deed), (who, line)


async def test_a_form_is_shown_only_to_who_may_submit_it(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus")
    # A CSM may change severity, not the area; a customer neither; Alice both.
    for who, action, shown in [
        ("dana", "severity", True),
        ("dana", "area", False),
        ("gus", "severity", False),
        ("gus", "reject", True),
        ("alice", "reject", False),
        ("alice", "area", True),
    ]:
        reply = await d.press(who, f"case:{key}:{action}")
        assert (reply.prompt is not None) is shown, (who, action, reply.text)
        if not shown:
            assert not reply.ok


async def test_a_message_shows_only_the_buttons_its_audience_may_press(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus")
    note = Message(
        kind=Kind.CASE_UPDATE,
        target=Target.case_customer(key),
        title="hello",
        case_key=key,
        actions=[
            Action(f"case:{key}:confirm", "Confirm"),
            Action(f"case:{key}:claim", "Claim"),  # staff work: never on a customer's screen
            Action("nonsense", "?"),  # not a button of ours
        ],
    )
    async with d.bot.units.work() as w:
        w.notify(note)
    await d.drain()
    seen = d.customer_thread(key)[-1]
    assert [a.label for a in seen.actions] == ["Confirm"]


def test_the_configuration_spells_roles_and_severities_as_their_owners_do() -> None:
    from typing import get_args

    from bot.actors import PEOPLE_ROLES
    from bot.config import SEVERITIES as CONFIG_SEVERITIES
    from bot.config import PersonRole
    from bot.terms import SEVERITIES

    assert get_args(PersonRole) == tuple(r.value for r in PEOPLE_ROLES)
    assert tuple(CONFIG_SEVERITIES) == SEVERITIES
