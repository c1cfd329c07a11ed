"""The support case life cycle of seed/contacting-the-support.md, one dialog per feature.

Each paragraph (or sentence group) of the seed, and the tests that prove casebot does it:

"Support Engineers answer questions concerning … specific functionality … broken
functionality … broken public API calls … installation, upgrades, and configuration"
    test_the_open_form_asks_the_kind_of_problem_and_its_impact
"Your support case is initially triaged to determine the best Support team … understand
the impact this problem is having on your business"
    test_case_is_triaged_to_the_best_team
    test_triage_alert_shows_look_alike_engineering_issues
"We then search all available knowledge to see if there is an existing resolution or
workaround"
    test_knowledge_is_searched_first_and_can_resolve_the_case
    test_not_my_problem_routes_the_case_at_once
    test_knowledge_wait_ends_and_the_case_is_routed_anyway
    test_production_down_is_routed_without_waiting_for_the_knowledge_base
"If your case identifies a new problem, the support case is assigned to the Support
Engineer with the most appropriate knowledge in the specified product area"
    test_new_problem_goes_to_the_engineer_with_the_best_skill
    test_ties_in_skill_and_load_go_round_robin
    test_an_engineer_at_capacity_is_skipped
    test_only_engineers_on_shift_are_picked
    test_an_engineer_can_claim_from_the_triage_alert
    test_correcting_the_area_moves_the_alert_to_the_right_team
    test_two_engineers_claiming_at_once_one_wins
    test_cases_opened_at_once_get_their_own_keys
    test_claim_during_the_knowledge_wait_opens_the_staff_thread
"They work your case, initially by making every effort to replicate the issue … If a
resolution is found, we collaborate with you … ensuring that the support case is updated"
    test_replication_then_resolution
    test_the_customer_sees_their_cases_and_timeline_but_no_internal_notes
"If we cannot replicate the issue, we may request your assistance to gather additional
detailed information"
    test_cannot_replicate_so_we_ask_for_information
"If we identify the case as a Defect or Enhancement request, a separate issue is logged
with Engineering … greatest impact to customer base … notifies you of the issue filed
with Engineering so that you can monitor the Engineering case"
    test_defect_logged_with_engineering_ranked_by_customer_impact_and_customer_can_follow
    test_engineering_fix_proposes_a_resolution_on_every_linked_case
    test_backlog_ranking_follows_cases_that_close
    test_wont_fix_sends_the_case_back_to_its_engineer
"We will expect to receive your responses in a timely manner. In the event that we do
not receive a response, then we will follow a case chase sequence where we attempt to
contact the customer via the phone"
    test_no_answer_starts_the_chase_sequence_with_a_phone_call
    test_the_phone_task_uses_the_customers_own_number
    test_the_chase_stops_on_any_customer_message
    test_the_chase_also_waits_on_a_proposed_resolution
    test_reaching_the_customer_by_phone_stops_the_chase
    test_timers_never_fire_twice
    test_a_stale_chase_generation_does_nothing
"If at any point you are not satisfied with the case resolution progress, you can
escalate your problem by contacting your Customer Success Manager (CSM)"
    test_customer_escalates_to_their_csm
    test_unacknowledged_escalation_goes_up_to_the_lead
    test_csm_can_raise_severity_reassign_and_join_from_the_escalation
"Normally, a support case is only closed and marked "Resolved" upon your satisfaction"
    test_only_the_customer_closes_as_resolved
    test_reject_goes_back_to_the_engineer_with_the_reason
    test_reopen_within_the_window
    test_reopen_outside_the_window_is_refused
    test_reopen_of_a_case_the_knowledge_base_solved_goes_back_to_triage
    test_customer_can_withdraw
    test_engineer_closes_a_duplicate
"If the reported issue has not been seen before, the issue and resolution will be
documented in the Knowledge Base to assist other customers"
    test_new_resolution_is_documented_in_the_knowledge_base
    test_a_discarded_draft_is_never_suggested
    test_one_draft_per_engineering_issue
"As the last step in the life cycle when your case is marked closed, you are sent a
short survey … let us know your thoughts or feedback at any time"
    test_survey_on_close_and_feedback_any_time
    test_survey_by_command_and_only_once
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import update

from bot.messages import Kind
from entrypoints.bootstrap import Casebot
from storage.db import Database
from storage.models import Timer
from tests.harness import Dialog, RecordingPlatform, kinds, of_kind, titles

SATURDAY = datetime(2026, 11, 7, 10, 0, tzinfo=UTC)


async def start(db: Database, **kw: object) -> Dialog:
    return await Dialog.start(db, **kw)  # type: ignore[arg-type]


def field(message: object, label: str) -> str:
    return {f.label: f.value for f in message.fields}[label]  # type: ignore[attr-defined]


def buttons(message: object) -> list[str]:
    return [a.id for a in message.actions]  # type: ignore[attr-defined]


# -- opening ------------------------------------------------------------------------------


async def test_the_open_form_asks_the_kind_of_problem_and_its_impact(db: Database) -> None:
    d = await start(db)
    reply = await d.say("gus", "/case")
    assert reply.ok and reply.prompt is not None and reply.prompt.form_id == "open"
    fields = {f.name: f for f in reply.prompt.fields}
    assert list(fields) == ["title", "area", "type", "impact", "description"]
    assert [o.label for o in fields["type"].options] == [
        "How should this work?",
        "Something is broken",
        "A public API call fails",
        "Installation, upgrade or configuration",
    ]
    assert [o.value for o in fields["impact"].options] == [
        "production_down",
        "degraded",
        "blocked",
        "question",
    ]
    assert not fields["area"].required and fields["title"].required
    key = await d.open_case(
        "gina", "SDK install fails on Alpine", type="install", impact="blocked", area="install"
    )
    case = await d.case(key)
    assert (case.case_type, case.impact, case.opener_id, case.account_key) == (
        "install",
        "blocked",
        "gina",
        "globex",
    )


# -- triage -----------------------------------------------------------------------------


async def test_case_is_triaged_to_the_best_team(db: Database) -> None:
    d = await start(db)
    # No area picked: the keywords of the billing area win; the impact and the
    # enterprise tier make it S1 (degraded is S2, one level more for the top tier).
    key = await d.open_case(
        "gus",
        "Invoice charged twice for November",
        impact="degraded",
        type="broken",
        description="Our VAT invoice shows two charges.",
    )
    case = await d.case(key)
    assert (case.area, case.team, case.severity, case.state) == (
        "billing",
        "billing",
        "S1",
        "assigned",
    )
    assert case.triaged_at == d.now

    # One card, posted once as it was when the open committed: the best engineer
    # already has it (a post and an edit a moment later would cost the team's channel
    # two calls for one case).
    (alert,) = d.team_channel("billing")
    assert alert.kind == Kind.TRIAGE_ALERT and not alert.update
    assert alert.title == f"New case {key} [S1]: Invoice charged twice for November"
    assert alert.text == "Our VAT invoice shows two charges."
    assert field(alert, "Account") == "Globex Corporation"
    assert field(alert, "Tier") == "enterprise"
    assert field(alert, "Severity") == "S1"
    assert field(alert, "Type") == "Something is broken"
    # Assigned already: the team may reassign, re-area or re-grade it, not claim it.
    assert buttons(alert) == [
        f"case:{key}:assign",
        f"case:{key}:area",
        f"case:{key}:severity",
    ]
    # Nobody claimed it: casebot assigned it, and the card says so (issue #9).
    assert field(alert, "Status") == "Assigned to Chiara Esposito"
    assert d.team_channel("platform") == []

    opened, *_ = d.customer_thread(key)
    assert opened.kind == Kind.CASE_OPENED
    assert "Impact: Production is degraded." in opened.text
    # The impact the customer chose, with a button for each other one.
    assert buttons(opened) == [
        f"case:{key}:escalate",
        f"case:{key}:impact:production_down",
        f"case:{key}:impact:blocked",
        f"case:{key}:impact:question",
    ]

    # The quick path (no form) suggests the area from the title and goes to the team
    # that owns it; its impact is read from the words ("fails": a task is blocked).
    reply = await d.say("ivy", "/case open Agent upgrade fails with helm 3")
    assert reply.ok and reply.text.startswith("Opened CASE-2: Agent upgrade fails with helm 3.")
    case2 = await d.case("CASE-2")
    assert (case2.area, case2.team, case2.impact, case2.severity, case2.assignee_id) == (
        "install",
        "platform",
        "blocked",
        "S3",
        "bruno",
    )
    key3 = await d.open_case("ivy", "Agent lags", area="install", impact="degraded")
    assert (await d.case(key3)).severity == "S2"
    timeline = await d.timeline(key)
    assert [(e.kind, e.from_state, e.to_state) for e in timeline[:2]] == [
        ("opened", None, "open"),
        ("triaged", "open", "triaged"),
    ]


async def test_triage_alert_shows_look_alike_engineering_issues(db: Database) -> None:
    d = await start(db)
    first = await d.working_case("gus", "Webhook deliveries fail after token rotation")
    await d.say("alice", f"/case defect {first} Webhook signing breaks on token rotation")
    d.team_channel("platform")
    await d.open_case("ivy", "Webhook deliveries failing since yesterday", area="api")
    alert = d.team_channel("platform")[0]
    assert alert.kind == Kind.TRIAGE_ALERT
    assert "ENG-1 — Webhook signing breaks on token rotation" in field(
        alert, "Known engineering issues"
    )


# -- knowledge first ------------------------------------------------------------------


async def seed_articles(d: Dialog) -> str:
    await d.add_article(
        "Invoice address is wrong",
        "The invoice shows an old address.",
        "Edit the billing profile.",
        area="billing",
    )
    return await d.add_article(
        "Webhook deliveries fail with HTTP 500 after token rotation",
        "After rotating an API token every webhook delivery fails with HTTP 500.",
        "Copy the new signing secret into the receiver.",
        area="api",
    )


async def test_knowledge_is_searched_first_and_can_resolve_the_case(db: Database) -> None:
    d = await start(db)
    kb = await seed_articles(d)
    key = await d.open_case(
        "gus",
        "Webhook delivery fails with 500 since we rotated a token",
        area="api",
        impact="blocked",
    )
    opened, suggestions = d.customer_thread(key)
    assert suggestions.kind == Kind.KB_SUGGESTIONS
    assert f"{kb} — Webhook deliveries fail with HTTP 500 after token rotation" in suggestions.text
    assert "Invoice" not in suggestions.text
    assert buttons(suggestions) == [f"case:{key}:kb_accept:{kb}", f"case:{key}:kb_reject"]
    # The team sees the case at once, with what the customer was shown; only the
    # automatic assignment waits for the customer's answer.
    (card,) = d.team_channel("platform")
    assert card.kind == Kind.TRIAGE_ALERT and not card.update
    assert field(card, "Knowledge base") == f"Waiting for the customer on {kb} until 09:15 UTC"
    assert f"case:{key}:claim" in buttons(card)
    assert d.seen_by("alice") == []

    reply = await d.press("gus", f"case:{key}:kb_accept:{kb}")
    assert reply.ok and reply.text == f"Glad {kb} solved it. {key} is resolved."
    case = await d.case(key)
    assert (case.state, case.close_reason, case.kb_article_key) == ("resolved", "deflected", kb)
    assert case.resolved_at == d.now and case.assignee_id is None
    status, survey = d.customer_thread(key)
    assert status.update and f"Resolved by {kb}." in status.text and status.actions == []
    assert survey.kind == Kind.SURVEY_PROMPT
    (solved,) = d.team_channel("platform")
    assert solved.update and solved.ref == card.ref and f"case:{key}:claim" not in buttons(solved)
    # The knowledge wait is over: no assignment, ever.
    await d.advance("1h")
    assert d.team_channel("platform") == [] and d.seen_by("alice") == []
    assert [t.state for t in await d.timers(key, "knowledge_wait")] == ["cancelled"]
    assert "resolved_by_article" in [e.kind for e in await d.timeline(key)]


async def test_not_my_problem_routes_the_case_at_once(db: Database) -> None:
    d = await start(db)
    kb = await seed_articles(d)
    key = await d.open_case("gus", "Webhook 500 after token rotation", area="api")
    reply = await d.press("gus", f"case:{key}:kb_reject")
    assert reply.ok
    assert (await d.case(key)).assignee_id == "alice"
    alert, assigned = d.team_channel("platform")
    assert field(alert, "Knowledge base") == f"Waiting for the customer on {kb} until 09:15 UTC"
    assert assigned.update and field(assigned, "Knowledge base") == f"Shown to the customer: {kb}"
    assert d.seen_by("alice")[0].kind == Kind.ASSIGNMENT_PING
    # Until the engineer starts on it, the article may still turn out to be the answer.
    late = await d.press("gus", f"case:{key}:kb_accept:{kb}")
    assert late.ok
    case = await d.case(key)
    assert (case.state, case.close_reason, case.kb_article_key) == ("resolved", "deflected", kb)
    (update,) = d.team_channel("platform")
    assert update.update and field(update, "Status") == f"Solved by {kb}: no work needed"
    assert f"{key} was solved by {kb}; no work needed." in titles(d.staff_thread(key))


async def test_knowledge_wait_ends_and_the_case_is_routed_anyway(db: Database) -> None:
    d = await start(db)
    await seed_articles(d)
    key = await d.open_case("gus", "Webhook 500 after token rotation", area="api")
    await d.advance("14m")
    assert (await d.case(key)).assignee_id is None
    await d.advance("1m")
    case = await d.case(key)
    assert (case.assignee_id, case.state) == ("alice", "assigned")
    assert kinds(d.team_channel("platform")) == ["triage_alert", "triage_alert"]


async def test_production_down_is_routed_without_waiting_for_the_knowledge_base(
    db: Database,
) -> None:
    d = await start(db)
    await seed_articles(d)
    key = await d.open_case(
        "gus", "Webhook 500 after token rotation", area="api", impact="production_down"
    )
    case = await d.case(key)
    assert (case.severity, case.assignee_id) == ("S1", "alice")
    # The suggestions are still shown: they may be quicker than the engineer.
    assert Kind.KB_SUGGESTIONS in kinds(d.customer_thread(key))


# -- assignment -----------------------------------------------------------------------


async def test_new_problem_goes_to_the_engineer_with_the_best_skill(db: Database) -> None:
    d = await start(db)
    api = await d.open_case("gus", "Token endpoint returns 401", area="api")
    install = await d.open_case("ivy", "Agent install hangs", area="install")
    assert (await d.case(api)).assignee_id == "alice"  # api 5 beats bruno's 3
    assert (await d.case(install)).assignee_id == "bruno"  # install 5 beats alice's 2

    (ping,) = d.seen_by("alice")
    assert ping.kind == Kind.ASSIGNMENT_PING and ping.mentions == ["alice"]
    assert ping.title == f"{api} is yours: Token endpoint returns 401"
    assert "Assigned by casebot (best skill match)" in ping.text
    assert buttons(ping) == [f"case:{api}:replicating"]
    assert [m.kind for m in d.seen_by("bruno")] == [Kind.ASSIGNMENT_PING]
    status = d.customer_thread(api)[-1]
    assert status.update and status.text == "Alice Romano is working on your case."
    assert field(status, "Engineer") == "Alice Romano"
    assert (await d.case(api)).assigned_at == d.now
    # The lead and the CSM are never picked by the router.
    assert d.seen_by("lee") == [] and d.seen_by("dana") == []


async def test_ties_in_skill_and_load_go_round_robin(db: Database) -> None:
    d = await start(db)
    picked = []
    for n in range(4):
        key = await d.open_case("gus", f"Dashboard panel {n} is empty", area="dashboards")
        picked.append((await d.case(key)).assignee_id)
        await d.say("gus", f"/case withdraw {key} yes")  # back to equal load
        await d.advance("1m")
    assert picked == ["alice", "bruno", "alice", "bruno"]


async def test_an_engineer_at_capacity_is_skipped(db: Database) -> None:
    d = await start(db)
    keys = [await d.open_case("gus", f"API call {n} fails", area="api") for n in range(3)]
    assert [(await d.case(k)).assignee_id for k in keys] == ["alice", "alice", "bruno"]
    # Room again once one of hers is closed.
    await d.say("gus", f"/case withdraw {keys[0]} yes")
    fourth = await d.open_case("gus", "API call 4 fails", area="api")
    assert (await d.case(fourth)).assignee_id == "alice"


async def test_only_engineers_on_shift_are_picked(db: Database) -> None:
    d = await start(db, start=SATURDAY)
    key = await d.open_case("ivy", "Refund not received", area="billing")
    case = await d.case(key)
    assert (case.state, case.assignee_id) == ("triaged", None)
    (alert,) = d.team_channel("billing")
    assert f"case:{key}:claim" in buttons(alert)
    # Nobody can take it: the team's card and the lead say why, once.
    assert field(alert, "Nobody can take it") == (
        "No engineer with a skill in Billing is on shift now: claim it or assign it"
    )
    (to_lead,) = d.seen_by("lee")
    assert to_lead.title == f"Nobody can take {key} [S4]: Refund not received"
    assert to_lead.text.startswith("No engineer with a skill in Billing is on shift now.")
    assert f"case:{key}:claim" in buttons(to_lead)
    assert d.seen_by("chiara") == []
    queue = (await d.say("lee", "/case queue")).text
    assert (
        f"Nobody can take (1):\n  {key}: No engineer with a skill in Billing is on shift now"
        in queue
    )
    # Monday inside her shift, the next billing case goes to her.
    await d.advance("2d")
    later = await d.open_case("ivy", "Refund still not received", area="billing")
    assert (await d.case(later)).assignee_id == "chiara"


async def test_an_engineer_can_claim_from_the_triage_alert(db: Database) -> None:
    d = await start(db)
    key = await d.open_case("gus", "Something odd happened")  # no area: nobody picked
    (alert,) = d.team_channel("platform")
    assert "case:" + key + ":claim" in buttons(alert)
    assert field(alert, "Nobody can take it").startswith(
        "Its product area is not known, so nobody is matched by skill"
    )
    reply = await d.press("bruno", f"case:{key}:claim")
    assert reply.ok and reply.text == f"{key} is yours."
    case = await d.case(key)
    assert (case.state, case.assignee_id) == ("assigned", "bruno")
    (updated,) = d.team_channel("platform")
    assert updated.update and field(updated, "Status") == "Claimed by Bruno Lindqvist"
    assert f"case:{key}:claim" not in buttons(updated)
    assert "Assigned by Bruno Lindqvist" in d.seen_by("bruno")[0].text
    again = await d.press("alice", f"case:{key}:claim")
    assert not again.ok and again.text == f"{key} is already claimed by Bruno Lindqvist."


async def test_correcting_the_area_moves_the_alert_to_the_right_team(db: Database) -> None:
    d = await start(db)
    key = await d.open_case("gus", "Something odd happened")  # no keyword: first team
    assert (await d.case(key)).team == "platform"
    reply = await d.say("alice", f"/case area {key} billing")
    assert reply.ok and reply.text == f"{key} is now in Billing (billing)."
    (alert,) = d.team_channel("billing")
    assert alert.kind == Kind.TRIAGE_ALERT and field(alert, "Area") == "billing"
    await d.say("chiara", f"/case claim {key}")
    # Platform's card says where the case went (and has no Claim button left); the
    # billing card is the one that now says who has it.
    edited = [x for x in d.delivered("team") if x.updated]
    assert [(x.target.id, field(x.message, "Status")) for x in edited] == [
        ("platform", "Moved to Billing (billing) by Alice Romano"),
        ("billing", "Claimed by Chiara Esposito"),
    ]
    assert edited[0].message.actions == []
    assert edited[1].ref == d.delivered("team", "billing")[0].ref


async def test_two_engineers_claiming_at_once_one_wins(db: Database) -> None:
    d = await start(db)
    key = await d.open_case("gus", "Something odd happened")
    replies = await asyncio.gather(
        d.bot.commands.run(d.ctx("alice"), f"claim {key}"),
        d.bot.commands.run(d.ctx("bruno"), f"claim {key}"),
        d.bot.commands.run(d.ctx("lee"), f"claim {key}"),
    )
    await d.drain()
    assert sorted(r.ok for r in replies) == [False, False, True]
    winner = ["alice", "bruno", "lee"][[r.ok for r in replies].index(True)]
    assert (await d.case(key)).assignee_id == winner
    assert len([e for e in await d.timeline(key) if e.kind == "claimed"]) == 1
    assert len(of_kind(d.seen_by(winner), Kind.ASSIGNMENT_PING)) == 1


async def test_cases_opened_at_once_get_their_own_keys(db: Database) -> None:
    d = await start(db)
    replies = await asyncio.gather(
        *(
            d.bot.commands.run(d.ctx(who), f"open Problem {n}")
            for n, who in enumerate(["gus", "gina", "ivy", "ian"])
        )
    )
    await d.drain()
    assert all(r.ok for r in replies)
    assert sorted(r.text.split()[1] for r in replies) == [
        "CASE-1:",
        "CASE-2:",
        "CASE-3:",
        "CASE-4:",
    ]


async def test_claim_during_the_knowledge_wait_opens_the_staff_thread(db: Database) -> None:
    d = await start(db)
    await seed_articles(d)
    key = await d.open_case("gus", "Webhook 500 after token rotation", area="api")
    await d.say("bruno", f"/case claim {key}")
    # The triage card was posted when the case opened (so the case has a staff thread
    # where the team can talk); the claim edits it.
    posted, claimed = d.delivered("team", "platform")
    assert not posted.updated and claimed.updated and claimed.ref == posted.ref
    assert field(claimed.message, "Status") == "Claimed by Bruno Lindqvist"
    d.look_at_everything()
    reply = await d.write_in_thread("bruno", key, "Looks like the signing secret again")
    assert reply is not None and reply.ok
    note = (await d.timeline(key))[-1]
    assert (note.kind, note.internal) == ("note", True)
    # The knowledge wait ending later routes nothing a second time.
    await d.advance("15m")
    assert d.team_channel("platform") == []
    assert (await d.case(key)).assignee_id == "bruno"


# -- replication and resolution ---------------------------------------------------------


async def test_replication_then_resolution(db: Database) -> None:
    d = await start(db)
    key = await d.open_case("gus", "Webhook endpoint returns 500", area="api", impact="blocked")
    d.customer_thread(key)
    await d.advance("20m")
    reply = await d.press("alice", f"case:{key}:replicating")
    assert reply.ok and reply.text == f"{key}: replicating."
    case = await d.case(key)
    assert case.state == "replicating"
    assert case.replicating_at == case.first_response_at == d.now
    assert d.customer_thread(key)[-1].text == "Alice Romano is reproducing the problem."

    await d.advance("1h")
    reply = await d.say("alice", f"/case propose {key} Rotate the signing secret, then redeliver.")
    assert reply.ok
    proposal, status = d.customer_thread(key)
    assert proposal.kind == Kind.RESOLUTION_PROPOSAL
    assert proposal.title == f"Alice Romano proposes a resolution for {key}"
    assert proposal.text.startswith("Rotate the signing secret, then redeliver.")
    assert buttons(proposal) == [
        f"case:{key}:confirm",
        f"case:{key}:reject",
        f"case:{key}:escalate",
    ]
    assert status.update and field(status, "State") == (
        "waiting for the customer to confirm a resolution"
    )

    await d.advance("2h")
    reply = await d.press("gus", f"case:{key}:confirm")
    assert reply.ok and reply.text == f"Thank you! {key} is resolved."
    case = await d.case(key)
    assert (case.state, case.close_reason, case.resolved_at) == ("resolved", "resolved", d.now)
    assert case.first_response_at < case.solution_proposed_at < case.resolved_at
    assert "confirmed the resolution" in d.seen_by("alice")[-2].title
    moves = [(e.kind, e.from_state, e.to_state) for e in await d.timeline(key) if e.to_state]
    assert moves == [
        ("opened", None, "open"),
        ("triaged", "open", "triaged"),
        ("assigned by skill", "triaged", "assigned"),
        ("replicating", "assigned", "replicating"),
        ("solution_proposed", "replicating", "solution_proposed"),
        ("confirmed", "solution_proposed", "resolved"),
    ]
    assert [t.state for t in await d.timers(key, "chase")] == ["cancelled"]


async def test_the_customer_sees_their_cases_and_timeline_but_no_internal_notes(
    db: Database,
) -> None:
    d = await start(db)
    key = await d.working_case("gus")
    other = await d.open_case("ivy", "Agent install hangs", area="install")
    await d.say("alice", f"/case note {key} Customer's receiver looks misconfigured")
    await d.write_in_thread("alice", key, "Also checked their proxy")
    await d.say("alice", f"/case reply {key} We can reproduce it, working on a fix")
    shown = (await d.say("gina", f"/case show {key}")).text
    assert shown.startswith(f"{key}: Webhook endpoint returns 500\nState: being replicated\n")
    assert "Engineer: Alice Romano" in shown
    assert "replied: We can reproduce it, working on a fix" in shown
    assert "misconfigured" not in shown and "proxy" not in shown
    staff_view = (await d.say("bruno", f"/case show {key}")).text
    assert "noted (internal): Customer's receiver looks misconfigured" in staff_view
    assert "noted (internal): Also checked their proxy" in staff_view
    told = d.customer_thread(key)[-1]
    assert (told.title, told.text) == (
        f"Alice Romano on {key}",
        "We can reproduce it, working on a fix",
    )
    assert all("misconfigured" not in x.message.text for x in d.delivered("case_customer"))

    listing = (await d.say("gus", "/case list")).text.splitlines()
    assert listing == [
        "Your account's cases:",
        f"{key} [S2] Webhook endpoint returns 500 — being replicated, Alice Romano",
    ]
    staff = (await d.say("lee", "/case list")).text.splitlines()
    assert staff[0] == "Open cases:" and len(staff) == 3 and other in staff[1]
    queue = (await d.say("alice", "/case queue")).text.splitlines()
    assert queue[:2] == [
        "Assigned to me (1):",
        f"  {key} [S2] Webhook endpoint returns 500 — being replicated",
    ]


async def test_cannot_replicate_so_we_ask_for_information(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    d.look_at_everything()
    reply = await d.say("alice", f"/case need-info {key} Which region is the receiver in?")
    assert reply.ok
    request, status = d.customer_thread(key)
    assert request.kind == Kind.INFO_REQUEST
    assert request.title == f"Alice Romano needs more information on {key}"
    assert request.text == "Which region is the receiver in?"
    case = await d.case(key)
    assert (case.state, case.info_request, case.waiting_since) == (
        "waiting_on_customer",
        "Which region is the receiver in?",
        d.now,
    )
    (chase,) = await d.timers(key, "chase")
    assert chase.state == "pending"

    # A colleague of the opener answers in the case thread.
    await d.advance("2h")
    reply = await d.write_in_thread("gina", key, "eu-west-1, behind a proxy")
    assert reply is not None and reply.ok
    case = await d.case(key)
    assert case.state == "replicating"
    (ping,) = d.seen_by("alice")
    assert ping.title == f"Gina Okafor wrote on {key}" and ping.text == "eu-west-1, behind a proxy"
    assert ping.mentions == ["alice"]
    assert "eu-west-1, behind a proxy" in [m.text for m in d.staff_thread(key)]
    assert d.customer_thread(key)[-1].text == "Thanks for the information; your engineer is on it."
    assert [t.state for t in await d.timers(key, "chase")] == ["cancelled"]

    # Asking again, and an answer by command this time.
    await d.say("alice", f"/case need-info {key} And the proxy's address?")
    await d.say("gus", f"/case reply {key} proxy.globex.example:3128")
    assert (await d.case(key)).state == "replicating"
    moves = [(e.kind, e.to_state) for e in await d.timeline(key) if e.to_state]
    assert moves[-4:] == [
        ("info_requested", "waiting_on_customer"),
        ("answered", "replicating"),
        ("info_requested", "waiting_on_customer"),
        ("answered", "replicating"),
    ]


# -- engineering issues ---------------------------------------------------------------


async def test_defect_logged_with_engineering_ranked_by_customer_impact_and_customer_can_follow(
    db: Database,
) -> None:
    d = await start(db)
    # Initech (standard tier) with an S3 case, Globex (enterprise) with an S1 case.
    small = await d.working_case("ivy", "Webhook signature check fails", impact="blocked")
    big = await d.working_case(
        "gus",
        "Agent upgrade loses the proxy setting",
        area="install",
        impact="degraded",
        engineer="bruno",
    )
    d.look_at_everything()
    reply = await d.say("alice", f"/case defect {small} Webhook signature uses the old secret")
    assert reply.ok and reply.text.startswith(f"Logged defect ENG-1 for {small}; priority 0 → 2")
    reply = await d.say("bruno", f"/case enhancement {big} Keep proxy settings on upgrade")
    assert reply.ok and "ENG-2" in reply.text and "priority 0 → 24" in reply.text

    # The customer is told the ENG key and can follow it.
    told, status = d.customer_thread(small)
    assert told.kind == Kind.ENG_UPDATE and told.eng_key == "ENG-1"
    assert "defect ENG-1 (Webhook signature uses the old secret)" in told.text
    assert buttons(told) == ["eng:ENG-1:follow"]
    assert status.update and field(status, "State") == "waiting on engineering"
    assert (await d.case(small)).state == "waiting_on_engineering"
    # Engineering hears about it in its channel.
    assert [m.title for m in d.team_channel("engineering")] == [
        "ENG-1 logged: priority 0 → 2 (1 account, 1 open case)",
        "ENG-2 logged: priority 0 → 24 (1 account, 1 open case)",
    ]

    backlog = (await d.say("lee", "/case eng list")).text.splitlines()
    assert backlog[1].startswith("1. ENG-2 [enhancement, open] priority 24")
    assert backlog[2].startswith("2. ENG-1 [defect, open] priority 2")

    # A Globex case hitting the same defect, at S1: ENG-1 now matters most.
    third = await d.working_case("gina", "Webhooks rejected after rotation", impact="degraded")
    reply = await d.say("alice", f"/case link {third} ENG-1")
    assert reply.ok and "priority 2 → 26 (2 accounts, 2 open cases)" in reply.text
    backlog = (await d.say("alice", "/case eng list")).text.splitlines()
    assert [line.split()[1] for line in backlog[1:]] == ["ENG-1", "ENG-2"]

    # Following: by button from the case thread; the button goes away once pressed.
    assert (await d.press("ivy", "eng:ENG-1:follow")).ok
    (edited,) = d.customer_thread(small)
    assert edited.update and edited.ref == told.ref and buttons(edited) == []
    again = await d.say("ivy", "/case follow ENG-1")
    assert not again.ok and again.text == "You already follow ENG-1."
    assert (await d.say("bruno", "/case follow ENG-1")).ok
    reply = await d.say("lee", "/case eng status ENG-1 in_progress Fix under review")
    assert reply.ok and "Your note is internal" in reply.text
    # Ivy's case thread carries the change, so no DM too; an engineer following it
    # gets the staff words and the note.
    assert d.seen_by("ivy") == []
    (staff,) = d.seen_by("bruno")
    assert staff.title == "ENG-1 is now in_progress" and "Fix under review" in staff.text
    for key in (small, third):
        notice = d.customer_thread(key)[-1]
        assert "ENG-1 is now being worked on." in notice.text
        assert "Fix under review" not in notice.text and "in_progress" not in notice.text
        assert {f.label: f.value for f in notice.fields} == {"Status": "being worked on"}
    assert (await d.case(small)).state == "waiting_on_engineering"
    shown = (await d.say("bruno", "/case eng show ENG-1")).text.splitlines()
    assert shown == [
        "ENG-1 [defect] Webhook signature uses the old secret",
        "Status: in_progress",
        "Priority: 26 (2 accounts, 2 open cases)",
        f"Linked cases: {small} (initech, S3, waiting_on_engineering), "
        f"{third} (globex, S1, waiting_on_engineering)",
    ]
    assert (await d.say("ivy", "/case unfollow ENG-1")).ok
    await d.say("lee", "/case eng status ENG-1 open")
    assert d.seen_by("ivy") == []


async def test_engineering_fix_proposes_a_resolution_on_every_linked_case(db: Database) -> None:
    d = await start(db)
    one = await d.working_case("ivy", "Webhook signature check fails")
    two = await d.working_case("gus", "Webhooks rejected after rotation")
    await d.say("alice", f"/case defect {one} Webhook signature uses the old secret")
    await d.say("alice", f"/case link {two} ENG-1")
    d.look_at_everything()
    reply = await d.say("alice", "/case eng status ENG-1 fixed in release 4.2 --public")
    assert reply.ok and reply.text == (
        "ENG-1 is fixed; 2 linked cases moved on. Your note was shared with the customers."
    )
    for key in (one, two):
        case = await d.case(key)
        assert (case.state, case.proposed_resolution) == (
            "solution_proposed",
            "ENG-1 is now fixed, waiting for release: in release 4.2",
        )
        thread = d.customer_thread(key)
        assert Kind.RESOLUTION_PROPOSAL in kinds(thread)
        proposal = of_kind(thread, Kind.RESOLUTION_PROPOSAL)[0]
        assert proposal.title == f"Alice Romano proposes a resolution for {key}"
        assert [t.state for t in await d.timers(key, "chase")][-1] == "pending"
    # Each customer confirms for themselves.
    await d.press("ivy", f"case:{one}:confirm")
    assert (await d.case(one)).state == "resolved"
    assert (await d.case(two)).state == "solution_proposed"


async def test_backlog_ranking_follows_cases_that_close(db: Database) -> None:
    d = await start(db)
    small = await d.working_case("ivy", "Webhook signature check fails", impact="blocked")
    big = await d.working_case(
        "gus", "Agent upgrade loses the proxy", area="install", impact="degraded", engineer="bruno"
    )
    await d.say("alice", f"/case defect {small} Webhook signature uses the old secret")
    await d.say("bruno", f"/case defect {big} Upgrade drops proxy settings")
    await d.say("gus", f"/case withdraw {big} yes")
    backlog = (await d.say("lee", "/case eng list")).text.splitlines()
    # ENG-2 has no open case left: no impact, so it ranks below ENG-1.
    assert backlog[1].startswith("1. ENG-1 [defect, open] priority 2")
    assert backlog[2].startswith("2. ENG-2 [defect, open] priority 0")


async def test_wont_fix_sends_the_case_back_to_its_engineer(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("alice", f"/case enhancement {key} Webhooks over HTTP/3")
    d.seen_by("alice")
    await d.say("lee", "/case eng status ENG-1 wont_fix Not on the roadmap")
    assert (await d.case(key)).state == "replicating"
    (ping,) = d.seen_by("alice")
    assert ping.title == f"ENG-1 won't be fixed: {key} is back with you"
    assert ping.mentions == ["alice"]


# -- the chase sequence ---------------------------------------------------------------


async def test_no_answer_starts_the_chase_sequence_with_a_phone_call(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()  # Monday 09:00
    await d.say("alice", f"/case need-info {key} Which region is the receiver in?")
    d.look_at_everything()

    await d.advance("23h")
    assert d.customer_thread(key) == []
    await d.advance("1h")  # Tuesday 09:00: one business day
    (reminder,) = d.customer_thread(key)
    assert reminder.kind == Kind.CHASE_REMINDER
    assert reminder.title == f"Reminder 1 on {key}: Webhook endpoint returns 500"
    assert "Which region is the receiver in?" in reminder.text

    await d.advance("2bd")  # Thursday
    (reminder,) = d.customer_thread(key)
    assert reminder.title.startswith(f"Reminder 2 on {key}")
    assert d.seen_by("alice") == []

    await d.advance("1bd")  # Friday: the phone call
    (task,) = d.seen_by("alice")
    assert task.kind == Kind.PHONE_TASK and task.mentions == ["alice"]
    assert task.title == f"Call the customer on {key}: no answer to our reminders"
    assert "Please phone Gus Hartmann at Globex Corporation." == task.text
    assert field(task, "Phone") == "+1 555 0199"
    assert field(task, "Waiting since") == "2026-11-02 09:00 UTC"
    assert buttons(task) == [f"case:{key}:called:reached", f"case:{key}:called:not-reached"]
    reply = await d.press("alice", f"case:{key}:called:not-reached")
    assert reply.ok and "the chase goes on" in reply.text
    assert d.customer_thread(key) == []

    await d.advance("2bd")
    assert (await d.case(key)).state == "waiting_on_customer"
    await d.advance("1bd")  # three business days after the call: Wednesday
    case = await d.case(key)
    assert (case.state, case.close_reason, case.closed_at) == ("closed", "unresponsive", d.now)
    # No survey: the customer was not there to judge the work (issue #9); the case can
    # come back within the reopen window, and the close says until when.
    (status,) = d.customer_thread(key)
    assert "we did not hear back" in status.text and status.actions == []
    assert f"You can reopen it until 2026-11-18 09:00 UTC: `/case reopen {key}" in status.text
    (told,) = d.seen_by("alice")
    assert told.title == f"{key} is closed after no answer to our reminders"
    events = [(e.kind, e.text) for e in await d.timeline(key)]
    assert [
        e
        for e in events
        if e[0] in ("chase_reminder", "phone_task", "call_not_reached", "closed_unresponsive")
    ] == [
        ("chase_reminder", "reminder 1"),
        ("chase_reminder", "reminder 2"),
        ("phone_task", "+1 555 0199"),
        ("call_not_reached", ""),
        ("closed_unresponsive", "no answer after the chase sequence"),
    ]
    # Nothing more ever comes.
    await d.advance("10bd")
    assert d.customer_thread(key) == [] and d.seen_by("alice") == []
    # Past the reopen window the case stays closed, and every message says so; a late
    # message is still kept and reaches the engineer (issue #9: no dead end).
    late = await d.write_in_thread("gus", key, "Sorry, I was on holiday")
    assert late is not None and late.ok
    assert late.text == (
        f"{key} is closed after no answer to our reminders. Your message is kept on it "
        "and its engineer has it. Open a new case whenever you need us."
    )
    assert [m.text for m in d.seen_by("alice")] == ["Sorry, I was on holiday"]
    refused = await d.say("gus", f"/case reopen {key} back now")
    assert not refused.ok and "more than 7d ago" in refused.text


async def test_the_phone_task_uses_the_customers_own_number(db: Database) -> None:
    d = await start(db)
    key = await d.working_case("gina")
    await d.say("alice", f"/case need-info {key} Logs please")
    for step in ("1bd", "2bd", "1bd"):
        await d.advance(step)
    task = of_kind(d.seen_by("alice"), Kind.PHONE_TASK)[0]
    assert field(task, "Phone") == "+1 555 0100"


async def test_the_chase_stops_on_any_customer_message(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("alice", f"/case need-info {key} Which region?")
    await d.advance("1bd")
    assert kinds(d.customer_thread(key))[-1] == Kind.CHASE_REMINDER
    await d.write_in_thread("gus", key, "Sorry, eu-west-1")
    d.look_at_everything()
    await d.advance("10bd")
    assert d.customer_thread(key) == [] and d.seen_by("alice") == []
    assert (await d.case(key)).state == "replicating"


async def test_the_chase_also_waits_on_a_proposed_resolution(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("alice", f"/case propose {key} Rotate the secret")
    d.look_at_everything()
    await d.advance("1bd")
    (reminder,) = d.customer_thread(key)
    assert "We proposed a resolution and haven't heard back" in reminder.text
    assert f"case:{key}:confirm" in buttons(reminder)
    # A message that doesn't decide is not the answer we wait for: the chase starts
    # again, so the case never waits for a confirmation nobody asks for.
    await d.write_in_thread("gus", key, "Will try tomorrow")
    await d.advance("1bd")
    (again,) = of_kind(d.customer_thread(key), Kind.CHASE_REMINDER)
    assert f"case:{key}:confirm" in buttons(again)
    assert (await d.case(key)).state == "solution_proposed"


async def test_reaching_the_customer_by_phone_stops_the_chase(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("alice", f"/case need-info {key} Which region?")
    for step in ("1bd", "2bd", "1bd"):
        await d.advance(step)
    assert of_kind(d.seen_by("alice"), Kind.PHONE_TASK)
    reply = await d.say("alice", f"/case called {key} reached They will send logs")
    assert reply.ok and "the chase has stopped" in reply.text
    d.look_at_everything()
    await d.advance("10bd")
    assert (await d.case(key)).state == "waiting_on_customer"
    assert d.customer_thread(key) == []
    note = [e for e in await d.timeline(key) if e.kind == "call_reached"][0]
    assert (note.text, note.internal) == ("They will send logs", True)


async def test_timers_never_fire_twice(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("alice", f"/case need-info {key} Which region?")
    # A second worker on the same database and clock, draining at the same time.
    other = Casebot(d.config, db, clock=d.clock, worker_id="worker-2")
    second = RecordingPlatform()
    other.register_adapter(second)
    d.clock.set(d.now.replace(day=3))  # Tuesday 09:00, the first reminder is due
    await asyncio.gather(d.bot.drain(), other.drain(), d.bot.drain(), other.drain())
    reminders = [
        x
        for x in d.platform.deliveries + second.deliveries
        if x.message.kind == Kind.CHASE_REMINDER
    ]
    assert len(reminders) == 1
    await d.drain()
    await other.drain()
    assert (
        len(
            [
                x
                for x in d.platform.deliveries + second.deliveries
                if x.message.kind == Kind.CHASE_REMINDER
            ]
        )
        == 1
    )
    assert [t.state for t in await d.timers(key, "chase")] == ["done", "pending"]


async def test_a_stale_chase_generation_does_nothing(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("alice", f"/case need-info {key} Which region?")
    await d.say("gus", f"/case reply {key} eu-west-1")
    await d.say("alice", f"/case need-info {key} And the proxy?")
    # The first request's timer, as a worker might still hold it when the answer came.
    first, second = await d.timers(key, "chase")
    assert first.payload["generation"] < second.payload["generation"]
    async with db.transaction() as s:
        await s.execute(update(Timer).where(Timer.id == first.id).values(state="pending"))
    d.look_at_everything()
    await d.advance("1bd")
    # Only the current request's reminder goes out, once.
    (reminder,) = d.customer_thread(key)
    assert "And the proxy?" in reminder.text
    assert [t.state for t in await d.timers(key, "chase")] == ["done", "done", "pending"]
    assert (await d.case(key)).chase_step == 1


# -- escalation -----------------------------------------------------------------------


async def test_customer_escalates_to_their_csm(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    d.look_at_everything()
    # The Escalate button asks for a reason first.
    reply = await d.press("gus", f"case:{key}:escalate")
    assert reply.ok and reply.prompt is not None and reply.prompt.form_id == f"escalate:{key}"
    reply = await d.submit("gus", f"escalate:{key}", {"reason": "No progress in two days"})
    assert reply.ok and reply.text == f"{key} is escalated to Dana Whitfield."

    (dm,) = d.seen_by("dana")
    assert dm.kind == Kind.ESCALATION_DM and dm.mentions == ["dana"]
    assert dm.title.startswith(f"Escalation on {key} [S2] from Gus Hartmann")
    assert "Reason: No progress in two days" in dm.text
    assert "as the account's CSM" in dm.text
    assert "gus opened" not in dm.text and "Gus Hartmann opened" in dm.text  # the timeline
    assert buttons(dm) == [
        f"case:{key}:ack",
        f"case:{key}:raise",
        f"case:{key}:assign",
        f"case:{key}:join",
    ]
    assert d.customer_thread(key)[-1].title == f"{key} escalated to Dana Whitfield"
    assert (await d.case(key)).escalation_level == 1
    again = await d.say("gina", f"/case escalate {key} me too")
    assert not again.ok and "already escalated" in again.text

    reply = await d.press("dana", f"case:{key}:ack")
    assert reply.ok
    assert d.customer_thread(key)[-1].title == f"Dana Whitfield has your escalation on {key}"
    await d.advance("2h")
    assert d.seen_by("lee") == []
    case = await d.case(key)
    assert (case.escalation_level, case.escalation_acked_at is not None) == (1, True)
    assert case.state == "replicating"  # escalation is a level, not a state
    # Still unhappy after the CSM: the next escalation goes to the lead.
    reply = await d.say("gus", f"/case escalate {key} Still nothing")
    assert reply.ok and reply.text == f"{key} is escalated to the support lead."
    assert of_kind(d.seen_by("lee"), Kind.ESCALATION_DM)


async def test_unacknowledged_escalation_goes_up_to_the_lead(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("gus", f"/case escalate {key} No progress")
    await d.advance("59m")
    assert d.seen_by("lee") == []
    await d.advance("1m")
    (dm,) = d.seen_by("lee")
    assert dm.kind == Kind.ESCALATION_DM and "as the support lead" in dm.text
    assert "not acknowledged by the CSM within 1h" in dm.text
    assert (await d.case(key)).escalation_level == 2
    # The lead acknowledges; the CSM's late ack is refused politely.
    assert (await d.say("lee", f"/case ack {key} On it")).ok
    late = await d.say("dana", f"/case ack {key}")
    assert not late.ok and "already acknowledged" in late.text
    await d.advance("1d")
    assert d.seen_by("lee") == []


async def test_csm_can_raise_severity_reassign_and_join_from_the_escalation(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("gus", f"/case escalate {key} No progress")
    assert (await d.press("dana", f"case:{key}:raise")).text == f"{key} severity is now S1."
    form = await d.press("dana", f"case:{key}:assign")
    assert form.prompt is not None and [o.value for o in form.prompt.fields[0].options] == [
        "alice",
        "bruno",
        "chiara",
        "lee",
    ]
    reply = await d.press("dana", f"case:{key}:assign", "bruno")
    assert reply.ok and reply.text == f"{key} is now assigned to Bruno Lindqvist."
    case = await d.case(key)
    assert (case.severity, case.assignee_id, case.state) == ("S1", "bruno", "replicating")
    assert f"{key} was reassigned to Bruno Lindqvist." in titles(d.seen_by("alice"))
    assert (await d.press("dana", f"case:{key}:join")).ok
    assert "Dana Whitfield joined " + key in titles(d.staff_thread(key))
    # The customer sees their CSM arrive, and the platform is asked to bring her in.
    joined = [m for m in d.customer_thread(key) if "joined" in m.title]
    assert [m.title for m in joined] == [f"Dana Whitfield (your CSM) joined {key}"]
    assert joined[0].mentions == ["dana"]


# -- resolution -----------------------------------------------------------------------


async def test_only_the_customer_closes_as_resolved(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("alice", f"/case propose {key} Rotate the secret")
    for who in ("alice", "lee", "dana"):
        reply = await d.press(who, f"case:{key}:confirm")
        assert not reply.ok, who
        assert reply.text == "`/case confirm` is not for you. Try `/case help`."
    assert (await d.case(key)).state == "solution_proposed"
    # Anyone of the customer's account may confirm.
    reply = await d.say("gina", f"/case confirm {key}")
    assert reply.ok and (await d.case(key)).state == "resolved"


async def test_reject_goes_back_to_the_engineer_with_the_reason(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("alice", f"/case propose {key} Rotate the secret")
    d.look_at_everything()
    form = await d.press("gus", f"case:{key}:reject")
    assert form.prompt is not None and form.prompt.form_id == f"reject:{key}"
    reply = await d.submit("gus", f"reject:{key}", {"reason": "Still 500 after rotating"})
    assert reply.ok and reply.text == f"Understood. {key} is back with its engineer."
    case = await d.case(key)
    assert (case.state, case.assignee_id, case.rejection_reason) == (
        "replicating",
        "alice",
        "Still 500 after rotating",
    )
    (ping,) = d.seen_by("alice")
    assert ping.title == f"Gus Hartmann rejected the resolution of {key}"
    assert ping.text == "Still 500 after rotating" and ping.mentions == ["alice"]
    assert d.customer_thread(key)[-1].text == "Back with your engineer after your answer."
    assert [t.state for t in await d.timers(key, "chase")] == ["cancelled"]


async def resolved_case(d: Dialog) -> str:
    key = await d.working_case()
    await d.say("alice", f"/case propose {key} Rotate the secret")
    await d.say("gus", f"/case confirm {key}")
    return key


async def test_reopen_within_the_window(db: Database) -> None:
    d = await start(db)
    key = await resolved_case(d)
    await d.advance("6d")
    d.look_at_everything()
    reply = await d.say("gina", f"/case reopen {key} It came back after the deploy")
    assert reply.ok and reply.text == f"{key} is reopened."
    case = await d.case(key)
    assert (case.state, case.assignee_id, case.resolved_at, case.close_reason) == (
        "replicating",
        "alice",
        None,
        None,
    )
    assert case.reopened_at == d.now
    (ping,) = d.seen_by("alice")
    assert ping.title == f"Gina Okafor reopened {key}" and ping.mentions == ["alice"]
    assert d.customer_thread(key)[-1].text == "Reopened: back with your engineer."


async def test_reopen_outside_the_window_is_refused(db: Database) -> None:
    d = await start(db)
    key = await resolved_case(d)
    await d.advance("7d")
    await d.advance("1m")
    before = await d.world()
    reply = await d.say("gus", f"/case reopen {key} It came back")
    assert not reply.ok
    assert reply.text == (
        f"{key} was resolved more than 7d ago and can't be reopened; please open a new case."
    )
    assert await d.world() == before


async def test_reopen_of_a_case_the_knowledge_base_solved_goes_back_to_triage(db: Database) -> None:
    d = await start(db)
    kb = await seed_articles(d)
    key = await d.open_case("gus", "Webhook 500 after token rotation", area="api")
    await d.press("gus", f"case:{key}:kb_accept:{kb}")
    await d.say("gus", f"/case reopen {key} The article did not help after all")
    case = await d.case(key)
    assert (case.state, case.assignee_id) == ("assigned", "alice")
    assert kinds(d.team_channel("platform"))[0] == Kind.TRIAGE_ALERT
    # Solved by the engineer this time: the article did not cover it, so a draft is due.
    await d.say("alice", f"/case propose {key} Re-register the webhook")
    await d.say("gus", f"/case confirm {key}")
    assert of_kind(d.seen_by("alice"), Kind.KB_DRAFT)


async def test_customer_can_withdraw(db: Database) -> None:
    d = await start(db)
    key = await d.working_case()
    await d.say("alice", f"/case need-info {key} Which region?")
    d.look_at_everything()
    reply = await d.say("gus", f"/case withdraw {key} yes")
    assert reply.ok and reply.text == (
        f"{key} is withdrawn and closed. Changed your mind? You can reopen it until "
        f"2026-11-09 09:00 UTC: `/case reopen {key} <reason>`."
    )
    case = await d.case(key)
    assert (case.state, case.close_reason) == ("closed", "withdrawn")
    # Asked first: without `yes` nothing changes.
    # No survey after a withdraw: the customer left before the work was done (issue #9).
    (status,) = d.customer_thread(key)
    assert status.text.startswith("Withdrawn by the customer. You can reopen it until")
    assert d.seen_by("alice")[0].title == f"{key} is closed at the customer's request"
    await d.advance("10bd")
    assert d.customer_thread(key) == []


async def test_engineer_closes_a_duplicate(db: Database) -> None:
    d = await start(db)
    first = await d.working_case()
    second = await d.open_case("gina", "Webhooks 500 too", area="api")
    d.look_at_everything()
    reply = await d.say("alice", f"/case duplicate {second} {first}")
    assert reply.ok and reply.text == f"{second} closed as a duplicate of {first}."
    case = await d.case(second)
    assert (case.state, case.close_reason, case.duplicate_of) == ("closed", "duplicate", first)
    (status,) = d.customer_thread(second)  # no survey for a duplicate
    assert status.text == f"Closed as a duplicate of {first}. Write on {first}, or open a new case."
    assert [e.kind for e in await d.timeline(first)][-1] == "duplicate_linked"


# -- knowledge write-back -------------------------------------------------------------


async def test_new_resolution_is_documented_in_the_knowledge_base(db: Database) -> None:
    d = await start(db)
    key = await d.working_case(
        "gus", "Webhook retries stop after an hour", description="Retries stop after 60 minutes."
    )
    await d.say("alice", f"/case propose {key} Raise the retry window in webhook settings")
    d.look_at_everything()
    await d.say("gus", f"/case confirm {key}")
    draft = of_kind(d.seen_by("alice"), Kind.KB_DRAFT)[0]
    assert draft.title == f"Draft knowledge-base article KB-1 from {key}"
    assert buttons(draft) == ["kb:KB-1:publish", "kb:KB-1:discard"]
    article = await d.article("KB-1")
    assert (article.status, article.source_case, article.area) == ("draft", key, "api")
    assert (article.symptoms, article.resolution) == (
        "Retries stop after 60 minutes.",
        "Raise the retry window in webhook settings",
    )
    # A draft is not suggested to customers.
    other = await d.open_case("ivy", "Webhook retries stop early", area="api")
    assert Kind.KB_SUGGESTIONS not in kinds(d.customer_thread(other))

    reply = await d.press("alice", "kb:KB-1:publish")
    assert reply.ok and reply.text.startswith(
        "KB-1 is published: customers will find it from now on. This is what they see:\n"
        "KB-1: Webhook retries stop after an hour\n"
    )
    third = await d.open_case("ian", "Webhook retries stop after a while", area="api")
    suggestions = of_kind(d.customer_thread(third), Kind.KB_SUGGESTIONS)[0]
    assert "KB-1 — Webhook retries stop after an hour" in suggestions.text
    found = await d.say("bruno", "/case kb search retry window")
    assert found.text.startswith("KB-1 — Webhook retries stop after an hour")


async def test_a_discarded_draft_is_never_suggested(db: Database) -> None:
    d = await start(db)
    key = await d.working_case("gus", "Webhook retries stop after an hour")
    await d.say("alice", f"/case propose {key} Raise the retry window")
    await d.say("gus", f"/case confirm {key}")
    assert (await d.press("alice", "kb:KB-1:discard")).ok
    assert (await d.article("KB-1")).status == "discarded"
    again = await d.press("alice", "kb:KB-1:publish")
    assert not again.ok and again.text == "KB-1 is discarded, not a draft."
    other = await d.open_case("ivy", "Webhook retries stop early", area="api")
    assert Kind.KB_SUGGESTIONS not in kinds(d.customer_thread(other))


async def test_one_draft_per_engineering_issue(db: Database) -> None:
    d = await start(db)
    one = await d.working_case("ivy", "Webhook signature check fails")
    two = await d.working_case("gus", "Webhooks rejected after rotation")
    await d.say("alice", f"/case defect {one} Webhook signature uses the old secret")
    await d.say("alice", f"/case link {two} ENG-1")
    await d.say("alice", "/case eng status ENG-1 fixed in 4.2")
    await d.say("ivy", f"/case confirm {one}")
    await d.say("gus", f"/case confirm {two}")
    drafts = of_kind(d.seen_by("alice"), Kind.KB_DRAFT)
    assert len(drafts) == 1
    article = await d.article("KB-1")
    assert (
        article.tags == ["ENG-1"]
        and article.cause == "Defect: Webhook signature uses the old secret"
    )


# -- survey and feedback --------------------------------------------------------------


async def test_survey_on_close_and_feedback_any_time(db: Database) -> None:
    d = await start(db)
    # Feedback before any case, from anyone.
    reply = await d.say("ivy", "/case feedback Your docs on webhooks are great")
    assert reply.ok
    (note,) = d.seen_by("lee")
    assert (note.kind, note.title, note.text) == (
        Kind.ALERT,
        "Feedback from Ivy Tanaka",
        "Your docs on webhooks are great",
    )

    key = await resolved_case(d)
    survey = d.customer_thread(key)[-1]
    assert survey.kind == Kind.SURVEY_PROMPT
    # "resolved", not "closed": it can still be reopened.
    assert survey.title == f"{key} is resolved. How happy are you with how we handled this case?"
    assert buttons(survey) == [f"case:{key}:rate:{n}" for n in range(1, 6)]
    reply = await d.press("gus", f"case:{key}:rate:2")
    assert reply.ok and reply.text == f"Thanks for rating {key} 2/5."
    assert reply.prompt is not None and reply.prompt.form_id == f"survey_comment:{key}"
    (alert,) = d.seen_by("dana")  # a low score alerts the account's CSM
    assert alert.kind == Kind.ALERT and alert.title.startswith(f"Low survey score on {key}: 2/5")
    reply = await d.submit("gus", f"survey_comment:{key}", {"comment": "Took too long"})
    assert reply.ok
    assert "Took too long" in [m.text for m in d.seen_by("dana")]
    again = await d.press("gina", f"case:{key}:rate:5")
    assert not again.ok and again.text == f"You've already rated {key} (2/5). Thank you!"
    # Feedback after the case too.
    assert (await d.say("gus", "/case feedback Thanks for the help anyway")).ok
    assert titles(d.seen_by("lee")) == ["Feedback from Gus Hartmann"]


async def test_survey_by_command_and_only_once(db: Database) -> None:
    d = await start(db)
    key = await resolved_case(d)
    reply = await d.say("gus", f"/case survey {key} 5 Quick and clear")
    assert reply.ok and reply.text == f"Thanks for rating {key} 5/5."
    assert d.seen_by("dana") == []  # a good score alerts nobody
    stats = (await d.say("lee", "/case stats")).text
    assert "Survey: 5.0/5 over 1 answer (response rate 100%)" in stats  # not "1 answers"
