"""The command line as a support lead meets it: checking a configuration, the demo,
migrations and the knowledge base as files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from entrypoints.cli import app
from storage.db import sqlite_threads

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    """The CLI configures logging to the runner's captured stderr, which closes after
    each invocation; later tests must not log into it."""
    import logging

    import structlog

    yield None
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "stream", None) is not None and handler.stream.closed:
            root.removeHandler(handler)


ROOT = Path(__file__).resolve().parent.parent


def test_config_check_summarises_a_good_file() -> None:
    result = runner.invoke(app, ["config", "check", str(ROOT / "examples" / "casebot.yml")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert "product areas" in result.output


def test_config_check_lists_every_error_with_its_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    text = (ROOT / "examples" / "casebot.yml").read_text()
    text = text.replace("skills: {billing: 5}", "skills: {bilin: 5}")
    text = text.replace("reopen_window: 14d", "reopen_window: 7 days")
    assert "bilin" in text and "7 days" in text
    bad.write_text(text)
    result = runner.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert "skills.bilin: unknown product area 'bilin'" in result.output
    assert "support.reopen_window" in result.output and "does not parse" in result.output


def test_config_check_of_a_missing_file_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path / "nope.yml")])
    assert result.exit_code == 2
    assert "nope.yml" in result.output


def test_run_refuses_to_start_on_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("support: {name: x}\nteams: 3\n")
    result = runner.invoke(
        app, ["run", "--config", str(bad), "--database-url", f"sqlite:///{tmp_path}/x.db"]
    )
    assert result.exit_code == 2
    assert "teams" in result.output
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    "config", ["examples/casebot.yml", "tests/casebot-test.yml", "tests/demo/own.yml"]
)
def test_demo_shows_the_whole_life_cycle_in_order(
    config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo on the example, the tests' and a configuration of its own (other people,
    accounts, areas, durations, no CSM): every stage, in order, and nothing refused."""
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["demo", "-c", config])
    assert result.exit_code == 0, result.output
    out = result.output
    milestones = [
        "[Open a support case]",
        "Opened CASE-1",
        "CASE-1 is yours" if "own" not in config else "New case CASE-1",
        "needs more information on CASE-1",
        "Reminder 1 on CASE-1",
        "Call the customer on CASE-1",  # the phone task
        "the chase has stopped",
        "Thanks for the information",  # the answer
        "Escalation on CASE-1",
        *(  # the SLA warning and breach, where the configuration sets targets
            ["(this configuration sets no SLA target"]
            if config.endswith("casebot-test.yml")
            else ["resolution due in", "breached"]
        ),
        "Logged defect ENG-1",
        "Linked CASE-2 to ENG-1",
        "ENG-1 open → fixed",
        "proposes a resolution for CASE-2",
        "CASE-1 is resolved",
        "CASE-2 is back with its engineer",
        "reopened",
        "closed as a duplicate of CASE-2",
        "withdrawn and closed",
        "Thanks for rating CASE-1 5/5",
        "Opened 4",  # stats
    ]
    pos = 0
    for m in milestones:
        found = out.find(m, pos)
        assert found >= 0, f"{m!r} missing (or out of order) after position {pos}"
        pos = found
    assert "✗" not in out  # no step of the script was refused
    # The customer's @everyone reached the engineer as plain text, never as a mention.
    assert "@everyone please look!" in out


def test_db_upgrade_and_kb_import_export_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kb.db"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", url]).exit_code == 0
    result = runner.invoke(
        app, ["kb", "import", str(ROOT / "examples" / "kb"), "--database-url", url]
    )
    assert result.exit_code == 0, result.output
    assert "created 10" in result.output
    out = tmp_path / "out"
    result = runner.invoke(app, ["kb", "export", str(out), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("KB-*.md"))) == 10
    again = runner.invoke(app, ["kb", "import", str(out), "--database-url", url])
    assert "created 0, updated 0, unchanged 10" in again.output


