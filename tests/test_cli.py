"""The command line as a support lead meets it: checking a configuration, the demo,
migrations and the knowledge base as files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from entrypoints.cli import app

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


def test_demo_shows_the_whole_life_cycle_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    milestones = [
        "CASE-1 opened",
        "New case CASE-1",  # the triage alert
        "CASE-1 is yours",  # assignment by skill
        "replicating CASE-1",
        "needs more information on CASE-1",
        "Reminder 1 on CASE-1",
        "Thanks for the information",  # the answer stopped the chase
        "Logged defect ENG-1",
        "Linked CASE-2 to ENG-1; priority",
        "Escalation on CASE-1",
        "ENG-1 open → fixed",
        "proposes a resolution for CASE-1",
        "proposes a resolution for CASE-2",
        "CASE-1 is resolved",
        "CASE-2 is back with its engineer",
        "KB-11 is published",
        "Thanks for rating CASE-1 5/5",
        "CASE-3: do any of these articles solve it?",  # an article that answers is shown
        "Glad KB-8 solved it",
    ]
    pos = 0
    for m in milestones:
        found = out.find(m, pos)
        assert found >= 0, f"{m!r} missing (or out of order) after position {pos}"
        pos = found
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
