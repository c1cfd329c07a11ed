"""ENG issues mirrored in GitHub Issues: created there on `defect`, their state flowing
back by signed webhooks (and by reconciliation when one is lost), their priority by
customer impact pushed as labels — against a fake GitHub REST API, with real signed
deliveries over HTTP."""

from __future__ import annotations

from sqlalchemy import select

from adapters.trackers.github import GitHubTracker
from bot.messages import Kind
from storage.db import Database
from storage.models import OutboxRow, Timer
from storage.trackers import TrackerLink
from tests.trackers.conftest import GITHUB_SECRET, Synced, github_tracker, synced
from tests.trackers.fake_github import TOKEN, FakeGitHub


async def logged(s: Synced, who: str = "ivy", title: str = "Webhook signature check fails") -> str:
    key = await s.d.working_case(who, title)
    reply = await s.d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    assert reply.ok, reply.text
    return key


async def test_a_defect_creates_the_github_issue_and_staff_see_its_link(
    s: Synced, gh: FakeGitHub
) -> None:
    key = await logged(s)
    (create,) = gh.of("POST", "/repos/acme/widgets/issues")
    assert create.auth == "token ghp_fake_token"
    assert create.body["title"] == "Webhook signature uses the old secret"
    assert create.body["labels"] == ["impact:2", "customers:1"]
    body = create.body["body"]
    assert "accounts affected: 1" in body and "worst severity: S3" in body
    assert "tiers: standard" in body and "linked cases: 1" in body
    # No customer's name or words leave casebot without share_customer_text.
    assert "Initech" not in body and "initech" not in body and "Webhook signature check" not in body

    url = "https://github.com/acme/widgets/issues/101"
    told = f"ENG-1 is tracked as acme/widgets#101: {url}"
    assert told in [m.title for m in s.d.team_channel("engineering")]
    assert told in [m.title for m in s.d.staff_thread(key)]
    assert all(url not in m.plain() for m in s.d.customer_thread(key))
    shown = (await s.d.say("alice", "/case eng show ENG-1")).text
    assert f"Tracker: acme/widgets#101 {url}" in shown
    assert "Tracker" not in (await s.d.say("ivy", "/case eng show ENG-1")).text


async def test_closing_on_github_proposes_the_fix_on_every_linked_case(
    s: Synced, gh: FakeGitHub
) -> None:
    one = await logged(s)
    two = await s.d.working_case("gus", "Webhooks rejected after rotation")
    assert (await s.d.say("alice", f"/case link {two} ENG-1")).ok
    s.d.look_at_everything()

    status, answer = await s.github("issues", gh.close(101), delivery="d-1")
    assert (status, answer["result"]) == (200, "ENG-1 is fixed; 2 linked cases moved on.")
    for key in (one, two):
        case = await s.d.case(key)
        # Exactly what `/case eng status ENG-1 fixed` does.
        assert (case.state, case.proposed_resolution) == (
            "solution_proposed",
            "ENG-1 is now fixed, waiting for release.",  # the customer's words (disclosure)
        )
        thread = s.d.customer_thread(key)
        assert Kind.RESOLUTION_PROPOSAL in [m.kind for m in thread]
        assert all("github" not in m.plain().lower() for m in thread)
        assert [t.state for t in await s.d.timers(key, "chase")][-1] == "pending"

    # GitHub delivers the same event again: one effect.
    before = await s.d.world()
    status, answer = await s.github("issues", gh.event("closed", 101), delivery="d-1")
    assert (status, answer["result"]) == (200, "duplicate")
    assert await s.d.world() == before


async def test_reopening_on_github_sends_the_cases_back_to_waiting_on_engineering(
    s: Synced, gh: FakeGitHub
) -> None:
    key = await logged(s)
    await s.github("issues", gh.close(101))
    assert (await s.d.case(key)).state == "solution_proposed"
    s.d.look_at_everything()

    status, answer = await s.github("issues", gh.reopen(101))
    assert status == 200 and answer["result"] == "ENG-1 is open; 1 linked case moved on."
    case = await s.d.case(key)
    assert (case.state, case.proposed_resolution) == ("waiting_on_engineering", None)
    assert {t.state for t in await s.d.timers(key, "chase")} == {"cancelled"}
    (told, status_msg) = s.d.customer_thread(key)[-2:]
    assert "ENG-1 is now logged with our engineers" in told.text  # the customer's words
    assert "reopened" in status_msg.text
    # The customer can no longer confirm a fix that did not hold.
    refused = await s.d.say("ivy", f"/case confirm {key}")
    assert not refused.ok


async def test_a_bad_signature_is_refused_and_changes_nothing(s: Synced, gh: FakeGitHub) -> None:
    key = await logged(s)
    before = await s.d.world()
    payload = gh.close(101)
    assert (await s.github("issues", payload, secret="not-the-secret"))[0] == 401
    body = b'{"action": "closed"}'
    assert (await s.post("/webhooks/github", body, {"X-GitHub-Event": "issues"}))[0] == 401
    import hashlib
    import hmac

    sha1 = "sha1=" + hmac.new(b"gh-webhook-secret", body, hashlib.sha1).hexdigest()
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature": sha1}
    assert (await s.post("/webhooks/github", body, headers))[0] == 401
    assert await s.d.world() == before
    assert (await s.d.case(key)).state == "waiting_on_engineering"


