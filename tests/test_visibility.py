"""A team sees every case at once; customers see only what is theirs (issue #9, part b).

Dialogs on the console harness: the impact read from a case's words and corrected by
its customer; nobody able to take a case, said once; what a customer is shown of a case
and of an engineering issue; following an issue; an automatic escalation's words.
"""

from __future__ import annotations

from bot.config import Config, Sla
from bot.durations import parse_duration
from bot.messages import Kind, Message
from storage.db import Database
from tests.harness import Dialog, load_test_config, of_kind, titles
from tests.test_refusals import refused


def fields(message: Message) -> dict[str, str]:
    return {f.label: f.value for f in message.fields}


def buttons(message: Message) -> list[str]:
    return [a.id for a in message.actions]


def everything_said_to_customers(d: Dialog, key: str) -> str:
    out = []
    for m in d.delivered("case_customer", key):
        msg = m.message
        out += [msg.title, msg.text, *(f"{f.label}: {f.value}" for f in msg.fields)]
    return "\n".join(out)


def with_sla() -> Config:
    config = load_test_config()
    hour = parse_duration("1h")
    config.sla = Sla(
        first_response={s: hour for s in ("S1", "S2", "S3", "S4")},  # type: ignore[misc]
        resolution={s: parse_duration("5d") for s in ("S1", "S2", "S3", "S4")},  # type: ignore[misc]
    )
    return config


# -- the impact ---------------------------------------------------------------------------


async def test_urgent_words_make_an_urgent_case_and_the_customer_can_correct_it(
    db: Database,
) -> None:
    d = await Dialog.start(db)
    reply = await d.say("ivy", "/case open URGENT production down since 10:00")
    assert reply.ok and reply.text.endswith("Severity S1.")
    case = await d.case("CASE-1")
    assert (case.impact, case.severity) == ("production_down", "S1")
    (opened,) = d.customer_thread("CASE-1")
    assert "Impact: Production is down (read from your words" in opened.text
    assert fields(opened)["Impact"] == "Production is down"
    assert buttons(opened) == [
        "case:CASE-1:escalate",
        "case:CASE-1:impact:degraded",
        "case:CASE-1:impact:blocked",
        "case:CASE-1:impact:question",
    ]
    # Staff correct the severity, not the customer's impact.
    assert await refused(d, "alice", "press case:CASE-1:impact:degraded") == (
        "`/case impact` is not for you. Try `/case help`."
    )
    assert await refused(d, "ivy", "impact CASE-1 nonsense") == (
        "There is no impact 'nonsense' (known: production_down, degraded, blocked, question)."
    )
    d.look_at_everything()
    reply = await d.press("ivy", "case:CASE-1:impact:degraded")
    assert reply.ok and reply.text == "CASE-1's impact is now Production is degraded (severity S2)."
    case = await d.case("CASE-1")
    assert (case.impact, case.severity) == ("degraded", "S2")
    assert (
        "Ivy Tanaka changed the impact of CASE-1: Production is degraded; severity S1 → S2"
        in titles(d.staff_thread("CASE-1"))
    )
    (status,) = d.customer_thread("CASE-1")
    assert status.update and fields(status)["Impact"] == "Production is degraded"
    (card,) = d.team_channel("platform")
    assert card.update and card.kind == Kind.TRIAGE_ALERT and fields(card)["Severity"] == "S2"
    # Still nobody to take it (no area): the edited card keeps saying so.
    assert fields(card)["Nobody can take it"].startswith("Its product area is not known")
    assert await refused(d, "ivy", "impact CASE-1 degraded") == (
        "CASE-1's impact is already Production is degraded."
    )


async def test_the_impact_can_be_given_as_an_option(db: Database) -> None:
    d = await Dialog.start(db)
    reply = await d.say("ivy", "/case open --impact blocked Webhooks fail sometimes")
    assert reply.ok and reply.text == "Opened CASE-1: Webhooks fail sometimes. Severity S3."
    case = await d.case("CASE-1")
    assert (case.title, case.impact) == ("Webhooks fail sometimes", "blocked")
    (opened, *_) = d.customer_thread("CASE-1")
    assert "Impact: A task is blocked. Replies" in opened.text  # chosen: no "read from"
    reply = await d.say("ivy", "/case open How do I export a chart --impact=question")
    assert (await d.case("CASE-2")).impact == "question"
    assert await refused(d, "ivy", "open Help --impact loud") == (
        "There is no impact 'loud' (known: production_down, degraded, blocked, question)."
    )


