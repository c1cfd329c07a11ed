"""Working a case: replicating, asking the customer, proposing a resolution, the
messages both sides write on it, internal notes and calls."""

from __future__ import annotations

from bot import templates as t
from bot.actors import Actor
from bot.cases.chase import chasing, start_chase, stop_chase
from bot.cases.closing import reopen_hint
from bot.errors import Refusal
from bot.lifecycle import ACTIVE, WAITING_ON_CUSTOMER, Act, State, next_state, state_line
from bot.policy import Deed
from bot.work import Work
from storage.models import Case

CALL_OUTCOMES = ("reached", "not-reached")


def first_response(w: Work, case: Case) -> None:
    """Stamp the first response (the first-response service level is met by it)."""
    if case.first_response_at is None:
        case.first_response_at = w.now


async def replicating(w: Work, actor: Actor, key: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.REPLICATING, case)
    to = next_state(case.key, case.state, Act.REPLICATE)
    w.move(case, actor, to, "replicating")
    first_response(w, case)
    w.notify(
        t.case_status(w.config, case, actor.name, f"{actor.name} is reproducing the problem."), case
    )
    return f"{case.key}: replicating."


async def need_info(w: Work, actor: Actor, key: str, question: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.NEED_INFO, case)
    if not question.strip():
        raise Refusal(f"Say what you need: `/case need-info {case.key} <question>`.")
    to = next_state(case.key, case.state, Act.NEED_INFO)
    case.info_request = question.strip()
    w.move(case, actor, to, "info_requested", question.strip())
    first_response(w, case)
    w.notify(t.info_request(case, actor.name, question.strip()), case)
    w.notify(
        t.case_status(
            w.config,
            case,
            await w.person_name(case.assignee_id),
            f"{actor.name} is waiting for your answer.",
        ),
        case,
    )
    await start_chase(w, case)
    return f"Asked the customer on {case.key}; the chase sequence is running."


async def propose(w: Work, actor: Actor, key: str, resolution: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.PROPOSE, case)
    if not resolution.strip():
        raise Refusal(f"Say what the resolution is: `/case propose {case.key} <resolution>`.")
    await propose_resolution(w, case, actor, resolution.strip(), Act.PROPOSE)
    return f"Proposed a resolution on {case.key}; waiting for the customer to confirm."


async def propose_resolution(w: Work, case: Case, actor: Actor, resolution: str, act: Act) -> None:
    """Put ``resolution`` to the customer (by ``act``: an engineer's proposal, or a fixed
    engineering issue) and start the chase. No permission check: the callers made it."""
    to = next_state(case.key, case.state, act)
    case.proposed_resolution = resolution
    w.move(case, actor, to, "solution_proposed", resolution)
    first_response(w, case)
    engineer = await w.person_name(case.assignee_id) if actor.is_system else actor.name
    w.notify(t.resolution_proposal(case, engineer, resolution), case)
    w.notify(
        t.case_status(
            w.config,
            case,
            await w.person_name(case.assignee_id),
            "A resolution is proposed: please confirm or reject it.",
        ),
        case,
    )
    await start_chase(w, case)


async def reply(w: Work, actor: Actor, key: str, text: str) -> str:
    """A message on the case: from the customer it answers an information request and
    stops the chase; from staff it reaches the customer."""
    case = await w.case(key)
    w.require(actor, Deed.REPLY, case)
    text = text.strip()
    if not text:
        raise Refusal(f"Nothing to send: `/case reply {case.key} <text>`.")
    if actor.is_customer and case.state not in ACTIVE:
        return await message_after_close(w, actor, case, text, echo=True)
    if case.state not in ACTIVE and case.state != State.RESOLVED:
        raise Refusal(f"{case.key} is closed; the customer can reopen it or open a new case.")
    if actor.is_customer:
        await customer_message(w, actor, case, text, echo=True)
        return f"Sent on {case.key}."
    w.event(case, actor, "reply", text)
    first_response(w, case)
    w.notify(t.to_customer(case, f"{actor.name} on {case.key}", text), case)
    return f"Sent to the customer on {case.key}."