async def test_an_unknown_issue_is_ignored(s: Synced, gh: FakeGitHub) -> None:
    await logged(s)
    gh.add_issue(55, "Something engineering tracks on its own")
    before = await s.d.world()
    status, answer = await s.github("issues", gh.close(55))
    assert (status, answer["result"]) == (200, "unknown issue")
    # Only the delivery's own id is new.
    after = await s.d.world()
    assert {k: v for k, v in after.items() if v != before[k]} == {}


async def test_github_down_never_blocks_the_case_and_the_issue_follows_later(
    s: Synced, gh: FakeGitHub
) -> None:
    gh.down = True
    key = await logged(s)
    assert (await s.d.case(key)).state == "waiting_on_engineering"
    assert gh.issues == {} and len(gh.of("POST")) == 1
    async with s.d.bot.db.read() as session:
        row = (
            await session.scalars(select(OutboxRow).where(OutboxRow.platform == "tracker"))
        ).one()
        assert (row.state, row.attempts) == ("pending", 1)
        assert "503" in (row.last_error or "")
    # The case goes on meanwhile.
    assert (await s.d.say("alice", f"/case note {key} waiting on the fix")).ok

    gh.down = False
    await s.d.advance("5m")
    assert [i["title"] for i in gh.issues.values()] == ["Webhook signature uses the old secret"]
    assert len(gh.of("POST", "/issues")) == 2  # the failed attempt and the one that worked
    await s.d.advance("1h")
    assert len(gh.of("POST", "/issues")) == 2  # never created twice


async def test_a_rate_limit_is_waited_out(s: Synced, gh: FakeGitHub) -> None:
    gh.rate_limit(1)
    await logged(s)
    assert gh.issues == {}
    await s.d.advance("10s")
    assert gh.issues == {} and len(gh.of("POST")) == 1  # not before X-RateLimit-Reset
    await s.d.advance("30s")
    assert len(gh.issues) == 1


async def test_reconciliation_catches_a_missed_webhook(s: Synced, gh: FakeGitHub) -> None:
    key = await logged(s)
    gh.close(101)  # the webhook never arrives
    await s.d.advance("10m")
    assert (await s.d.case(key)).state == "waiting_on_engineering"
    await s.d.advance("5m")
    assert (await s.d.case(key)).state == "solution_proposed"
    # Reconciliation goes on, and reads without effect when nothing changed.
    gets = len(gh.of("GET"))
    before = await s.d.world()
    await s.d.advance("15m")
    assert len(gh.of("GET")) == gets + 1
    after = await s.d.world()
    # Only the bookkeeping moved: the next reconciliation, the call that was made.
    assert {k for k in after if after[k] != before[k]} == {"timers", "outbox"}
    async with s.d.bot.db.read() as session:
        pending = (
            await session.scalars(
                select(Timer).where(Timer.kind == "tracker.reconcile", Timer.state == "pending")
            )
        ).all()
    assert len(pending) == 1


async def test_linking_by_url_or_reference_adopts_the_github_issue(
    s: Synced, gh: FakeGitHub
) -> None:
    gh.add_issue(7, "Export times out for large accounts")
    one = await s.d.working_case("ivy", "Export never finishes")
    reply = await s.d.say("alice", f"/case link {one} https://github.com/acme/widgets/issues/7")
    assert reply.ok, reply.text
    assert reply.text.startswith(f"Linked {one} to ENG-1")
    assert (await s.d.case(one)).state == "waiting_on_engineering"
    shown = (await s.d.say("alice", "/case eng show ENG-1")).text.splitlines()
    assert shown[0] == "ENG-1 [defect] Export times out for large accounts"  # GitHub's title
    assert "Tracker: acme/widgets#7 https://github.com/acme/widgets/issues/7" in shown
    assert gh.of("POST", "/issues") == []  # adopted, not created

    two = await s.d.working_case("gus", "Export is slow")
    reply = await s.d.say("alice", f"/case link {two} acme/widgets#7")
    assert reply.ok and reply.text.startswith(f"Linked {two} to ENG-1")
    # Engineering closes it: both cases get the fix to confirm.
    await s.github("issues", gh.close(7))
    assert {(await s.d.case(k)).state for k in (one, two)} == {"solution_proposed"}


async def test_linking_to_something_that_is_no_issue_is_refused(s: Synced) -> None:
    key = await s.d.working_case("ivy", "Export never finishes")
    before = await s.d.world()
    reply = await s.d.say("alice", f"/case link {key} https://example.com/whatever")
    assert not reply.ok
    assert reply.text.startswith("'https://example.com/whatever' is not a GitHub issue")
    assert await s.d.world() == before


