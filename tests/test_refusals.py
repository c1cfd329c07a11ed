"""What casebot refuses: the wrong person, the wrong state, things that don't exist,
malformed arguments, unknown people, re-delivered events. Every refusal is a clear
message and changes nothing (the whole database is compared before and after).

Also here: nothing a user types can mention anyone (the core never builds platform
mention syntax, and only puts configured person ids it chose into ``mentions``).
"""

from __future__ import annotations

from typing import Any

from bot.messages import Kind
from storage.db import Database
from tests.harness import Dialog


async def refused(
    d: Dialog, who: str, command: str, before: dict[str, list[tuple[Any, ...]]] | None = None
) -> str:
    """Run ``/case command`` (or a button, ``press <id> [value]``, a form, ``submit <form
    id> <value>``, or a message in a case thread, ``thread <key> <text>``), which must be
    refused and change nothing; returns the refusal. ``before``: the database as it must
    still be (taken now when not given)."""
    if before is None:
        before = await d.world()
    delivered = len(d.platform.deliveries)
    if command.startswith("press "):
        _, action, *value = command.split(" ", 2)
        reply = await d.press(who, action, value[0] if value else None)
    elif command.startswith("submit "):
        _, form_id, value = command.split(" ", 2)
        name = {
            "reject": "reason",
            "escalate": "reason",
            "assign": "person",
            "area": "area",
            "severity": "severity",
            "survey_comment": "comment",
        }[form_id.split(":")[0]]
        reply = await d.submit(who, form_id, {name: value})
    elif command.startswith("thread "):
        _, key, text = command.split(" ", 2)
        result = await d.write_in_thread(who, key, text, purpose="customer")
        assert result is not None, command
        reply = result
    else:
        reply = await d.say(who, "/case " + command)
    assert not reply.ok, (who, command, reply.text)
    assert reply.prompt is None, (who, command)
    assert await d.world() == before, (who, command, reply.text)
    assert len(d.platform.deliveries) == delivered, (who, command)
    return reply.text


async def gus_case(d: Dialog) -> str:
    """A Globex case (Gus's), worked by Alice, with a resolution proposed."""
    key = await d.working_case("gus")
    await d.say("alice", f"/case propose {key} Rotate the secret")
    return key


# -- the wrong person -----------------------------------------------------------------

# What a customer of another account might try on a Globex case. Each must be answered
# exactly as if the case did not exist.
FOREIGN_CUSTOMER = [
    "show {k}",
    "reply {k} hello",
    "confirm {k}",
    "reject {k} nope",
    "escalate {k} slow",
    "withdraw {k}",
    "reopen {k} again",
    "survey {k} 1",
    "show {k_lower}",
    "press case:{k}:confirm",
    "press case:{k}:reject",
    "press case:{k}:escalate",
    "press case:{k}:kb_reject",
    "press case:{k}:kb_accept:KB-1",
    "press case:{k}:rate:1",
    "press case:{k}:raise",
    "press case:{k}:join",
    "press case:{k}:assign",
    "press case:{k}:ack",
    "press case:{k}:claim",
    "thread {k} is this my case?",
    "submit survey_comment:{k} bad",
    "submit reject:{k} no",
    "submit escalate:{k} slow",
    "submit assign:{k} bruno",
    "submit severity:{k} S1",
    "submit area:{k} install",
]


async def test_a_customer_of_another_account_does_not_learn_the_case_exists(db: Database) -> None:
    d = await Dialog.start(db)
    key = await gus_case(d)
    world = await d.world()
    for command in FOREIGN_CUSTOMER:
        if command.startswith("thread "):
            continue  # below: a missing case has no thread to write in
        real = await refused(d, "ivy", command.format(k=key, k_lower=key.lower()), world)
        missing = await refused(d, "ivy", command.format(k="CASE-99", k_lower="case-99"), world)
        assert real.replace(key, "CASE-n") == missing.replace("CASE-99", "CASE-n"), command
    # Their own list and search show nothing of it either.
    listing = (await d.say("ivy", "/case list")).text
    assert key not in listing and listing == "No cases."
    complete = await d.bot.commands.autocomplete(d.ctx("ivy"), "")
    assert complete == []
    home = await d.home("ivy")
    assert all(not items for _, items in home.sections)
    # Writing in the thread of Gus's case (as if they could see it) changes nothing.
    text = await refused(d, "ivy", f"thread {key} is this my case?")
    assert text == f"There is no case {key}."