async def test_no_words_of_impact_is_a_question_said_as_assumed(db: Database) -> None:
    d = await Dialog.start(db)
    await d.say("ivy", "/case open Webhook endpoint returns 500")
    (opened, *_) = d.customer_thread("CASE-1")
    assert "Impact: A question (nothing said otherwise" in opened.text
    assert "case:CASE-1:impact:production_down" in buttons(opened)


# -- nobody can take it -------------------------------------------------------------------


async def test_nobody_can_take_a_case_when_everyone_is_full_said_once(db: Database) -> None:
    config = load_test_config()
    for p in config.people:
        p.capacity = 1
    config.reindex()
    d = await Dialog.start(db, config)
    first = await d.open_case("gus", "API call fails", area="api", impact="blocked")
    second = await d.open_case("gus", "API token rejected", area="api", impact="blocked")
    assert [(await d.case(k)).assignee_id for k in (first, second)] == ["alice", "bruno"]
    d.look_at_everything()
    third = await d.open_case("ivy", "API keys vanish", area="api", impact="blocked")
    why = "Every engineer on shift with a skill in Public API is at capacity"
    (card,) = d.team_channel("platform")
    assert card.kind == Kind.TRIAGE_ALERT and f"case:{third}:claim" in buttons(card)
    assert fields(card)["Nobody can take it"] == f"{why}: claim it or assign it"
    (to_lead,) = d.seen_by("lee")
    assert to_lead.title == f"Nobody can take {third} [S3]: API keys vanish"
    assert to_lead.text.startswith(why + ".")
    queue = (await d.say("lee", "/case queue")).text
    assert f"Nobody can take (1):\n  {third}: {why}" in queue
    # Time passing (the knowledge wait, timers) says nothing a second time.
    await d.advance("1h")
    assert d.team_channel("platform") == [] and d.seen_by("lee") == []
    # Once someone has room, the queue says who could take it.
    await d.say("gus", f"/case withdraw {first} yes")
    queue = (await d.say("lee", "/case queue")).text
    assert f"  {third}: Alice Romano could take it now" in queue
    assert (await d.say("alice", f"/case claim {third}")).ok
    assert "Nobody can take" not in (await d.say("lee", "/case queue")).text


# -- what customers see -------------------------------------------------------------------


async def test_customers_see_no_tier_no_priority_no_sla_and_no_internal_notes(
    db: Database,
) -> None:
    d = await Dialog.start(db, with_sla())
    key = await d.working_case("gus", "Webhook endpoint returns 500")
    await d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    reply = await d.say("alice", "/case eng status ENG-1 in_progress Root cause in signer.py")
    assert reply.ok and reply.text == (
        "ENG-1 is in_progress. Your note is internal: customers were told only the new "
        "status (add --public to share a note)."
    )
    notice = d.customer_thread(key)[-1]
    assert notice.kind == Kind.ENG_UPDATE and fields(notice) == {"Status": "being worked on"}
    assert "ENG-1 is now being worked on." in notice.text
    reply = await d.say("alice", "/case eng status ENG-1 fixed --public Fixed in release 4.2")
    assert reply.ok and reply.text == (
        "ENG-1 is fixed; 1 linked case moved on. Your note was shared with the customers."
    )
    thread = d.customer_thread(key)
    (notice,) = of_kind(thread, Kind.ENG_UPDATE)
    assert "ENG-1 is now fixed, waiting for release: Fixed in release 4.2" in notice.text
    (proposal,) = of_kind(thread, Kind.RESOLUTION_PROPOSAL)
    assert "Fixed in release 4.2" in proposal.text

    said = everything_said_to_customers(d, key)
    for internal in ("enterprise", "Priority", "in_progress", "signer.py", "breach", "target"):
        assert internal not in said, internal
    page = (await d.say("gus", f"/case show {key}")).text
    for internal in ("in_progress", "signer.py", "Resolution due", "First response"):
        assert internal not in page, internal
    staff_page = (await d.say("alice", f"/case show {key}")).text
    assert "Resolution due in" in staff_page and "signer.py" in staff_page
    home = await d.home("gus")
    assert all(line.time_left is None for _, lines in home.sections for line in lines)


