"""Typed text (``/case reply CASE-3 It works now``) → a command and its raw arguments.

The only place that reads the text grammar; the usage lines it refuses with come from
the command table, so they cannot drift from what the parser accepts.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from bot.errors import Refusal
from commands.params import Kind, Param
from commands.table import ALIASES, BY_NAME, GROUP_DEFAULT, GROUPS, Command


@dataclass
class Parsed:
    command: Command
    values: dict[str, str] = field(default_factory=dict)


def words_of(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:  # an unclosed quote: plain words
        return text.split()


def rest_after(text: str, n: int) -> str:
    """The text after the first ``n`` words, with its own spacing kept."""
    s = text.strip()
    for _ in range(n):
        parts = s.split(None, 1)
        s = parts[1] if len(parts) > 1 else ""
    return s


def group_usage(group: str) -> str:
    return "Usage: " + ", ".join(f"`/case {c.usage}`" for c in GROUPS[group])


def unknown(word: str) -> Refusal:
    return Refusal(f"I don't know `/case {word}`. Try `/case help`.")


def parse(text: str) -> Parsed:
    """The command named by ``text`` with its arguments as typed (a :class:`Refusal`
    for an unknown one). Missing arguments are the invoker's to report, after it has
    checked that the person may use the command at all."""
    words = words_of(text.strip())
    if not words:
        raise unknown("")
    first = words[0].lower()
    name = ALIASES.get(first, first)
    if name in GROUPS:
        sub = words[1].lower() if len(words) > 1 else None
        full = f"{name} {sub}" if sub else GROUP_DEFAULT.get(name)
        command = BY_NAME.get(full or "")
        if command is None:
            raise Refusal(group_usage(name))
        consumed = 2 if sub else 1
    else:
        found = BY_NAME.get(name)
        if found is None or found.hidden:
            raise unknown(words[0])
        command, consumed = found, 1
    tail = rest_after(text, consumed)
    options: dict[str, str] = {}
    for p in command.options:
        tail, given = take_option(tail, p)
        if given is not None:
            options[p.name] = given
    args = words_of(tail)
    values = {p.name: args[i] for i, p in enumerate(command.fixed) if i < len(args)}
    if command.rest is not None:
        values[command.rest.name] = rest_after(tail, len(command.fixed))
    values.update(options)
    return Parsed(command, values)


def take_option(text: str, p: Param) -> tuple[str, str | None]:
    """``--public`` or ``--impact degraded`` (also ``--impact=degraded``) out of ``text``:
    the text without it, and its value ("" for a flag), or None when it is absent."""
    if p.kind == Kind.FLAG:
        pattern = rf"(?<!\S)--{re.escape(p.name)}(?!\S)"
    else:
        pattern = rf"(?<!\S)--{re.escape(p.name)}(?:=|\s+)(\S+)"
    m = re.search(pattern, text)
    if m is None:
        return text, None
    value = m.group(1) if m.groups() else ""
    return (text[: m.start()] + text[m.end() :]).strip(), value