# -- a newcomer's mistakes: one clear line each, nothing changed ----------------------


def test_an_unknown_platform_is_refused_with_the_known_names(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    result = runner.invoke(app, ["run", "--platform", "teams", "--database-url", url])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "casebot: unknown platform 'teams' (known: slack, discord, email, console)"
    )


def test_a_missing_token_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    url = f"sqlite:///{tmp_path}/x.db"
    result = runner.invoke(app, ["run", "--platform", "slack", "--database-url", url])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("casebot: SLACK_BOT_TOKEN is not set")


@pytest.mark.parametrize(
    "url",
    ["postgresql://nobody@127.0.0.1:1/casebot", "sqlite:////no/such/folder/casebot.db"],
)
def test_an_unreachable_database_is_one_line_not_a_traceback(url: str) -> None:
    for args in (["run", "--platform", "console"], ["outbox", "list"], ["db", "upgrade"]):
        result = runner.invoke(app, [*args, "--database-url", url], input="")
        assert result.exit_code == 2, (args, result.output)
        (line,) = result.output.strip().splitlines()
        assert line.startswith("casebot: cannot use the database at "), line
        assert "Traceback" not in result.output


def test_a_sqlite_file_that_cannot_be_opened_leaves_no_thread_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # aiosqlite stops the thread of a connection that failed to open without waiting for
    # it; left to itself, that thread printed a traceback after the one-line error in
    # about one run in eight. Many runs, so that the race would show.
    for _ in range(30):
        result = runner.invoke(
            app, ["outbox", "list", "--database-url", "sqlite:////no/such/folder/casebot.db"]
        )
        assert result.exit_code == 2, result.output
        assert not sqlite_threads()
    assert "Traceback" not in capfd.readouterr().err


def test_kb_import_of_a_missing_folder_fails_clearly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kb.db"
    result = runner.invoke(app, ["kb", "import", str(tmp_path / "nope"), "--database-url", url])
    assert result.exit_code == 2
    assert (
        result.output.strip() == f"casebot: {tmp_path / 'nope'} does not exist: nothing imported."
    )
    assert not (tmp_path / "kb.db").exists()


