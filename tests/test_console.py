"""The console platform, tested like a real adapter: lines typed in, text written out.

A ``Console`` here is one keyboard: the real ``ConsoleAdapter`` (rendering) and a
``ConsoleSession`` (parsing) over a real ``Casebot``, with ``write`` collecting output
and ``ask`` answering form questions from a list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.console import CONSOLE_HELP, ConsoleAdapter, ConsoleSession
from bot.clock import FakeClock
from entrypoints.bootstrap import Casebot
from storage.db import Database
from tests.harness import load_test_config


@dataclass
class Console:
    bot: Casebot
    session: ConsoleSession
    out: list[str]
    questions: list[str] = field(default_factory=list)

    async def type(self, *lines: str) -> str:
        """Type lines; returns everything written meanwhile."""
        start = len(self.out)
        for line in lines:
            assert await self.session.handle(line) is True, line
        return "\n".join(self.out[start:])


async def console(
    db: Database,
    answers: list[str] | None = None,
    *,
    fake_clock: bool = True,
    same_bot_as: Console | None = None,
) -> Console:
    """A console; ``answers`` (when given) answer form questions in order."""
    if same_bot_as is None:
        bot = Casebot(load_test_config(), db, clock=FakeClock())
        await bot.sync_config()
        out: list[str] = []
        bot.register_adapter(ConsoleAdapter(bot.config, out.append))
    else:
        bot, out = same_bot_as.bot, same_bot_as.out
    questions: list[str] = []
    queue = list(answers or [])

    def ask(question: str) -> str:
        questions.append(question)
        return queue.pop(0)

    session = ConsoleSession(
        bot.commands,
        out.append,
        ask=ask if answers is not None else None,
        fake_clock=bot.clock if fake_clock else None,  # type: ignore[arg-type]
        settle=bot.drain,
    )
    return Console(bot, session, out, questions)


# -- parsing --------------------------------------------------------------------------


async def test_who_is_typing(db: Database) -> None:
    c = await console(db)
    people = "alice, bruno, chiara, dana, lee, gus, gina, ivy, ian"
    assert await c.type("/case list") == f"Say who you are first: `as <person>` ({people})."
    assert await c.type("as zed") == (f"There is no person 'zed' in the configuration ({people}).")
    assert await c.type("as gus") == "You are now Gus Hartmann (customer)."
    assert await c.type("AS alice") == "You are now Alice Romano (engineer)."
    assert c.session.me == "alice"


async def test_help_blank_comments_unknown_words_and_quit(db: Database) -> None:
    c = await console(db)
    assert await c.type("help") == CONSOLE_HELP.rstrip()
    assert "press <CASE-n> <action>" in CONSOLE_HELP and "advance <duration>" in CONSOLE_HELP
    assert await c.type("", "   ", "# a comment") == ""
    await c.type("as gus")
    assert await c.type("dance") == "I don't understand 'dance'. Type `help`."
    assert await c.session.handle("quit") is False
    assert await c.session.handle("exit") is False


async def test_case_commands_and_their_replies(db: Database) -> None:
    c = await console(db)
    out = await c.type("as gus", "/case open Webhook endpoint returns 500")
    assert "(only you see this) Opened CASE-1: Webhook endpoint returns 500. Severity S4." in out
    out = await c.type("/case claim CASE-1")
    assert out == "(only you see this) ✗ `/case claim` is not for you. Try `/case help`."
    out = await c.type("/case help")
    assert out.startswith("(only you see this) What you can do, Gus Hartmann (customer):")


async def test_press_say_and_home(db: Database) -> None:
    c = await console(db)
    await c.type("as gus", "/case open Webhook endpoint returns 500")
    # Both spellings of a button.
    out = await c.type("as alice", "press CASE-1 replicating")
    assert "(only you see this) CASE-1: replicating." in out
    out = await c.type("press case:CASE-1:replicating")
    assert "✗ CASE-1 is being replicated: you can't start replicating it now" in out
    out = await c.type("press CASE-1")
    assert out == "(only you see this) ✗ Usage: press CASE-n <action> (as shown under a message)."
    # A button with a value (the assign form's answer).
    out = await c.type("press CASE-1 assign bruno")
    assert "CASE-1 is now assigned to Bruno Lindqvist." in out

    # Staff write in the staff thread (an internal note), customers in theirs.
    await c.type("as bruno")
    out = await c.type("say CASE-1 Seen this before")
    assert out == "(only you see this) Noted on CASE-1 (internal)."
    await c.type("/case need-info CASE-1 Which region?")
    out = await c.type("as gus", "say case-1 eu-west-1")
    assert "(only you see this) Recorded on CASE-1." in out
    assert "── to Bruno Lindqvist (DM) ──\nGus Hartmann wrote on CASE-1\n  eu-west-1" in out
    assert await c.type("say CASE-9 hello") == (
        "(only you see this) ✗ There is no CASE-9 thread here yet."
    )
    assert await c.type("say CASE-1") == "(only you see this) ✗ Usage: say CASE-n <text>"

    await c.type("as bruno")
    out = await c.type("home")
    assert out.splitlines() == [
        "Bruno Lindqvist's queue",
        "  Assigned to me (1)",
        "    CASE-1 [S4] Webhook endpoint returns 500 — being replicated",
        "  Waiting for triage (0)",
        "  Waiting on customers (0)",
    ]
    await c.type("as gus")
    out = await c.type("home")
    assert out.splitlines()[:2] == ["Gus Hartmann's cases", "  Open cases (1)"]


async def test_advance_moves_the_fake_clock_and_runs_due_work(db: Database) -> None:
    c = await console(db)
    await c.type(
        "as gus",
        "/case open Webhook endpoint returns 500",
        "as alice",
        "press CASE-1 replicating",
        "/case need-info CASE-1 Which region?",
    )
    out = await c.type("advance 1bd")
    assert out.startswith("(the clock moves 1bd: it is now Tue 2026-11-03 09:00 UTC)\n")
    assert "── to CASE-1 customer thread ──\nReminder 1 on CASE-1" in out
    assert await c.type("advance soon") == (
        "'soon' does not parse as a duration: use a whole number followed by s, m, h, d "
        "or bd (e.g. 30m, 2h, 1bd)"
    )
    fixed = await console(db, fake_clock=False)
    assert await fixed.type("advance 1d") == (
        "The clock only moves by itself here (advance works in the demo and with "
        "`casebot run --fake-clock`)."
    )


async def test_the_open_form_is_asked_question_by_question(db: Database) -> None:
    # Each answer is checked as it is typed: an empty title and an unknown area are
    # asked again at once, with the reason; a choice may be its key, label or number.
    c = await console(
        db,
        ["", "Webhooks fail", "kites", "api", "2", "Degraded", "Since the token rotation"],
    )
    out = await c.type("as gus", "/case")
    title = "  Title — What is wrong, in a sentence: "
    area = (
        "  Product area (optional, Enter skips) — api: Public API, install: Installation, "
        "dashboards, billing: "
    )
    assert c.questions == [title, title, area, area, *c.questions[4:]]
    assert c.questions[4].startswith("  Type — functionality: ")
    # Optional: left empty, the impact is read from the title and description.
    assert c.questions[5].startswith(
        "  Business impact (optional, Enter skips) — production_down: "
    )
    assert c.questions[6] == (
        "  Description (optional, Enter skips) — What you did, what you expected, what happened: "
    )
    assert "Tell us about the problem.\n[Open a support case] Answer each question; " in out
    assert "/cancel stops without sending anything." in out
    assert "  ✗ Title is needed (or /cancel)." in out
    assert "  ✗ 'kites' is not one of the choices (api, install, dashboards, billing)." in out
    assert "(only you see this) Opened CASE-1: Webhooks fail." in out
    assert "  Since the token rotation" in out  # the description, in the triage alert


async def test_a_form_can_be_cancelled_and_nothing_is_sent(db: Database) -> None:
    for word in ("/cancel", "cancel", " CANCEL "):
        c = await console(db, ["Webhooks fail", word])
        out = await c.type("as gus", "/case")
        assert out.endswith("(only you see this) Open a support case: cancelled, nothing was sent.")
        assert "Opened" not in out and "──" not in out  # nobody was told anything
    c = await console(db, ["cancel"])
    out = await c.type("as gus", "/case")
    assert "cancelled, nothing was sent" in out
    assert "CASE-1" not in await c.type("/case list")  # no case titled "cancel"


async def test_what_the_core_finds_wrong_is_asked_again_by_label(db: Database) -> None:
    from bot.exchange import Prompt, PromptField

    c = await console(db, ["Fixed title"])
    await c.type("as gus")
    prompt = Prompt("open", "Open a support case", (PromptField("title", "Title"),))
    values = {"title": ""}
    from adapters.console import forms

    await forms.correct(
        prompt, values, {"title": "Give the case a title."}, c.session.ask, c.out.append
    )  # type: ignore[arg-type]
    assert values == {"title": "Fixed title"}
    assert "  ✗ Title: Give the case a title." in c.out
    assert c.questions == ["  Title: "]


async def test_a_form_without_anyone_to_ask(db: Database) -> None:
    c = await console(db)
    await c.type("as gus")
    out = await c.type("/case")
    assert out == (
        "(only you see this) ✗ Open a support case: this needs a form; use the "
        "/case command with its arguments instead."
    )


async def test_an_optional_form_is_skipped_when_nobody_can_answer(db: Database) -> None:
    c = await console(db)
    await c.type(
        "as gus",
        "/case open Webhook endpoint returns 500",
        "as alice",
        "/case propose CASE-1 Rotate the secret",
        "as gus",
        "press CASE-1 confirm",
    )
    out = await c.type("press CASE-1 rate:4")
    assert out == "(only you see this) Thanks for rating CASE-1 4/5."


async def test_the_survey_comment_is_asked_when_someone_can_answer(db: Database) -> None:
    c = await console(db, ["Quick and clear"])
    await c.type(
        "as gus",
        "/case open Webhook endpoint returns 500",
        "as alice",
        "/case propose CASE-1 Rotate the secret",
        "as gus",
        "press CASE-1 confirm",
    )
    out = await c.type("press CASE-1 rate:5")
    assert c.questions == ["  Comment (optional): "]  # its label says optional already
    assert out.splitlines() == [
        "Thanks for rating CASE-1 5/5.",
        "[Anything to add?] Answer each question; /cancel stops without sending anything.",
        "(only you see this) Thanks for the comment.",
    ]


# -- rendering -------------------------------------------------------------------------


async def test_each_audience_is_labelled(db: Database) -> None:
    c = await console(db)
    out = await c.type("as gus", "/case open Webhook endpoint returns 500")
    labels = [line for line in out.splitlines() if line.startswith("──")]
    assert labels == [
        "── to CASE-1 customer thread ──",
        "── to #platform (Platform support) ──",
        "── to Alice Romano (DM) ──",
        "── updated CASE-1 customer thread ──",
    ]
    out = await c.type("as alice", "/case note CASE-1 Looks like the signing secret")
    assert (
        "── to CASE-1 staff thread ──\nNote from Alice Romano\n  Looks like the signing secret"
        in out
    )


async def test_messages_show_fields_and_how_to_press_their_buttons(db: Database) -> None:
    c = await console(db)
    out = await c.type("as gus", "/case open Webhook endpoint returns 500")
    opened = out.split("── to CASE-1 customer thread ──\n", 1)[1].split("\n──", 1)[0]
    assert opened.splitlines() == [
        "CASE-1 opened: Webhook endpoint returns 500",
        "  Thanks, we have your case. Impact: A question (nothing said otherwise: pick "
        "another with a button below if it is more). Replies in this thread reach your "
        "support engineer.",
        "  Account: Globex Corporation",
        "  Impact: A question",
        "  Severity: S4",
        "  Area: Public API",
        "  State: waiting for an engineer",
        "  buttons: [Escalate: press CASE-1 escalate]  "
        "[Impact: Production is down: press CASE-1 impact:production_down]  "
        "[Impact: Production is degraded: press CASE-1 impact:degraded]  "
        "[Impact: A task is blocked: press CASE-1 impact:blocked]",
    ]
    # The team's card as it is once the open committed: assigned already, so no Claim.
    alert = out.split("── to #platform (Platform support) ──\n", 1)[1].split("\n──", 1)[0]
    assert alert.splitlines()[-1] == (
        "  buttons: [Reassign…: press CASE-1 assign]  "
        "[Change area: press CASE-1 area]  [Change severity: press CASE-1 severity]"
    )
    # Buttons with a value and buttons of other subjects print a hint that works.
    out = await c.type(
        "as alice", "/case propose CASE-1 Rotate the secret", "as gus", "press CASE-1 confirm"
    )
    assert "[3: press CASE-1 rate:3]" in out
    assert "[Publish: press KB-1 publish]  [Discard: press KB-1 discard]" in out
    await c.type("as alice")
    out = await c.type("press KB-1 publish")
    assert out.startswith(
        "(only you see this) KB-1 is published: customers will find it from now on. "
        "This is what they see:\nKB-1: Webhook endpoint returns 500\n"
    )
    # Multi-line text stays indented under its title.
    out = await c.type(
        "as ivy",
        "/case open Agent install hangs",
        "as bruno",
        "/case need-info CASE-2 Which OS?\nAnd which version?",
    )
    assert (
        "Bruno Lindqvist needs more information on CASE-2\n  Which OS?\n  And which version?" in out
    )


async def test_updates_edit_the_message_in_place(db: Database) -> None:
    c = await console(db)
    await c.type("as gus", "/case open Webhook endpoint returns 500")
    adapter = c.bot.runtime.platforms["console"]
    assert isinstance(adapter, ConsoleAdapter)
    opened = [m for label, m in adapter.delivered if m.ref == "case:CASE-1"]
    assert [m.update for m in opened] == [False, True]
    await c.type("as alice")
    out = await c.type("press CASE-1 replicating")
    assert out.splitlines()[1:4] == [
        "── updated CASE-1 customer thread ──",
        "CASE-1 opened: Webhook endpoint returns 500",
        "  Alice Romano is reproducing the problem.",
    ]


async def test_a_second_console_session_is_not_a_duplicate_of_the_first(db: Database) -> None:
    # The demo restarted on the same database: its first command is a new event.
    first = await console(db)
    await first.type("as gus", "/case open Webhook endpoint returns 500")
    again = await console(db, same_bot_as=first)
    out = await again.type("as gus", "/case open Agent install hangs")
    assert "Opened CASE-2: Agent install hangs." in out