CUSTOMER_TRIES_STAFF_WORK = [
    "claim {k}",
    "assign {k} alice",
    "area {k} install",
    "severity {k} S1",
    "replicating {k}",
    "need-info {k} why?",
    "propose {k} fixed",
    "defect {k} bug",
    "enhancement {k} idea",
    "link {k} ENG-1",
    "note {k} secret",
    "called {k} reached",
    "duplicate {k} CASE-1",
    "eng list",
    "eng status ENG-1 fixed",
    "kb search webhook",
    "kb publish KB-1",
    "ack {k}",
    "queue",
    "stats",
]


async def test_a_customer_cannot_do_staff_work(db: Database) -> None:
    d = await Dialog.start(db)
    key = await gus_case(d)
    world = await d.world()
    for command in CUSTOMER_TRIES_STAFF_WORK:
        name = command.split()[0]
        text = await refused(d, "gus", command.format(k=key), world)
        assert text == f"`/case {name}` is not for you. Try `/case help`.", command
    for button in ("claim", "replicating", "called:reached", "ack"):
        await refused(d, "gus", f"press case:{key}:{button}")
    text = await refused(d, "gus", f"press case:{key}:raise")
    assert text == "`/case raise` is not for you. Try `/case help`."
    text = await refused(d, "gus", "press kb:KB-1:publish")
    assert text == "`/case kb` is not for you. Try `/case help`."
    help_ = (await d.say("gus", "/case help")).text
    assert "claim" not in help_ and "`/case confirm CASE-n`" in help_


