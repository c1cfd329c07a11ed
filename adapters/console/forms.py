"""A form (:class:`~bot.exchange.Prompt`) asked on the console, question by question.

Each question shows the field's label, marks it optional (Enter skips it) and, for a
choice, lists the choices; each answer is checked against the field as it is typed
(required, one of the choices, within its length) and asked again with the reason.
``/cancel`` (or ``cancel``) at any question drops the form: nothing is sent. The core
still checks the whole form when it is sent; what it finds is asked again the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.exchange import Prompt, PromptField

Ask = Callable[[str], "str | Awaitable[str]"]
CANCEL_WORDS = frozenset({"/cancel", "cancel"})
HOW = "Answer each question; /cancel stops without sending anything."


class Cancelled(Exception):
    """The person typed ``/cancel``."""


async def answer(ask: Ask, question: str) -> str:
    """What the person typed (``ask`` may be a plain function or a coroutine one)."""
    got = ask(question)
    if inspect.isawaitable(got):
        got = await got
    return str(got)


@dataclass(frozen=True)
class Checked:
    value: str | None  # None: asked again
    problem: str = ""


def check(field: PromptField, typed: str) -> Checked:
    """One answer against its field: the value to send, or why it is not one."""
    text = typed.strip()
    if text.lower() in CANCEL_WORDS:
        raise Cancelled
    if not text:
        if field.required:
            return Checked(None, f"{field.label} is needed (or /cancel).")
        return Checked("")
    if field.options:
        for n, option in enumerate(field.options, 1):
            if text.lower() in (option.value.lower(), option.label.lower(), str(n)):
                return Checked(option.value)
        known = ", ".join(o.value for o in field.options)
        return Checked(None, f"'{text}' is not one of the choices ({known}).")
    if len(text) > field.max_length:
        return Checked(
            None, f"{field.label} is {len(text)} characters; keep it within {field.max_length}."
        )
    return Checked(typed if field.kind == "textarea" else text)


def question(field: PromptField) -> str:
    """``  Product area (optional, Enter skips) — api: Public API, …: ``"""
    words = field.label
    if not field.required and "optional" not in field.label.lower():
        words += " (optional, Enter skips)"
    if field.options:
        words += " — " + ", ".join(
            o.value if o.label.lower() == o.value.lower() else f"{o.value}: {o.label}"
            for o in field.options
        )
    elif field.placeholder:
        words += f" — {field.placeholder}"
    return f"  {words}: "


async def ask_field(field: PromptField, ask: Ask, write: Callable[[str], None]) -> str:
    """Ask until the answer fits the field (a :class:`Cancelled` on ``/cancel``)."""
    while True:
        checked = check(field, await answer(ask, question(field)))
        if checked.value is not None:
            return checked.value
        write(f"  ✗ {checked.problem}")


async def fill(prompt: Prompt, ask: Ask, write: Callable[[str], None]) -> dict[str, str]:
    write(f"[{prompt.title}] {HOW}")
    return {f.name: await ask_field(f, ask, write) for f in prompt.fields}


async def correct(
    prompt: Prompt,
    values: dict[str, str],
    errors: Mapping[str, str],
    ask: Ask,
    write: Callable[[str], None],
) -> None:
    """The fields the core found wrong, by label with its reason, asked again."""
    by_name = {f.name: f for f in prompt.fields}
    for name, err in errors.items():
        field = by_name.get(name) or PromptField(name, name.replace("_", " ").capitalize())
        write(f"  ✗ {field.label}: {err}")
        values[name] = await ask_field(field, ask, write)