async def test_impact_labels_are_throttled_and_coalesced(s: Synced, gh: FakeGitHub) -> None:
    await logged(s)
    assert gh.labels_of(101) == ["impact:2", "customers:1"]
    gh.issues[101]["labels"].append(gh._label("needs-triage"))  # an engineer's own label
    # Two more accounts' cases are linked within the minute.
    for who, title, engineer in (
        ("gus", "Webhooks rejected", "alice"),
        ("gina", "Signature mismatch", "bruno"),
    ):
        key = await s.d.working_case(who, title, engineer)
        assert (await s.d.say(engineer, f"/case link {key} ENG-1")).ok
    label_calls = [c for c in gh.calls if "/labels" in c.path]
    assert label_calls == []  # not yet: at most one update a minute
    await s.d.advance("1m")
    label_calls = [c for c in gh.calls if "/labels" in c.path]
    assert [(c.verb, c.path.rsplit("/", 1)[-1]) for c in label_calls] == [
        ("DELETE", "impact:2"),
        ("DELETE", "customers:1"),
        ("POST", "labels"),
    ]
    shown = (await s.d.say("alice", "/case eng show ENG-1")).text
    assert "Priority: 14 (2 accounts, 3 open cases)" in shown
    assert sorted(gh.labels_of(101)) == ["customers:2", "impact:14", "needs-triage"]
    await s.d.advance("5m")
    assert len([c for c in gh.calls if "/labels" in c.path]) == 3  # nothing changed since
    async with s.d.bot.db.read() as session:
        link = (await session.scalars(select(TrackerLink))).one()
        assert (link.labels, link.labels_due) == ("impact:14 customers:2", None)


async def test_closed_as_not_planned_is_wont_fix(s: Synced, gh: FakeGitHub) -> None:
    key = await logged(s)
    status, answer = await s.github("issues", gh.close(101, reason="not_planned"))
    assert answer["result"] == "ENG-1 is wont_fix; 1 linked case moved on."
    assert (await s.d.case(key)).state == "replicating"  # back with its engineer


async def test_a_status_set_in_casebot_is_not_undone_by_a_tracker_that_has_not_moved(
    s: Synced, gh: FakeGitHub
) -> None:
    key = await logged(s)
    assert (await s.d.say("lee", "/case eng status ENG-1 fixed hotfix deployed")).ok
    assert (await s.d.case(key)).state == "solution_proposed"
    # The GitHub issue is still open: reconciliation and a label event change nothing.
    await s.d.advance("15m")
    status, answer = await s.github("issues", gh.event("labeled", 101))
    assert answer["result"] == "no change"
    assert (await s.d.case(key)).state == "solution_proposed"
    # Closing it on GitHub later agrees with casebot: nothing more happens.
    status, answer = await s.github("issues", gh.close(101))
    assert answer["result"] == "no change"
    # Reopening it there is news: the proposal is taken back.
    await s.github("issues", gh.reopen(101))
    assert (await s.d.case(key)).state == "waiting_on_engineering"


async def test_comments_reach_the_engineering_channel_and_labels_can_mean_a_status(
    sc: Synced, gh: FakeGitHub
) -> None:
    key = await logged(sc)
    sc.d.look_at_everything()
    payload = gh.event("created", 101)
    payload["comment"] = {
        "id": 9,
        "body": "Root cause found: @channel the key rotation job",
        "user": {"login": "octocat", "id": 1},
    }
    status, answer = await sc.github("issue_comment", payload)
    assert (status, answer["result"]) == (200, "posted")
    (posted,) = sc.d.team_channel("engineering")
    assert posted.title == "octocat commented on ENG-1 (acme/widgets#101)"
    assert posted.text == "Root cause found: @channel the key rotation job"  # escaped by adapters
    assert sc.d.customer_thread(key) == []  # never to customers

    gh.issues[101]["labels"].append(gh._label("in progress"))
    status, answer = await sc.github("issues", gh.event("labeled", 101))
    assert answer["result"] == "ENG-1 is in_progress."
    assert "ENG-1 is now being worked on" in sc.d.customer_thread(key)[-1].text


async def test_customer_text_is_shared_only_when_configured(db: Database, gh: FakeGitHub) -> None:
    tracker = github_tracker(share_customer_text=True)
    adapter = GitHubTracker(tracker, TOKEN, gh.url)
    async for shared in synced(db, tracker, adapter, {"GITHUB_WEBHOOK_SECRET": GITHUB_SECRET}):
        key = await logged(shared)
        (create,) = gh.of("POST", "/repos/acme/widgets/issues")
        assert f"- {key} (Initech, S3): Webhook signature check fails" in create.body["body"]


async def test_two_reconcilers_started_at_once_collapse_into_one(s: Synced, gh: FakeGitHub) -> None:
    await logged(s)
    async with s.d.bot.units.work() as w:  # a second worker started at the same moment
        w.schedule("tracker.reconcile", s.d.now)
    await s.d.advance("15m")
    await s.d.advance("15m")
    async with s.d.bot.db.read() as session:
        pending = (
            await session.scalars(
                select(Timer).where(Timer.kind == "tracker.reconcile", Timer.state == "pending")
            )
        ).all()
    assert len(pending) == 1