async def test_an_engineer_cannot_work_another_engineers_case(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus")
    for command in (
        "replicating {k}",
        "need-info {k} why?",
        "propose {k} fixed",
        "defect {k} bug",
        "called {k} reached",
        "claim {k}",
    ):
        text = await refused(d, "bruno", command.format(k=key))
        assert key in text
    assert (await refused(d, "bruno", f"need-info {key} why?")) == (
        f"{key} is assigned to someone else; ask them or the lead to reassign it."
    )
    # The lead may work any case; a colleague may still reply and note.
    assert (await d.say("lee", f"/case need-info {key} Which region?")).ok
    assert (await d.say("bruno", f"/case note {key} Seen this before")).ok


async def test_a_csm_handles_only_their_own_accounts(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("ivy")  # Initech: its CSM is the lead, not Dana
    await d.say("ivy", f"/case escalate {key} Too slow")
    assert (await d.case(key)).escalation_level == 1
    text = await refused(d, "dana", f"ack {key}")
    assert text == f"{key} belongs to an account you don't look after."
    await refused(d, "dana", f"press case:{key}:ack")
    await refused(d, "dana", f"severity {key} S1")
    await refused(d, "dana", f"assign {key} bruno")
    await refused(d, "dana", f"press case:{key}:raise")
    # The CSM role has no engineer commands at all.
    for command in ("claim {k}", "replicating {k}", "propose {k} x", "eng list"):
        await refused(d, "dana", command.format(k=key))
    assert (await d.say("lee", f"/case ack {key} Looking")).ok


async def test_ack_without_an_escalation(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus")
    assert await refused(d, "dana", f"ack {key}") == f"{key} is not escalated."


# -- things that do not exist -----------------------------------------------------------


async def test_unknown_case_eng_issue_and_article(db: Database) -> None:
    d = await Dialog.start(db)
    await d.working_case("gus")
    assert await refused(d, "gus", "show CASE-42") == "There is no case CASE-42."
    assert await refused(d, "alice", "claim case-42") == "There is no case CASE-42."
    assert await refused(d, "alice", "link CASE-1 ENG-7") == "There is no engineering issue ENG-7."
    assert await refused(d, "alice", "eng show ENG-7") == "There is no engineering issue ENG-7."
    # A customer is told what they may follow, whether ENG-7 exists or not.
    assert await refused(d, "gus", "follow ENG-7") == (
        "ENG-7 is not one you can see or follow: you can see and follow the engineering "
        "issues your account's cases are linked to, and none of them is linked to one yet."
    )
    assert await refused(d, "alice", "kb publish KB-7") == (
        "There is no knowledge-base article KB-7."
    )
    assert await refused(d, "alice", "press kb:KB-7:discard") == (
        "There is no knowledge-base article KB-7."
    )
    assert await refused(d, "alice", "duplicate CASE-1 CASE-9") == "There is no case CASE-9."
    # An article that was never suggested for the case.
    await d.add_article("Something else entirely", "nothing", "nothing")
    assert await refused(d, "gus", "press case:CASE-1:kb_accept:KB-1") == (
        "KB-1 was not suggested for CASE-1."
    )


async def test_an_eng_issue_of_another_account_looks_like_no_issue(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus")
    await d.say("alice", f"/case defect {key} Webhook signature uses the old secret")
    real = await refused(d, "ivy", "follow ENG-1")
    missing = await refused(d, "ivy", "follow ENG-9")
    assert real.replace("ENG-1", "ENG-n") == missing.replace("ENG-9", "ENG-n")
    assert (await d.say("gina", "/case follow ENG-1")).ok  # Globex: linked


# -- malformed arguments ----------------------------------------------------------------

MALFORMED = [
    ("gus", "show", "Usage: `/case show CASE-n`"),
    ("gus", "reply", "Usage: `/case reply CASE-n <text>`"),
    ("gus", "reply {k}", "Nothing to send: `/case reply {k} <text>`."),
    ("gus", "show banana", "'banana' is not a CASE key (they look like CASE-12)."),
    ("gus", "show CASE-", "'CASE-' is not a CASE key (they look like CASE-12)."),
    ("gus", "show ENG-1", "'ENG-1' is not a CASE key (they look like CASE-12)."),
    ("gus", "survey {k}", "Usage: `/case survey CASE-n <1-5> [comment]`"),
    ("gus", "reject {k}", "Please say why it doesn't solve it: `/case reject {k} <reason>`."),
    ("alice", "propose {k}", "Say what the resolution is: `/case propose {k} <resolution>`."),
    ("alice", "need-info {k}", "Say what you need: `/case need-info {k} <question>`."),
    ("alice", "defect {k}", "Give the defect a title: `/case defect {k} <title>`."),
    ("alice", "note {k}", "Nothing to note: `/case note {k} <text>`."),
    ("alice", "severity {k} S9", "'S9' is not a severity: use S1 (highest) to S4."),
    ("alice", "severity {k} high", "'high' is not a severity: use S1 (highest) to S4."),
    (
        "alice",
        "area {k} mainframe",
        "There is no product area 'mainframe' (known: api, install, dashboards, billing).",
    ),
    ("alice", "assign {k} zed", "I don't know anyone called 'zed'."),
    ("alice", "assign {k} <@U404>", "I don't know who <@U404> is."),
    ("alice", "assign {k} dana", "'dana' is not an engineer."),
    ("alice", "assign {k} alice", "{k} is already assigned to Alice Romano."),
    (
        "alice",
        "called {k} maybe",
        "Say `reached` or `not-reached`: `/case called {k} reached [note]`.",
    ),
    ("alice", "duplicate {k} {k}", "A case can't be a duplicate of itself."),
    (
        "alice",
        "eng status ENG-1",
        "Usage: `/case eng status ENG-n <open|in_progress|fixed|released|wont_fix> [note] "
        "[--public]`",
    ),
    (
        "alice",
        "eng frob",
        "Usage: `/case eng list`, `/case eng show ENG-n`, "
        "`/case eng status ENG-n <open|in_progress|fixed|released|wont_fix> [note] [--public]`",
    ),
    (
        "alice",
        "kb",
        "Usage: `/case kb search <words>`, `/case kb drafts`, `/case kb show KB-n`, "
        "`/case kb edit KB-n <title|symptoms|cause|resolution> <text>`, "
        "`/case kb publish KB-n`, `/case kb discard KB-n`, `/case kb accept CASE-n KB-n`, "
        "`/case kb reject CASE-n`",
    ),
    ("alice", "kb search", "Search for something: `/case kb search <words>`."),
    ("gus", "feedback", "Tell us what you think: `/case feedback <text>`."),
    ("gus", "frobnicate {k}", "I don't know `/case frobnicate`. Try `/case help`."),
    ("alice", "press case:{k}:explode", "That button is not one of mine."),
    ("alice", "press slack:whatever", "That button is not one of mine."),
    ("alice", "press eng:ENG-1:delete", "That button is not one of mine."),
]


async def test_malformed_arguments(db: Database) -> None:
    d = await Dialog.start(db)
    key = await gus_case(d)
    await d.say("gus", f"/case reject {key} Not yet")  # back to replicating, with Alice
    world = await d.world()
    for who, command, expected in MALFORMED:
        text = await refused(d, who, command.format(k=key), world)
        assert text == expected.format(k=key), command


async def test_bad_survey_ratings(db: Database) -> None:
    d = await Dialog.start(db)
    key = await gus_case(d)
    await d.say("gus", f"/case confirm {key}")
    for rating in ("0", "6", "-1"):
        assert await refused(d, "gus", f"survey {key} {rating}") == (
            "The rating is a number from 1 to 5."
        )
    for rating in ("great", "4.5"):
        assert await refused(d, "gus", f"survey {key} {rating}") == (
            "The rating is a number from 1 to 5: `/case survey CASE-n <1-5> [comment]`."
        )
    await refused(d, "gus", f"press case:{key}:rate:9")
    await refused(d, "gus", f"press case:{key}:rate:x")


async def test_open_form_errors_are_reported_per_field(db: Database) -> None:
    d = await Dialog.start(db)
    before = await d.world()
    reply = await d.submit("gus", "open", {"title": "", "area": "mainframe", "impact": "meh"})
    assert not reply.ok
    assert reply.errors == {
        "title": "Give the case a title.",
        "area": "There is no product area 'mainframe' (known: api, install, dashboards, billing).",
        "impact": "There is no impact 'meh' (known: production_down, degraded, blocked, question).",
    }
    reply = await d.submit("gus", "open", {"title": "x" * 201})
    assert reply.errors == {"title": "The title is 201 characters; keep it under 200."}
    assert await refused(d, "gus", "open " + "x" * 201) == (
        "The title is 201 characters; keep it under 200."
    )
    assert await refused(d, "alice", "open My own case") == (
        "`/case open` is not for you. Try `/case help`."
    )
    form = await d.say("alice", "/case")
    assert not form.ok and form.prompt is None
    assert await d.world() == before


# -- unknown people and re-delivered events -------------------------------------------------


async def test_unknown_person_on_the_platform(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus")
    expected = (
        "Sorry, I don't know you yet. Ask your company's support contact to add "
        "you to casebot, then try again."
    )
    for command in (
        "help",
        "list",
        "open Let me in",
        f"show {key}",
        f"confirm {key}",
        "feedback hi",
        f"press case:{key}:claim",
    ):
        assert await refused(d, "mallory", command) == expected, command
    home = await d.home("mallory")
    assert not home.known and home.sections == []
    assert await d.write_in_thread("mallory", key, "hello") is not None
    assert (await d.case(key)).state == "replicating"


async def test_the_same_event_twice_has_one_effect(db: Database) -> None:
    d = await Dialog.start(db)
    first = await d.say("gus", "/case open Webhook endpoint returns 500", event_id="evt-1")
    again = await d.say("gus", "/case open Webhook endpoint returns 500", event_id="evt-1")
    assert first.ok and not first.duplicate
    assert again.duplicate and again.text == "Already done."
    assert len((await d.world())["cases"]) == 1
    assert len([m for m in d.customer_thread("CASE-1") if m.kind == Kind.CASE_OPENED]) == 1

    await d.say("alice", "/case replicating CASE-1")
    before = await d.world()
    await d.say("alice", "/case need-info CASE-1 Which region?", event_id="evt-2")
    after = await d.world()
    d.look_at_everything()
    again = await d.say("alice", "/case need-info CASE-1 Which region?", event_id="evt-2")
    assert again.duplicate
    assert await d.world() == after != before
    assert d.customer_thread("CASE-1") == []
    # A button pressed twice (a platform retry) too.
    await d.say("gus", "/case reply CASE-1 eu-west-1")
    await d.say("alice", "/case propose CASE-1 Rotate the secret")
    assert (await d.press("gus", "case:CASE-1:confirm", event_id="evt-3")).ok
    after = await d.world()
    assert (await d.press("gus", "case:CASE-1:confirm", event_id="evt-3")).duplicate
    assert await d.world() == after
    # A refused event leaves no mark: once allowed, the same id does its work.
    assert not (await d.say("ivy", "/case feedback", event_id="evt-4")).ok
    assert (await d.say("ivy", "/case feedback Fine", event_id="evt-4")).ok


# -- user text never mentions anyone ------------------------------------------------------

HOSTILE = [
    "@everyone",
    "@here",
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U1ALICE>",
    "<@&1200000000000000401>",
    "<#C1PLATFORM>",
    "@alice",
]
SHOUT = " ".join(HOSTILE)


async def test_user_text_never_becomes_a_mention(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.open_case("gus", f"Help {SHOUT}", area="api", description=f"Please {SHOUT} look")
    await d.say("gus", f"/case reply {key} {SHOUT}")
    await d.say("alice", f"/case replicating {key}")
    await d.say("alice", f"/case need-info {key} {SHOUT}")
    await d.write_in_thread("gina", key, SHOUT)
    await d.say("alice", f"/case note {key} {SHOUT}")
    await d.say("alice", f"/case propose {key} {SHOUT}")
    await d.say("gus", f"/case reject {key} {SHOUT}")
    await d.say("gus", f"/case escalate {key} {SHOUT}")
    await d.say("alice", f"/case defect {key} {SHOUT}")
    await d.say("lee", f"/case eng status ENG-1 fixed {SHOUT}")
    await d.say("gus", f"/case confirm {key}")
    await d.say("gus", f"/case survey {key} 1 {SHOUT}")
    await d.say("ivy", f"/case feedback {SHOUT}")
    people = {p.id for p in d.config.people}
    messages = [x.message for x in d.platform.deliveries]
    assert len(messages) > 30
    for m in messages:
        assert set(m.mentions) <= people, m
    # Every ping is one the core meant: a person it is addressing directly.
    for m in messages:
        assert all(m.target.id == pid for pid in m.mentions), m
    # The text itself passes through untouched (escaping is each adapter's job).
    assert f"Help {SHOUT}" in [m.title.split(": ", 1)[-1] for m in messages]
    assert SHOUT in [m.text for m in messages]


async def test_the_core_writes_no_mention_syntax_of_its_own(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus", "Webhook endpoint returns 500")
    await d.say("alice", f"/case need-info {key} Which region?")
    for step in ("1bd", "2bd", "1bd"):
        await d.advance(step)
    await d.say("gus", f"/case reply {key} eu-west-1")
    await d.say("gus", f"/case escalate {key} slow")
    await d.advance("1h")
    await d.say("alice", f"/case defect {key} Webhook signature")
    await d.say("alice", "/case eng status ENG-1 fixed")
    await d.say("gus", f"/case confirm {key}")
    await d.say("gus", f"/case survey {key} 1 meh")
    assert len(d.platform.deliveries) > 25
    for x in d.platform.deliveries:
        m = x.message
        words = [m.title, m.text, *(f.value for f in m.fields), *(a.label for a in m.actions)]
        for w in words:
            for token in ("<@", "<!", "<#", "@everyone", "@here", "@channel"):
                assert token not in w, (token, w)


async def test_a_hostile_title_is_kept_verbatim(db: Database) -> None:
    d = await Dialog.start(db)
    for n, title in enumerate(["<@U1ALICE> please", "@everyone down!"], 1):
        reply = await d.say("gus", f"/case open {title}")
        assert reply.ok
        assert (await d.case(f"CASE-{n}")).title == title
        opened = d.customer_thread(f"CASE-{n}")[0]
        assert opened.title == f"CASE-{n} opened: {title}" and opened.mentions == []


# -- the wrong state, beyond the transition table -------------------------------------------


async def test_buttons_left_on_old_messages_change_nothing(db: Database) -> None:
    d = await Dialog.start(db)
    kb = await d.add_article(
        "Webhook deliveries fail with HTTP 500 after token rotation",
        "After rotating an API token every webhook delivery fails.",
    )
    key = await d.open_case("gus", "Webhook 500 after token rotation", area="api")
    await d.press("gus", f"case:{key}:kb_reject")
    await d.say("alice", f"/case replicating {key}")
    # The suggestions' buttons once work has started: refused, nothing recorded.
    text = await refused(d, "gus", f"press case:{key}:kb_accept:{kb}")
    assert text.startswith(
        f"{key} is being replicated: you can't close it with a knowledge-base article now"
    )
    text = await refused(d, "gus", f"press case:{key}:kb_reject")
    assert text == f"{key} is being replicated: the suggested articles no longer apply."
    await d.say("alice", f"/case propose {key} Rotate the secret")
    await d.say("gus", f"/case confirm {key}")
    for button in ("kb_reject", "confirm", "reject Still broken", "escalate Slow"):
        await refused(d, "gus", f"press case:{key}:{button}")


async def test_severity_changes_must_change_something(db: Database) -> None:
    d = await Dialog.start(db)
    key = await d.working_case("gus", impact="production_down")
    assert (await d.case(key)).severity == "S1"
    assert await refused(d, "alice", f"severity {key} s1") == f"{key} is already S1."
    await d.say("gus", f"/case escalate {key} Down for an hour")
    assert await refused(d, "dana", f"press case:{key}:raise") == f"{key} is already S1."
    assert (await d.say("alice", f"/case severity {key} S2")).ok


async def test_writing_in_the_thread_of_a_finished_case(db: Database) -> None:
    d = await Dialog.start(db)
    key = await gus_case(d)
    await d.say("gus", f"/case confirm {key}")
    # Nothing is refused and nothing lost: the message is kept, its engineer has it,
    # and the customer hears how to bring the case back (issue #9).
    late = await d.write_in_thread("gus", key, "one more thing")
    assert (
        late is not None
        and late.ok
        and late.text
        == (
            f"{key} is resolved. Your message is kept on it and its engineer has it. You can "
            f"reopen it until 2026-11-09 09:00 UTC: `/case reopen {key} <reason>`."
        )
    )
    assert [m.text for m in d.seen_by("alice") if m.text == "one more thing"]
    await d.say("gus", f"/case reopen {key} It is back")
    await d.say("gus", f"/case withdraw {key} yes")
    late = await d.write_in_thread("gus", key, "hello?")
    assert late is not None and late.text.startswith(
        f"{key} is closed at the customer's request. Your message is kept"
    )


async def test_help_lists_only_what_each_person_may_do(db: Database) -> None:
    d = await Dialog.start(db)

    async def commands(who: str) -> set[str]:
        text = (await d.say(who, "/case help")).text
        return {line.split()[1].strip("`") for line in text.splitlines()[1:]}

    customer, engineer, csm, lead = [await commands(p) for p in ("gus", "alice", "dana", "lee")]
    assert {"confirm", "reject", "escalate", "reopen", "withdraw", "survey"} <= customer
    assert not {"claim", "propose", "note", "queue"} & customer
    assert {"claim", "propose", "need-info", "defect", "eng", "kb"} <= engineer
    assert not {"confirm", "escalate", "ack", "stats", "open"} & engineer
    assert {"ack", "severity", "assign"} <= csm and not {"claim", "propose"} & csm
    assert engineer | {"ack", "stats"} <= lead
    assert "confirm" not in lead  # only the customer closes as resolved