async def customer_message(w: Work, actor: Actor, case: Case, text: str, echo: bool) -> None:
    """The customer wrote on ``case`` (checked by the caller): an answer to our question
    moves it on, and the engineer and the staff thread hear of it."""
    w.event(case, actor, "customer_message", text)
    if case.state == State.SOLUTION_PROPOSED:
        # A comment is not the confirmation we wait for: the chase starts again, so the
        # case never waits for an answer nobody asks for.
        await start_chase(w, case)
    elif case.state in WAITING_ON_CUSTOMER:
        await stop_chase(w, case)
    if case.state == State.WAITING_ON_CUSTOMER:
        w.move(case, actor, next_state(case.key, case.state, Act.CUSTOMER_ANSWER), "answered", text)
        w.notify(
            t.case_status(
                w.config,
                case,
                await w.person_name(case.assignee_id),
                "Thanks for the information; your engineer is on it.",
            ),
            case,
        )
    if echo:
        w.notify(t.to_customer(case, f"{actor.name} on {case.key}", text), case)
    if case.assignee_id:
        w.notify(
            t.to_person(
                case.assignee_id, case, f"{actor.name} wrote on {case.key}", text, ping=True
            ),
            case,
        )
    w.notify(t.to_staff(case, f"{actor.name} (customer) wrote", text), case)


async def note(w: Work, actor: Actor, key: str, text: str, post: bool = True) -> str:
    case = await w.case(key)
    w.require(actor, Deed.NOTE, case)
    if not text.strip():
        raise Refusal(f"Nothing to note: `/case note {case.key} <text>`.")
    w.event(case, actor, "note", text.strip(), internal=True)
    if post:
        w.notify(t.to_staff(case, f"Note from {actor.name}", text.strip()), case)
    return f"Noted on {case.key} (internal)."


async def staff_thread_message(
    w: Work, actor: Actor, case_key: str, text: str, purpose: str
) -> str:
    """Staff wrote a plain message in one of the case's conversations: in the customer
    thread they talk to the customer (who already sees it there); in the staff thread
    it is an internal note (already posted there)."""
    if purpose == "customer":
        case = await w.case(case_key)
        w.require(actor, Deed.REPLY, case)
        w.event(case, actor, "reply", text.strip())
        first_response(w, case)
        return f"Recorded on {case.key}."
    return await note(w, actor, case_key, text, post=False)


async def thread_reply(w: Work, actor: Actor, case_key: str, text: str, purpose: str) -> str:
    """A plain message written in a case conversation (``purpose`` is the conversation's:
    ``customer`` or ``staff``): from the customer's side a reply on the case, from staff
    see :func:`staff_thread_message`."""
    case = await w.case(case_key)
    w.require(actor, Deed.SHOW, case)
    if not actor.is_customer:
        return await staff_thread_message(w, actor, case_key, text, purpose)
    w.require(actor, Deed.REPLY, case)
    if case.state not in ACTIVE:
        return await message_after_close(w, actor, case, text)
    await customer_message(w, actor, case, text, echo=False)
    return f"Recorded on {case.key}."


async def message_after_close(
    w: Work, actor: Actor, case: Case, text: str, echo: bool = False
) -> str:
    """The customer wrote on a case that is over: nothing is lost (it goes on the
    timeline and to its engineer, or the staff thread when it had none), and the
    customer hears what they can do: reopen it within the window, or open a new case."""
    w.event(case, actor, "customer_message", text)
    if echo:  # typed, not written in the thread: the thread keeps the conversation
        w.notify(t.to_customer(case, f"{actor.name} on {case.key}", text), case)
    title = f"{actor.name} wrote on {case.key} ({state_line(case.state, case.close_reason)})"
    if case.assignee_id:
        w.notify(t.to_person(case.assignee_id, case, title, text, ping=True), case)
    w.notify(t.to_staff(case, title, text), case)
    who = "its engineer" if case.assignee_id else "the support team"
    return (
        f"{case.key} is {state_line(case.state, case.close_reason)}. Your message is kept "
        f"on it and {who} has it. " + reopen_hint(w, case)
    )


async def called(w: Work, actor: Actor, key: str, outcome: str, text: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.CALLED, case)
    outcome = outcome.lower()
    if outcome not in CALL_OUTCOMES:
        raise Refusal(f"Say `reached` or `not-reached`: `/case called {case.key} reached [note]`.")
    w.event(case, actor, f"call_{outcome.replace('-', '_')}", text.strip(), internal=True)
    running = case.state in WAITING_ON_CUSTOMER and await chasing(w, case)
    if outcome == "reached":
        if not running:
            return (
                f"Recorded: customer reached on {case.key}. No chase was running "
                f"({state_line(case.state, case.close_reason)}), so nothing else changes."
            )
        await stop_chase(w, case)
        return f"Recorded: customer reached on {case.key}; the chase has stopped."
    if not running:
        return (
            f"Recorded: customer not reached on {case.key}. No chase is running "
            f"({state_line(case.state, case.close_reason)})."
        )
    return f"Recorded: customer not reached on {case.key}; the chase goes on."
