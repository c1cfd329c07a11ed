"""Issue #9 (part c), as dialogs: the life cycle has no dead ends, every notice says the
truth once, and cases speak one vocabulary (the state machine's).

The clock is the harness's FakeClock (Monday 2026-11-02 09:00 UTC); the chase of
tests/casebot-test.yml is remind 1bd, remind 2bd, phone 1bd, close 3bd; the reopen
window is 7 days.
"""

from __future__ import annotations

from bot.messages import Kind
from storage.db import Database
from tests.harness import Dialog, kinds, of_kind, titles


def field(message: object, name: str) -> str | None:
    return next((f.value for f in message.fields if f.label == name), None)  # type: ignore[attr-defined]


def buttons(message: object) -> list[str]:
    return [a.id for a in message.actions]  # type: ignore[attr-defined]


# -- 1. dead ends ---------------------------------------------------------------------------


async def test_a_rejected_case_still_linked_to_an_open_issue_waits_on_it_again(
    db: Database,
) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    await d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    # A workaround while engineering works: the customer says it does not help.
    await d.say("alice", f"/case propose {key} Disable signature checks for now")
    reply = await d.say("gus", f"/case reject {key} We can't disable checks")
    assert reply.ok
    case = await d.case(key)
    assert case.state == "waiting_on_engineering"
    status = [m for m in d.customer_thread(key) if m.update][-1]
    assert status.text == "Back with your engineer after your answer; still waiting on ENG-1."
    # The fix proposes to it, as to every case waiting on the issue.
    d.look_at_everything()
    assert (await d.say("bruno", "/case eng status ENG-1 fixed")).ok
    assert (await d.case(key)).state == "solution_proposed"
    assert of_kind(d.customer_thread(key), Kind.RESOLUTION_PROPOSAL)


