"""ENG issues mirrored in Jira Cloud: created with REST API v3 on `defect`, status
transitions flowing back by its webhook (mapped by ``tracker.statuses``), impact as
labels — against a fake Jira REST API, with real signed deliveries over HTTP."""

from __future__ import annotations

from tests.trackers.conftest import Synced
from tests.trackers.fake_jira import FakeJira


async def logged(s: Synced, who: str = "ivy") -> str:
    key = await s.d.working_case(who, "Webhook signature check fails")
    reply = await s.d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    assert reply.ok, reply.text
    return key


async def test_a_defect_creates_the_jira_issue(sj: Synced, jira_fake: FakeJira) -> None:
    key = await logged(sj)
    (create,) = jira_fake.of("POST")
    fields = create.body["fields"]
    assert fields["project"] == {"key": "ENGX"}
    assert fields["issuetype"] == {"name": "Bug"}
    assert fields["summary"] == "Webhook signature uses the old secret"
    assert fields["labels"] == ["impact:2", "customers:1"]
    description = fields["description"]
    assert description["type"] == "doc" and description["version"] == 1
    texts = [p["content"][0]["text"] for p in description["content"]]
    assert "- accounts affected: 1" in texts and "- linked cases: 1" in texts
    told = f"ENG-1 is tracked as ENGX-1: {jira_fake.url}/browse/ENGX-1"
    assert told in [m.title for m in sj.d.staff_thread(key)]


async def test_done_in_jira_proposes_the_fix_and_reopening_takes_it_back(
    sj: Synced, jira_fake: FakeJira
) -> None:
    key = await logged(sj)
    status, answer = await sj.jira(jira_fake.transition("ENGX-1", "In Progress"))
    assert (status, answer["result"]) == (200, "ENG-1 is in_progress.")
    status, answer = await sj.jira(jira_fake.transition("ENGX-1", "Done"), delivery="w-7")
    assert answer["result"] == "ENG-1 is fixed; 1 linked case moved on."
    case = await sj.d.case(key)
    assert (case.state, case.proposed_resolution) == (
        "solution_proposed",
        "ENG-1 is now fixed, waiting for release.",  # the customer's words (disclosure)
    )
    # Re-delivered: one effect.
    before = await sj.d.world()
    status, answer = await sj.jira(jira_fake.transition("ENGX-1", "Done"), delivery="w-7")
    assert (status, answer["result"]) == (200, "duplicate")
    assert await sj.d.world() == before

    await sj.jira(jira_fake.transition("ENGX-1", "To Do"))
    assert (await sj.d.case(key)).state == "waiting_on_engineering"


async def test_a_bad_secret_is_refused(sj: Synced, jira_fake: FakeJira) -> None:
    key = await logged(sj)
    before = await sj.d.world()
    payload = jira_fake.transition("ENGX-1", "Done")
    assert (await sj.jira(payload, secret="guess"))[0] == 401
    assert (await sj.post("/webhooks/jira", b"{}", {}, query="?secret=guess"))[0] == 401
    assert await sj.d.world() == before
    assert (await sj.d.case(key)).state == "waiting_on_engineering"


async def test_an_unsigned_webhook_may_carry_the_secret_in_its_url(
    sj: Synced, jira_fake: FakeJira
) -> None:
    """Jira Automation's "Send web request" cannot sign: the secret rides in the URL."""
    import json

    key = await logged(sj)
    body = json.dumps(jira_fake.transition("ENGX-1", "Done")).encode()
    status, _ = await sj.post(
        "/webhooks/jira", body, {"Content-Type": "application/json"}, "?secret=jira-webhook-secret"
    )
    assert status == 200 and (await sj.d.case(key)).state == "solution_proposed"


async def test_jira_reconciliation_and_labels(sj: Synced, jira_fake: FakeJira) -> None:
    key = await logged(sj)
    two = await sj.d.working_case("gus", "Webhooks rejected after rotation")
    await sj.d.say("alice", f"/case link {two} ENGX-1")  # by Jira key: the same ENG-1
    jira_fake.transition("ENGX-1", "Done")  # the webhook is lost
    await sj.d.advance("15m")
    assert {(await sj.d.case(k)).state for k in (key, two)} == {"solution_proposed"}
    (put,) = jira_fake.of("PUT")
    assert put.body == {
        "update": {
            "labels": [
                {"remove": "impact:2"},
                {"remove": "customers:1"},
                {"add": "impact:14"},
                {"add": "customers:2"},
            ]
        }
    }
    assert jira_fake.issues["ENGX-1"]["fields"]["labels"] == ["impact:14", "customers:2"]
