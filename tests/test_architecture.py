"""The layout's rules, checked on the source (docs/architecture.md says why):

- the import graph of the project's own modules has no cycle;
- the core (``bot/``) imports no adapter, no command module, no entry point and no
  platform library; the command layer imports no database code;
- only the entry points import adapters;
- no module is over the size a newcomer can read (migrations aside);
- ``Work`` gets no attribute from outside its class and nobody ``getattr``s on it;
  no ``type: ignore`` stands in for an untyped bot or app.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "commands", "adapters", "storage", "entrypoints")
MAX_LINES = 430  # "about 400"


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = modules()


def imports_of(path: Path) -> Iterator[tuple[str, int]]:
    """Every module an import statement names (anywhere in the file), with its line."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def project_target(name: str) -> str | None:
    """The project module an imported name lives in (``bot.cases.claim`` → ``bot.cases``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, _ in imports_of(path):
            target = project_target(name)
            if target and target != module and not module.startswith(target + "."):
                edges[module].add(target)
    return edges


def test_the_import_graph_has_no_cycle() -> None:
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n) :] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


FORBIDDEN = {
    "bot": ("adapters", "commands", "entrypoints", "slack_bolt", "slack_sdk", "discord"),
    "commands": ("sqlalchemy", "storage.models", "adapters", "entrypoints"),
    "storage": ("adapters", "commands", "entrypoints"),
    "adapters": ("entrypoints", "sqlalchemy", "storage"),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    wrong = []
    for module, path in MODULES.items():
        if module.split(".")[0] != layer:
            continue
        for name, line in imports_of(path):
            for banned in FORBIDDEN[layer]:
                if name == banned or name.startswith(banned + "."):
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_no_module_is_too_long_to_read() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in MODULES.values()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_work_is_not_an_open_bag() -> None:
    """Nothing sets an attribute on a unit of work from outside bot/work.py, and nothing
    reads one back with getattr."""
    set_from_outside = re.compile(r"\bw\.(?!session\b)[a-z_]+\s*=[^=]")
    getattr_on_work = re.compile(r"getattr\(\s*w\s*,")
    wrong = []
    for path in MODULES.values():
        if path == ROOT / "bot" / "work.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if set_from_outside.search(line) or getattr_on_work.search(line):
                wrong.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not wrong, "\n".join(wrong)


def test_no_type_ignore_for_an_untyped_app() -> None:
    pattern = re.compile(r"\b(app|bot)\b[^#]*#\s*type:\s*ignore")
    wrong = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in MODULES.values()
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line) and "no-untyped-def" in line
    ]
    assert not wrong, wrong