async def test_a_rejected_fix_can_be_linked_again_and_the_next_fix_proposes(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    await d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    await d.say("bruno", "/case eng status ENG-1 fixed")
    await d.say("gus", f"/case reject {key} Still failing after the fix")
    assert (await d.case(key)).state == "replicating"
    # Linking again to a fixed issue says how to go on, and changes nothing.
    refused = await d.say("alice", f"/case link {key} ENG-1")
    assert not refused.ok and "`/case eng status ENG-1 open`" in refused.text
    await d.say("bruno", "/case eng status ENG-1 in_progress Reopened: regression")
    relinked = await d.say("alice", f"/case link {key} ENG-1")
    assert relinked.ok, relinked.text
    assert (await d.case(key)).state == "waiting_on_engineering"
    again = await d.say("alice", f"/case link {key} ENG-1")
    assert not again.ok and again.text == f"{key} is already linked to ENG-1 and waiting on it."
    d.look_at_everything()
    await d.say("bruno", "/case eng status ENG-1 fixed")
    assert (await d.case(key)).state == "solution_proposed"
    assert of_kind(d.customer_thread(key), Kind.RESOLUTION_PROPOSAL)


async def test_a_fix_tells_the_engineer_of_a_linked_case_that_no_longer_waits(
    db: Database,
) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    await d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    await d.say("bruno", "/case eng status ENG-1 fixed")
    await d.say("gus", f"/case confirm {key}")
    await d.say("gus", f"/case reopen {key} It is back")
    assert (await d.case(key)).state == "replicating"  # ENG-1 is fixed: back with Alice
    await d.say("bruno", "/case eng status ENG-1 released")
    d.look_at_everything()
    await d.say("bruno", "/case eng status ENG-1 in_progress")
    await d.say("bruno", "/case eng status ENG-1 fixed")
    told = [m for m in d.seen_by("alice") if "is not waiting on it" in m.title]
    assert [m.title for m in told] == [f"ENG-1 is fixed; {key} is not waiting on it"]
    assert f"`/case propose {key} <resolution>`" in told[0].text


async def test_a_customer_writing_after_an_unresponsive_close_can_reopen_it(
    db: Database,
) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    await d.say("alice", f"/case need-info {key} Which region?")
    for step in ("1bd", "2bd", "1bd", "3bd"):
        await d.advance(step)
    case = await d.case(key)
    assert (case.state, case.close_reason) == ("closed", "unresponsive")
    d.look_at_everything()
    # Gus comes back two days later: kept, shown to Alice, and told the truth.
    await d.advance("2d")
    late = await d.write_in_thread("gus", key, "Sorry, I was away: eu-west-1")
    assert late is not None and late.ok
    assert "Your message is kept on it and its engineer has it." in late.text
    assert f"`/case reopen {key} <reason>`" in late.text
    (seen,) = d.seen_by("alice")
    assert seen.text == "Sorry, I was away: eu-west-1" and seen.mentions == ["alice"]
    assert [e.text for e in await d.timeline(key) if e.kind == "customer_message"] == [
        "Sorry, I was away: eu-west-1"
    ]
    # And the reopen it was told about works.
    reply = await d.say("gus", f"/case reopen {key} Here is the region")
    assert reply.ok, reply.text
    case = await d.case(key)
    assert (case.state, case.assignee_id, case.close_reason) == ("replicating", "alice", None)


async def test_withdraw_asks_first_and_can_be_undone_within_the_window(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    world = await d.world()
    asked = await d.say("gus", f"/case withdraw {key}")
    assert asked.ok and asked.text == (
        f"Withdraw {key} (Webhook endpoint returns 500)? It closes the case; you can "
        f"reopen it within 7d. To go ahead: `/case withdraw {key} yes`."
    )
    assert await d.world() == world  # asking changes nothing
    assert (await d.say("gus", f"/case withdraw {key} yes")).ok
    assert (await d.case(key)).state == "closed"
    await d.advance("6d")
    back = await d.say("gus", f"/case reopen {key} Sorry, still need help")
    assert back.ok, back.text
    assert (await d.case(key)).state == "replicating"
    assert titles(d.seen_by("alice"))[-1] == f"Gus Hartmann reopened {key}"


async def test_a_duplicate_stays_closed_and_points_at_its_case(db: Database) -> None:
    d = await Dialog.start(db)
    first = await d.working_case()
    second = await d.open_case("gina", "Webhooks 500 too", area="api")
    await d.say("alice", f"/case duplicate {second} {first}")
    refused = await d.say("gina", f"/case reopen {second} Not a duplicate")
    assert not refused.ok
    assert refused.text == (
        f"{second} is closed as a duplicate of {first}: it can't be reopened. "
        f"Write on {first}, or open a new case."
    )


async def test_called_reached_says_what_is_true(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    # No chase, no phone task: nothing to stop, and the reply does not pretend.
    reply = await d.say("alice", f"/case called {key} reached Talked it through")
    assert reply.ok and reply.text == (
        f"Recorded: customer reached on {key}. No chase was running (being replicated), "
        "so nothing else changes."
    )
    await d.say("alice", f"/case need-info {key} Which region?")
    reply = await d.say("alice", f"/case called {key} reached")
    assert reply.text == f"Recorded: customer reached on {key}; the chase has stopped."
    assert await d.timers(key, "chase") and not [
        t for t in await d.timers(key, "chase") if t.state == "pending"
    ]


async def test_a_comment_on_a_proposal_restarts_the_chase_which_still_ends(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    await d.say("alice", f"/case propose {key} Rotate the signing secret")
    await d.advance("1bd")
    await d.write_in_thread("gus", key, "Will try tomorrow")
    # The whole chase again from the comment, to its end: no state waits forever.
    for step in ("1bd", "2bd", "1bd"):
        await d.advance(step)
        assert (await d.case(key)).state == "solution_proposed"
    assert of_kind(d.seen_by("alice"), Kind.PHONE_TASK)
    await d.advance("3bd")
    case = await d.case(key)
    assert (case.state, case.close_reason) == ("closed", "unresponsive")


# -- 2. the survey ----------------------------------------------------------------------------


async def test_no_survey_after_a_withdraw_or_an_unresponsive_close(db: Database) -> None:
    # DESIGN.md sends the survey "on close" and the seed as "the last step in the life
    # cycle": a withdrawn or unresponsive case can still come back (the reopen window),
    # and its customer did not see the work through, so there is nothing to rate yet.
    d = await Dialog.start(db)
    withdrawn = await d.working_case()
    await d.say("gus", f"/case withdraw {withdrawn} yes")
    assert Kind.SURVEY_PROMPT not in kinds(d.customer_thread(withdrawn))
    quiet = await d.open_case("ivy", "Agent install hangs", area="install")
    await d.say("bruno", f"/case need-info {quiet} Which version?")
    for step in ("1bd", "2bd", "1bd", "3bd"):
        await d.advance(step)
    assert (await d.case(quiet)).close_reason == "unresponsive"
    assert Kind.SURVEY_PROMPT not in kinds(d.customer_thread(quiet))
    # A resolved case gets it, and it says "resolved": it can still be reopened.
    solved = await d.open_case("gina", "Webhook token rejected", area="api")
    await d.say("alice", f"/case propose {solved} Regenerate the token")
    await d.say("gina", f"/case confirm {solved}")
    (survey,) = of_kind(d.customer_thread(solved), Kind.SURVEY_PROMPT)
    assert survey.title.startswith(f"{solved} is resolved.")
    assert "closed" not in survey.title


# -- 3. notices said once and true -------------------------------------------------------------


async def test_a_low_score_with_a_comment_alerts_the_csm_once(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    await d.say("alice", f"/case propose {key} Rotate the secret")
    await d.say("gus", f"/case confirm {key}")
    await d.press("gus", f"case:{key}:rate:2")
    await d.submit("gus", f"survey_comment:{key}", {"comment": "Took far too long"})
    alerts = [x for x in d.delivered("person", "dana") if x.message.kind == Kind.ALERT]
    # One alert, edited in place with the comment: the CSM is told once.
    assert [(x.updated, x.message.text) for x in alerts] == [
        (False, "(no comment)"),
        (True, "Took far too long"),
    ]
    assert alerts[0].ref == alerts[1].ref


async def test_area_on_an_assigned_case_moves_the_card_without_a_new_claim(
    db: Database,
) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    d.look_at_everything()
    reply = await d.say("alice", f"/case area {key} billing")
    assert reply.ok
    old = [x for x in d.delivered("team", "platform") if x.updated][-1]
    assert field(old.message, "Status") == "Moved to Billing (billing) by Alice Romano"
    assert old.message.actions == []  # nothing to claim where it no longer is
    (card,) = d.team_channel("billing")
    assert f"case:{key}:claim" not in buttons(card)
    assert field(card, "Status") == "Assigned to Alice Romano"


async def test_severity_changes_every_card_and_keeps_the_look_alike_issues(
    db: Database,
) -> None:
    d = await Dialog.start(db)
    other = await d.working_case("ivy", "Webhook retries fail", engineer="alice")
    await d.say("alice", f"/case defect {other} Webhook retries fail with 500")
    d.look_at_everything()
    key = await d.open_case("gus", "Webhook endpoint returns 500", area="api", impact="blocked")
    (first,) = of_kind(d.team_channel("platform"), Kind.TRIAGE_ALERT)[:1]
    looks = field(first, "Known engineering issues")
    assert looks and "ENG-1" in looks
    d.look_at_everything()
    await d.say("alice", f"/case severity {key} S1")
    (card,) = of_kind(d.team_channel("platform"), Kind.TRIAGE_ALERT)
    assert card.update and field(card, "Severity") == "S1"
    assert card.title.startswith(f"New case {key} [S1]")
    assert field(card, "Known engineering issues") == looks
    status = [m for m in d.customer_thread(key) if m.update][-1]
    assert field(status, "Severity") == "S1"


# -- 4. one vocabulary ---------------------------------------------------------------------------


async def test_the_case_page_speaks_the_state_machine_s_words(db: Database) -> None:
    d = await Dialog.start(db)
    waiting = await d.open_case("gus", "Something odd happened")  # nobody picked
    shown = (await d.say("gus", f"/case show {waiting}")).text
    assert "Engineer: nobody yet" in shown
    key = await d.working_case("gina")
    await d.say("lee", f"/case severity {key} S1")
    await d.say("alice", f"/case propose {key} Rotate the secret")
    await d.say("gina", f"/case confirm {key}")
    shown = (await d.say("alice", f"/case show {key}")).text
    assert "State: resolved\n" in shown and "(resolved)" not in shown
    timeline = shown.split("Timeline:\n", 1)[1]
    assert "severity_changed" not in timeline and "_" not in timeline
    assert "changed the severity: S2 → S1" in timeline, timeline
    assert all(line[:15].endswith(" UTC") for line in timeline.splitlines())
    assert "(being replicated → waiting for the customer to confirm a resolution)" in timeline


async def test_refusals_read_as_sentences(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    d.look_at_everything()
    refused = await d.say("gus", f"/case kb accept {key} KB-1")
    assert not refused.ok
    assert "close with a knowledge-base article it" not in refused.text


async def test_eng_counts_are_plural_only_when_many(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    reply = await d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    assert "(1 account, 1 open case)" in reply.text


# -- 6. every button is a subcommand ----------------------------------------------------------------


async def test_the_kb_answers_raise_and_join_are_typed_commands_too(db: Database) -> None:
    d = await Dialog.start(db)
    kb = await d.add_article("Webhook endpoint returns 500", "Webhooks answer 500", "Rotate it")
    key = await d.open_case("gus", "Webhook endpoint returns 500", area="api", impact="blocked")
    help_ = (await d.say("gus", "/case help")).text
    assert "kb accept" in help_ and "kb reject" in help_
    reply = await d.say("gus", f"/case kb accept {key} {kb}")
    assert reply.ok and (await d.case(key)).state == "resolved"
    other = await d.open_case("gus", "Webhook token rejected", area="api", impact="blocked")
    assert (await d.say("gus", f"/case kb reject {other}")).ok
    await d.say("gus", f"/case escalate {other} Blocked for days")
    staff_help = (await d.say("dana", "/case help")).text
    assert "join" in staff_help and "raise" in staff_help
    before = (await d.case(other)).severity
    assert (await d.say("dana", f"/case join {other}")).ok
    assert (await d.say("dana", f"/case raise {other}")).ok
    assert (await d.case(other)).severity == f"S{int(before[1]) - 1}"


# -- 5. the knowledge write-back --------------------------------------------------------------------


async def test_no_draft_when_an_article_already_covers_it(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    kb = await d.add_article(
        "Webhook signature rejected", "Deliveries fail with 500", "Rotate the signing secret"
    )
    await d.say("alice", f"/case propose {key} Follow {kb}: rotate the signing secret")
    await d.say("gus", f"/case confirm {key}")
    seen = d.seen_by("alice")
    assert not of_kind(seen, Kind.KB_DRAFT)
    assert f"{kb} already covers {key}: no draft written" in titles(seen)
    assert (await d.say("alice", "/case kb drafts")).text == "No drafts waiting."


async def test_a_draft_says_what_customers_were_told_never_internal_text(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case()
    await d.say("alice", f"/case note {key} Their proxy strips headers, embarrassing")
    await d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    await d.say("bruno", "/case eng status ENG-1 fixed")
    proposal = (await d.case(key)).proposed_resolution
    await d.say("gus", f"/case confirm {key}")
    (draft,) = of_kind(d.seen_by("alice"), Kind.KB_DRAFT)
    article = await d.article("KB-1")
    assert article.cause == "Defect: Webhook signature uses the old secret"
    assert article.resolution == proposal
    for section in (article.title, article.symptoms, article.cause, article.resolution):
        assert "proxy" not in section
    # The draft can be read and corrected before it is public.
    shown = (await d.say("alice", "/case kb show KB-1")).text
    assert shown.startswith("KB-1 (draft, drafted from CASE-1)")
    edited = await d.say("alice", "/case kb edit KB-1 cause The signing secret was cached")
    assert edited.ok and "Cause: The signing secret was cached" in edited.text


async def test_a_survey_before_resolution_says_when_it_comes(db: Database) -> None:
    """The survey follows a resolution: asked early, the customer hears that, not "closes"
    (a resolved case can still be reopened, so "closed" would not be true)."""
    d = await Dialog.start(db)
    key = await d.working_case()
    reply = await d.say("gus", f"/case survey {key} 4 early")
    assert not reply.ok
    assert reply.text == f"{key} is not resolved yet; the survey comes when it is."