def test_kb_import_refuses_an_article_in_an_unknown_area(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kb.db"
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.md").write_text("---\ntitle: Refund twice\narea: billing\n---\nDo it.\n")
    (folder / "odd.md").write_text("---\ntitle: Fly a kite\narea: kites\n---\nRun.\n")
    result = runner.invoke(app, ["kb", "import", str(folder), "--database-url", url])
    assert result.exit_code == 1
    assert "created 1, updated 0, unchanged 0" in result.output
    assert "error: odd.md: unknown product area 'kites' (known: " in result.output


def test_kb_export_onto_existing_files_refuses_unless_forced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kb.db"
    runner.invoke(app, ["kb", "import", str(ROOT / "examples" / "kb"), "--database-url", url])
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    result = runner.invoke(app, ["kb", "export", str(a_file), "--database-url", url])
    assert result.exit_code == 2 and "is a file, not a folder" in result.output
    assert a_file.read_text() == "mine"
    full = tmp_path / "full"
    full.mkdir()
    (full / "README").write_text("keep")
    result = runner.invoke(app, ["kb", "export", str(full), "--database-url", url])
    assert result.exit_code == 2 and "already has files" in result.output
    assert [p.name for p in full.iterdir()] == ["README"]
    result = runner.invoke(app, ["kb", "export", str(full), "--force", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert len(list(full.glob("KB-*.md"))) == 10 and (full / "README").read_text() == "keep"


def test_an_empty_outbox_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/o.db"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", url]).exit_code == 0
    result = runner.invoke(app, ["outbox", "list", "--database-url", url])
    assert result.output.strip() == "No notifications waiting: all delivered."
    result = runner.invoke(app, ["outbox", "list", "--failed", "--database-url", url])
    assert result.output.strip() == "No failed notifications."


def test_help_shows_no_python_types_and_there_is_a_version() -> None:
    from importlib.metadata import version

    assert runner.invoke(app, ["--version"]).output.strip() == f"casebot {version('casebot')}"
    commands = [[], ["run"], ["worker"], ["demo"], ["kb", "import"], ["kb", "export"]]
    commands += [["outbox", "list"], ["outbox", "retry"], ["db", "upgrade"], ["config", "check"]]
    for words in commands:
        result = runner.invoke(app, [*words, "--help"])
        assert result.exit_code == 0, words
        for python_type in ("<bool>", "<list[", "<str>", "<int>"):
            assert python_type not in result.output, (words, result.output)


# -- the example articles stay in the example ----------------------------------------


def _articles(url: str) -> int:
    import asyncio

    from bot.kb_files import count_articles
    from storage.db import Database

    async def go() -> int:
        db = Database(url)
        try:
            return await count_articles(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_run_on_a_real_configuration_starts_with_an_empty_knowledge_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # where examples/kb is
    url = f"sqlite:///{tmp_path}/real.db"
    config = str(ROOT / "tests" / "casebot-test.yml")
    args = ["run", "-c", config, "--platform", "console", "--database-url", url]
    result = runner.invoke(app, args, input="quit\n")
    assert result.exit_code == 0, result.output
    assert "The knowledge base is empty: customers get no suggestions until you import" in (
        result.output
    )
    assert "(casebot kb import DIR)" in result.output
    assert _articles(url) == 0


def test_the_example_configuration_seeds_the_example_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path}/example.db"
    config = str(ROOT / "examples" / "casebot.yml")
    args = ["run", "-c", config, "--platform", "console", "--database-url", url]
    result = runner.invoke(app, args, input="quit\n")
    assert result.exit_code == 0, result.output
    assert "imported 10 example articles from examples/kb (support.seed_examples)" in (
        result.output
    )
    assert _articles(url) == 10


# -- the console under `casebot run` ---------------------------------------------------


def test_run_with_a_fake_clock_shows_time_based_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path}/clock.db"
    config = str(ROOT / "tests" / "casebot-test.yml")
    typed = [
        "as gus",
        "/case open Webhook endpoint returns 500",
        "as alice",
        "press CASE-1 replicating",
        "/case need-info CASE-1 Which region?",
        "advance 1bd",
        "quit",
    ]
    args = ["run", "-c", config, "--fake-clock", "--database-url", url]
    result = runner.invoke(app, args, input="\n".join(typed) + "\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "*** FAKE CLOCK: it is " in out and "`advance 2h`" in out
    moved = out.index("(the clock moves 1bd: it is now ")
    assert out.find("Reminder 1 on CASE-1", moved) > moved  # the chase, fired by advance


def test_the_fake_clock_is_for_the_console_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/clock.db"
    args = ["run", "--fake-clock", "--platform", "slack", "--database-url", url]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == "casebot: --fake-clock is for the console only (--platform console)."
    )


def test_ctrl_c_leaves_the_console_without_waiting_for_enter(tmp_path: Path) -> None:
    """A real process on a pipe nobody writes to (as a terminal waiting for a line):
    SIGINT ends it cleanly, mid-form, without a line being typed."""
    import signal
    import subprocess
    import sys

    args = [sys.executable, "-m", "entrypoints.cli", "run", "--fake-clock"]
    args += ["-c", "tests/casebot-test.yml", "--database-url", f"sqlite:///{tmp_path}/c.db"]
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("as gus\n/case\n")
        proc.stdin.flush()
        seen = ""
        while "Title — " not in seen:  # the form is waiting for its first answer
            char = proc.stdout.read(1)  # the question has no newline: it waits on its line
            assert char, seen
            seen += char
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)  # a hang fails here, not a slow machine
        rest = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, rest
    assert "Traceback" not in rest and "Fatal" not in rest
