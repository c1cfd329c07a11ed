"""Every example in README.md and docs/*.md works as written.

* Console dialogs (fenced blocks of ``person> line`` prompts) are typed into a real
  console session on the configuration the README says they run on
  (examples/casebot.yml, its example articles, a fake clock): no line may be refused
  or misunderstood.
* Every ``casebot …`` line of a shell block names a real command with real options,
  and every ``make`` target named exists.
* Every subcommand the README's ``/case`` table names is one of the command table's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.console import ConsoleAdapter, ConsoleSession
from bot.clock import FakeClock
from bot.config import load_config
from bot.kb_files import import_dir
from commands.table import find
from entrypoints.bootstrap import Casebot
from entrypoints.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)```([\w-]*)\n(.*?)^\1```", re.M | re.S)
PROMPT = re.compile(r"^(\S+)> (.+)$")


@dataclass(frozen=True)
class Block:
    doc: Path
    lang: str
    text: str

    def __str__(self) -> str:
        return f"{self.doc.relative_to(ROOT)} ({self.lang or 'plain'}): {self.text[:40]!r}…"


def blocks() -> list[Block]:
    found = []
    for doc in DOCS:
        for m in FENCE.finditer(doc.read_text(encoding="utf-8")):
            found.append(Block(doc, m.group(2), m.group(3)))
    return found


def dialogs() -> list[Block]:
    """Blocks in which every line is a console prompt and what was typed."""
    return [
        b
        for b in blocks()
        if b.text.strip() and all(PROMPT.match(line) for line in b.text.strip().splitlines())
    ]


def shell_lines(word: str) -> list[tuple[Block, list[str]]]:
    out = []
    for b in blocks():
        if b.lang not in ("sh", "bash", "console", "shell"):
            continue
        for line in b.text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith(word + " "):
                out.append((b, line.split()[1:]))
    return out


def test_the_docs_have_examples_to_run() -> None:
    assert dialogs(), "the README's quick start is a console dialog"
    assert shell_lines("casebot") and shell_lines("make")


@pytest.mark.parametrize("block", dialogs(), ids=str)
async def test_a_console_dialog_works_as_written(block: Block, tmp_path: Path) -> None:
    config = load_config(ROOT / "examples" / "casebot.yml")
    bot = await Casebot.create(config, f"sqlite:///{tmp_path}/docs.db", clock=FakeClock())
    try:
        if config.support.seed_examples:  # as `casebot run` does on this configuration
            await import_dir(bot.db, ROOT / "examples" / "kb", bot.clock.now())
        out: list[str] = []
        bot.register_adapter(ConsoleAdapter(config, out.append))
        session = ConsoleSession(bot.commands, out.append, settle=bot.drain)
        for line in block.text.strip().splitlines():
            m = PROMPT.match(line)
            assert m is not None
            shown_as, typed = m.groups()
            assert shown_as == (session.me or "?"), f"{line!r}: the prompt would be another"
            start = len(out)
            await session.handle(typed)
            said = "\n".join(out[start:])
            for wrong in ("✗", "I don't understand", "Say who you are first", "There is no"):
                assert wrong not in said, f"{block}\n{line}\n{said}"
    finally:
        await bot.close()


@pytest.mark.parametrize(
    ("block", "args"),
    shell_lines("casebot"),
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_a_casebot_command_in_the_docs_exists_with_its_options(
    block: Block, args: list[str]
) -> None:
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, f"{block}: casebot {' '.join(args)}\n{result.output}"


def test_every_make_target_in_the_docs_exists() -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    for block, args in shell_lines("make"):
        assert args[0] in targets, f"{block}: make {args[0]}"


def test_every_subcommand_in_the_readme_table_is_in_the_command_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The `/case` command set", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    named = 0
    for row in rows:
        cell = row.split("|")[2]
        for usage in re.findall(r"`([^`]+)`", cell):
            words = [w for w in usage.split() if re.fullmatch(r"[a-z][a-z-]*", w)]
            two = " ".join(words[:2])
            command = find(two) or find(words[0])
            assert words[0] == "help" or (command is not None and not command.hidden), usage
            named += 1
    assert named > 30


def test_docs_discord_names_the_generated_tree() -> None:
    """The subcommands docs/discord.md lists are exactly those of the generated tree."""
    from tests.discord.test_help import tree_paths

    text = (ROOT / "docs" / "discord.md").read_text(encoding="utf-8")
    text = " ".join(text.split())  # a list may wrap across lines
    section = text.split("## What people see", 1)[1].split("Case options autocomplete", 1)[0]
    listed = set()
    for group, subs in re.findall(r"`/case ([a-z]+) ([a-z|-]+)`", section):
        listed |= {f"{group} {sub}" for sub in subs.split("|")}
    top = section.split("four groups", 1)[0]
    listed |= set(re.findall(r"`([a-z-]+)`", top))
    assert listed == tree_paths()