async def test_a_wont_fix_note_stays_internal_unless_public(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus", "Webhook endpoint returns 500")
    await d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    await d.say("lee", "/case eng status ENG-1 wont_fix Too risky before the freeze")
    said = everything_said_to_customers(d, key)
    assert "Too risky" not in said and "wont_fix" not in said
    assert "ENG-1 is now not planned to change." in said
    (back,) = of_kind(d.seen_by("alice"), Kind.CASE_UPDATE)[-1:]
    assert "Too risky before the freeze" in back.text  # the engineer reads it in full


# -- following ----------------------------------------------------------------------------


async def test_a_customer_is_told_which_issues_they_may_follow(db: Database) -> None:
    d = await Dialog.start(db)
    theirs = await d.working_case("ivy", "Webhook signature check fails")
    ours = await d.working_case("gus", "Agent upgrade fails", area="install", engineer="bruno")
    await d.say("alice", f"/case defect {theirs} Webhook signature uses the old secret")
    await d.say("bruno", f"/case defect {ours} Endpoint returns 500 on retries")
    expected = (
        "{k} is not linked to any of your account's cases. Engineering issues you can "
        f"see and follow: ENG-2 ({ours})."
    )
    assert await refused(d, "gus", "follow ENG-1") == expected.format(k="ENG-1")
    assert await refused(d, "gus", "follow ENG-9") == expected.format(k="ENG-9")
    assert (await d.say("gus", "/case follow ENG-2")).ok


# -- escalation ---------------------------------------------------------------------------


async def test_an_sla_breach_escalation_does_not_name_the_customer_as_its_source(
    db: Database,
) -> None:
    d = await Dialog.start(db, with_sla())
    key = await d.open_case("gus", "Webhook endpoint returns 500", area="api", impact="blocked")
    await d.advance("2h")
    (dm,) = of_kind(d.seen_by("lee"), Kind.ESCALATION_DM)
    assert dm.title.startswith(f"Escalation on {key} [S2] raised automatically by casebot:")
    assert "Gus" not in dm.title
    # The customer's view of the case says nothing of targets or breaches.
    page = (await d.say("gus", f"/case show {key}")).text
    assert "breach" not in page and "target" not in page
    assert "breached" in (await d.say("lee", f"/case show {key}")).text
    # A customer's own escalation still says who raised it.
    other = await d.open_case("gina", "Dashboard is empty", area="dashboards", impact="blocked")
    await d.say("gina", f"/case escalate {other} Nobody answers")
    (dm,) = of_kind(d.seen_by("dana"), Kind.ESCALATION_DM)
    assert dm.title.startswith(f"Escalation on {other} [S2] from Gina Okafor:")


async def test_an_s1_is_routed_at_once_and_its_card_does_not_say_it_waits(db: Database) -> None:
    d = await Dialog.start(db)
    kb = await d.add_article(
        "Webhook deliveries fail with HTTP 500 after token rotation",
        "After rotating an API token every webhook delivery fails with HTTP 500.",
        "Copy the new signing secret into the receiver.",
        area="api",
    )
    key = await d.open_case(
        "gus", "Webhook 500 after token rotation", area="api", impact="production_down"
    )
    assert (await d.case(key)).assignee_id == "alice"
    for card in d.team_channel("platform"):
        assert fields(card)["Knowledge base"] == f"Shown to the customer: {kb}"
    # Assigned, not yet worked on: the customer may still correct the impact.
    assert "case:" + key + ":impact:degraded" in buttons(d.customer_thread(key)[-1])
    assert (await d.press("gus", f"case:{key}:impact:degraded")).ok
    await d.say("alice", f"/case replicating {key}")
    assert buttons(d.customer_thread(key)[-1]) == [f"case:{key}:escalate"]
    assert await refused(d, "gus", f"impact {key} question") == (
        f"{key} is already being worked on; tell your engineer in the thread, "
        f"or escalate it (`/case escalate {key} <reason>`)."
    )
