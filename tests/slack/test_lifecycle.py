"""The whole case life cycle in Slack, over the wire, against the real core.

A customer (Carl, in his company's Slack Connect channel), two engineers (Eve and
Finn, in the team's triage channel and their DMs) and a CSM (Maya, in her DMs) do what
they would do in Slack: run ``/case``, fill in modals, click the buttons the bot
rendered, write in threads. Every request is signed and sent to the adapter on
127.0.0.1; every call the adapter makes lands on the fake Slack Web API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storage import inbox as inbox_rows
from tests.slack.conftest import (
    CSM,
    CUSTOMER,
    ENGINEER,
    ENGINEER2,
    SHARED,
    TRIAGE,
    World,
)
from tests.slack.driver import wire


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"]
        for b in message.get("blocks", [])
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


def header(message: dict[str, Any]) -> str:
    first = message["blocks"][0]
    return first["text"]["text"]


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


def one(messages: list[dict[str, Any]], containing: str) -> dict[str, Any]:
    found = [m for m in messages if containing in m["text"]]
    assert len(found) == 1, f"{len(found)} messages contain {containing!r}: {texts(messages)}"
    return found[0]


async def open_case_with_the_form(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """Carl opens CASE-1 with the modal; returns (customer case message, triage alert)."""
    answer = await world.slack.command(CUSTOMER, "", channel=SHARED)
    assert answer.status == 200 and answer.body == ""  # acknowledged, nothing to show
    await world.settle()
    form = world.opened_views()[-1]
    assert form["callback_id"] == "casebot:open"
    assert [b["block_id"] for b in form["blocks"]] == [
        "title",
        "area",
        "type",
        "impact",
        "description",
    ]

    # A missing title is answered inside the modal, which stays open: checked against
    # the modal's own inputs in the ack, before anything is written or run.
    accepted = len(await world.bot.runtime.inbox.store.run(inbox_rows.states))
    answer = await world.slack.submit(
        CUSTOMER, form, {"title": " ", "type": "broken", "impact": "degraded"}
    )
    assert answer.json() == {
        "response_action": "errors",
        "errors": {"title": "Title is needed."},
    }
    assert len(await world.bot.runtime.inbox.store.run(inbox_rows.states)) == accepted

    answer = await world.slack.submit(
        CUSTOMER,
        form,
        {
            "title": "Sync stalls for the EU tenant",
            "area": "sync",
            "type": "broken",
            "impact": "degraded",
            "description": "Since the 2.3 upgrade rows arrive hours late.",
        },
    )
    assert answer.status == 200 and answer.body == ""  # the modal closes
    await world.settle()
    assert world.last_ephemeral(CUSTOMER).startswith("Opened CASE-1: Sync stalls for the EU tenant")

    case_message = one(world.fake.posts(SHARED, top=True), "CASE-1 opened")
    assert header(case_message) == ":ticket: CASE-1 opened: Sync stalls for the EU tenant"
    # The impact the customer chose, and a button for each other impact.
    assert buttons(case_message) == [
        "case:CASE-1:escalate",
        "case:CASE-1:impact:production_down",
        "case:CASE-1:impact:blocked",
        "case:CASE-1:impact:question",
    ]
    alert = one(world.fake.posts(TRIAGE, top=True), "New case CASE-1")
    assert buttons(alert) == [
        "case:CASE-1:claim",
        "case:CASE-1:assign",
        "case:CASE-1:area",
        "case:CASE-1:severity",
    ]
    assert "Umbrella Labs" in alert["text"] and "premium" in alert["text"]
    return case_message, alert


async def test_the_whole_life_cycle_in_slack(world: World) -> None:
    fake, slack = world.fake, world.slack
    case_message, alert = await open_case_with_the_form(world)
    customer_thread = case_message["ts"]
    staff_thread = alert["ts"]

    # Staff talk about the case in the triage alert's thread: internal notes.
    note, _ = await slack.say(
        ENGINEER2, TRIAGE, "Looks like the lag bug from last week", thread_ts=staff_thread
    )
    await world.settle()
    assert (TRIAGE, note["ts"], "white_check_mark") in fake.reactions
    assert fake.posts(SHARED, thread=customer_thread) == []  # the customer sees none of it

    # Eve claims it: the alert is edited in place, the customer told, Eve pinged.
    await slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
    await world.settle()
    alert = fake.message(TRIAGE, staff_thread)
    assert "case:CASE-1:claim" not in buttons(alert)
    assert "Claimed by Eve Laurent" in alert["text"]
    assert "edited" in alert
    case_message = fake.message(SHARED, customer_thread)
    assert "Eve Laurent is working on your case." in case_message["text"]
    ping = one(world.dm_posts(ENGINEER), "CASE-1 is yours")
    assert ping["text"].startswith("<@U0EVE> ")
    assert world.last_ephemeral(ENGINEER) == "CASE-1 is yours."

    # She starts replicating from the button in her DM.
    await slack.click(ENGINEER, fake.dm(ENGINEER), ping, "case:CASE-1:replicating")
    await world.settle()
    assert "reproducing the problem" in fake.message(SHARED, customer_thread)["text"]

    # She asks the customer for information: it lands in the customer's case thread.
    await slack.command(
        ENGINEER, "need-info CASE-1 Which region, and since when exactly?", channel=TRIAGE
    )
    await world.settle()
    question = one(fake.posts(SHARED, thread=customer_thread), "needs more information")
    assert header(question).startswith(":question: Eve Laurent needs more information on CASE-1")
    assert "Which region, and since when exactly?" in question["text"]

    # Nobody answers: a reminder after a business day, a phone task after another.
    await world.later(timedelta(days=1))
    one(fake.posts(SHARED, thread=customer_thread), "Reminder 1 on CASE-1")
    await world.later(timedelta(days=1))
    task = one(world.dm_posts(ENGINEER), "Call the customer on CASE-1")
    assert buttons(task) == ["case:CASE-1:called:reached", "case:CASE-1:called:not-reached"]
    assert "+1 555 0199" in task["text"]
    await slack.click(ENGINEER, fake.dm(ENGINEER), task, "case:CASE-1:called:not-reached")
    await world.settle()
    assert "not reached" in world.last_ephemeral(ENGINEER)

    # Carl answers in the thread: recorded on the case, the chase stops.
    answer, _ = await slack.say(
        CUSTOMER, SHARED, "eu-west-1, since Monday", thread_ts=customer_thread
    )
    await world.settle()
    assert (SHARED, answer["ts"], "white_check_mark") in fake.reactions
    assert "Thanks for the information" in fake.message(SHARED, customer_thread)["text"]
    one(world.dm_posts(ENGINEER), "Carl Mendes wrote on CASE-1")
    one(fake.posts(TRIAGE, thread=staff_thread), "Carl Mendes (customer) wrote")
    await world.later(timedelta(days=3))
    assert "Closed" not in fake.message(SHARED, customer_thread)["text"]

    # Eve replies to the customer with /case reply: it reaches the customer thread.
    await slack.command(
        ENGINEER, "reply CASE-1 Thanks, reproducing on eu-west-1 now.", channel=TRIAGE
    )
    await world.settle()
    one(fake.posts(SHARED, thread=customer_thread), "reproducing on eu-west-1 now")

    # Carl escalates with the button on his case message; Maya, the CSM, gets a DM.
    await slack.click(
        CUSTOMER, SHARED, fake.message(SHARED, customer_thread), "case:CASE-1:escalate"
    )
    await world.settle()
    form = world.opened_views()[-1]
    assert form["callback_id"] == "casebot:escalate:CASE-1"
    await slack.submit(CUSTOMER, form, {"reason": "Our month-end close depends on it"})
    await world.settle()
    one(fake.posts(SHARED, thread=customer_thread), "CASE-1 escalated to Maya Ruiz")
    escalation = one(world.dm_posts(CSM), "Escalation on CASE-1")
    assert escalation["text"].startswith("<@U0MAYA> ")
    assert buttons(escalation) == [
        "case:CASE-1:ack",
        "case:CASE-1:raise",
        "case:CASE-1:assign",
        "case:CASE-1:join",
    ]
    assert "month-end close" in escalation["text"]
    for action in ("case:CASE-1:ack", "case:CASE-1:raise", "case:CASE-1:join"):
        await slack.click(CSM, fake.dm(CSM), escalation, action)
        await world.settle()
    one(fake.posts(SHARED, thread=customer_thread), "Maya Ruiz has your escalation on CASE-1")
    acked, raised, joined = world.ephemerals(CSM)
    assert acked == "Acknowledged the escalation of CASE-1."
    assert raised == "CASE-1 severity is now S1."
    assert joined.startswith("You've joined CASE-1")
    link = f"https://casebot-test.slack.com/archives/{TRIAGE}/p{staff_thread.replace('.', '')}"
    assert joined.endswith(f"\n<{link}|Open the staff thread>")

    # Eve logs a defect; Carl is told its key and follows it.
    await slack.command(
        ENGINEER, "defect CASE-1 Sync drops rows under replication lag", channel=TRIAGE
    )
    await world.settle()
    eng = one(fake.posts(SHARED, thread=customer_thread), "waiting on engineering: ENG-1")
    assert buttons(eng) == ["eng:ENG-1:follow"]
    await slack.click(CUSTOMER, SHARED, eng, "eng:ENG-1:follow")
    await world.settle()
    assert "ENG-1" in world.last_ephemeral(CUSTOMER)

    # Engineering fixes it: the case moves to a proposed resolution for Carl to confirm.
    await slack.command(ENGINEER, "eng status ENG-1 fixed Patched in 2.3.1", channel=TRIAGE)
    await world.settle()
    proposal = [
        m
        for m in fake.posts(SHARED, thread=customer_thread)
        if "proposes a resolution" in m["text"]
    ][-1]
    assert buttons(proposal)[:2] == ["case:CASE-1:confirm", "case:CASE-1:reject"]

    # He rejects it, with a reason typed in a modal; Eve hears why.
    await slack.click(CUSTOMER, SHARED, proposal, "case:CASE-1:reject")
    await world.settle()
    form = world.opened_views()[-1]
    assert form["callback_id"] == "casebot:reject:CASE-1"
    await slack.submit(CUSTOMER, form, {"reason": "Still late after upgrading to 2.3.1"})
    await world.settle()
    one(world.dm_posts(ENGINEER), "Carl Mendes rejected the resolution of CASE-1")

    # Eve proposes again; Carl confirms: resolved, then the survey.
    await slack.command(
        ENGINEER, "propose CASE-1 Raise sync.batch_size to 500 on the agent", channel=TRIAGE
    )
    await world.settle()
    proposal = [
        m
        for m in fake.posts(SHARED, thread=customer_thread)
        if "proposes a resolution" in m["text"]
    ][-1]
    assert "sync.batch_size" in proposal["text"]
    await slack.click(CUSTOMER, SHARED, proposal, "case:CASE-1:confirm")
    await world.settle()
    case_message = fake.message(SHARED, customer_thread)
    assert "Resolved: confirmed by the customer." in case_message["text"]
    assert buttons(case_message) == []  # nothing left to escalate
    survey = one(fake.posts(SHARED, thread=customer_thread), "How did we do?")
    assert buttons(survey) == [f"case:CASE-1:rate:{n}" for n in range(1, 6)]
    await slack.click(CUSTOMER, SHARED, survey, "case:CASE-1:rate:4")
    await world.settle()
    form = world.opened_views()[-1]
    assert form["callback_id"] == "casebot:survey_comment:CASE-1"
    assert form["blocks"][0].get("optional") is True
    await slack.submit(CUSTOMER, form, {"comment": "Quick once escalated"})
    await world.settle()

    # Knowledge write-back: Eve publishes the draft written from the case.
    draft = one(world.dm_posts(ENGINEER), "Draft knowledge-base article")
    publish = next(a for a in buttons(draft) if a.endswith(":publish"))
    await slack.click(ENGINEER, fake.dm(ENGINEER), draft, publish)
    await world.settle()
    assert "KB-" in world.last_ephemeral(ENGINEER)

    # The next customer with the same problem is offered that article first, from a DM.
    await slack.command(
        CUSTOMER, "open Sync stalls again for the EU tenant", channel=fake.dm(CUSTOMER)
    )
    await world.settle()
    dm = fake.dm(CUSTOMER)
    second = one(fake.posts(dm, top=True), "CASE-2 opened")
    suggestion = one(fake.posts(dm, thread=second["ts"]), "do any of these articles solve it?")
    accept = next(a for a in buttons(suggestion) if ":kb_accept:" in a)
    assert buttons(suggestion)[-1] == "case:CASE-2:kb_reject"
    await slack.click(CUSTOMER, dm, suggestion, accept)
    await world.settle()
    assert "Resolved by KB-" in fake.message(dm, second["ts"])["text"]


async def test_the_app_home_shows_each_person_their_cases_and_follows_changes(world: World) -> None:
    fake, slack = world.fake, world.slack
    await slack.open_home(CUSTOMER)
    await slack.open_home(ENGINEER)
    await world.settle()
    assert "Carl Mendes's cases" in str(fake.homes[CUSTOMER])
    assert "Nothing here." in str(fake.homes[CUSTOMER])

    await slack.command(CUSTOMER, "open Password reset mails never arrive", channel=SHARED)
    await world.settle()
    home = str(fake.homes[CUSTOMER])
    assert "CASE-1" in home and "Password reset mails never arrive" in home
    queue = str(fake.homes[ENGINEER])
    assert "*Waiting for triage* (1)" in queue and "*Assigned to me* (0)" in queue

    alert = one(fake.posts(TRIAGE, top=True), "New case CASE-1")
    await slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
    await world.settle()
    queue = str(fake.homes[ENGINEER])
    assert "*Assigned to me* (1)" in queue and "*Waiting for triage* (0)" in queue
    assert "Eve Laurent" in str(fake.homes[CUSTOMER])


async def test_assigning_with_the_modal_and_slack_mentions_in_commands(world: World) -> None:
    fake, slack = world.fake, world.slack
    await slack.command(CUSTOMER, "open SSO login loops forever", channel=SHARED)
    await world.settle()
    alert = one(fake.posts(TRIAGE, top=True), "New case CASE-1")

    await slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:assign")
    await world.settle()
    form = world.opened_views()[-1]
    options = [o["value"] for o in form["blocks"][0]["element"]["options"]]
    assert {"eve", "finn"} <= set(options)
    await slack.submit(ENGINEER, form, {"person": "finn"})
    await world.settle()
    one(world.dm_posts(ENGINEER2), "CASE-1 is yours")
    assert "Assigned to Finn Ode" in fake.message(TRIAGE, alert["ts"])["text"]  # not claimed

    # "/case assign CASE-1 @Eve" arrives as Slack's escaped mention.
    await slack.command(ENGINEER2, "assign CASE-1 <@U0EVE|eve>", channel=TRIAGE)
    await world.settle()
    assert world.last_ephemeral(ENGINEER2) == "CASE-1 is now assigned to Eve Laurent."
    one(world.dm_posts(ENGINEER2), "CASE-1 was reassigned to Eve Laurent")


async def test_help_lists_what_each_person_may_do(world: World) -> None:
    await world.slack.command(CUSTOMER, "help", channel=SHARED)
    await world.slack.command(ENGINEER, "help", channel=TRIAGE)
    await world.settle()
    customer_help, engineer_help = world.ephemerals(CUSTOMER)[-1], world.ephemerals(ENGINEER)[-1]
    assert "`/case` — open a case with a form" in customer_help
    assert "escalate CASE-n" in customer_help and "claim CASE-n" not in customer_help
    assert "claim CASE-n" in engineer_help and "need-info CASE-n" in engineer_help


async def test_show_and_list_escape_what_users_typed(world: World) -> None:
    title = "Export fails <!channel> & <@U0EVE>"
    await world.slack.command(CUSTOMER, "open " + wire(title), channel=SHARED)
    await world.settle()
    await world.slack.command(CUSTOMER, "show CASE-1", channel=SHARED)
    await world.slack.command(CUSTOMER, "list", channel=SHARED)
    await world.settle()
    shown, listed = world.ephemerals(CUSTOMER)[-2:]
    assert "Export fails &lt;!channel&gt; &amp; &lt;@U0EVE&gt;" in shown
    assert "Timeline:" in shown
    assert "CASE-1 [S3] Export fails &lt;!channel&gt;" in listed  # "fails": blocked
