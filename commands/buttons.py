"""What each button invokes. A button is a command with its arguments already chosen
(``case:CASE-3:claim`` is ``claim`` with ``case=CASE-3``), or the form that asks for
the rest (``case:CASE-3:reject`` asks why). The id grammar is :mod:`bot.actions`'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.actions import ActionId
from bot.actions import parse as parse_action

NOT_MINE = "That button is not one of mine."


@dataclass(frozen=True)
class Press:
    """A button's meaning: a command and its arguments, or a form (by kind) to show."""

    command: str = ""
    args: dict[str, Any] | None = None
    form: str = ""  # a kind of commands.forms.case_forms
    then_ask: str = ""  # a form to show after the command succeeded (the survey comment)


Builder = Callable[[ActionId, str | None], Press | None]


def _simple(command: str, param: str = "case", rest: str = "") -> Builder:
    def build(a: ActionId, value: str | None) -> Press:
        args: dict[str, Any] = {param: a.key}
        if rest:
            args[rest] = value or ""
        return Press(command, args)

    return build


def _called(a: ActionId, value: str | None) -> Press | None:
    if a.arg not in ("reached", "not-reached"):
        return None
    return Press("called", {"case": a.key, "outcome": a.arg, "note": ""})


def _kb_accept(a: ActionId, value: str | None) -> Press | None:
    return Press("kb accept", {"case": a.key, "article": a.arg}) if a.arg else None


def _rate(a: ActionId, value: str | None) -> Press | None:
    if not a.arg or not a.arg.isdigit():
        return None
    return Press(
        "survey", {"case": a.key, "rating": int(a.arg), "comment": ""}, then_ask="survey_comment"
    )


def _impact(a: ActionId, value: str | None) -> Press | None:
    return Press("impact", {"case": a.key, "impact": a.arg}) if a.arg else None


def _link_all(a: ActionId, value: str | None) -> Press | None:
    return Press("link-all", {"case": a.key, "group": a.arg}) if a.arg else None


def _form(kind: str) -> Builder:
    def build(a: ActionId, value: str | None) -> Press:
        return Press(form=kind)

    return build


BUTTONS: dict[tuple[str, str], Builder] = {
    ("case", "claim"): _simple("claim"),
    ("case", "confirm"): _simple("confirm"),
    ("case", "ack"): _simple("ack", rest="note"),
    ("case", "withdraw"): _simple("withdraw"),
    ("case", "replicating"): _simple("replicating"),
    ("case", "called"): _called,
    ("case", "kb_accept"): _kb_accept,
    ("case", "kb_reject"): _simple("kb reject"),
    ("case", "raise"): _simple("raise"),
    ("case", "join"): _simple("join"),
    ("case", "rate"): _rate,
    ("case", "impact"): _impact,
    ("case", "link_all"): _link_all,
    ("case", "reject"): _form("reject"),
    ("case", "escalate"): _form("escalate"),
    ("case", "assign"): _form("assign"),
    ("case", "area"): _form("area"),
    ("case", "severity"): _form("severity"),
    ("eng", "follow"): _simple("follow", "issue"),
    ("eng", "unfollow"): _simple("unfollow", "issue"),
    ("kb", "publish"): _simple("kb publish", "draft"),
    ("kb", "discard"): _simple("kb discard", "draft"),
}


def meaning(a: ActionId, value: str | None) -> Press | None:
    build = BUTTONS.get((a.kind, a.action))
    return build(a, value) if build else None


def shows_form(action_id: str) -> bool:
    """Whether pressing ``action_id`` answers with a form: its own (a reason, a person),
    or one asked after its command (the survey's comment). A platform whose forms can
    only be the first answer (Discord's modals) asks this before it defers."""
    action = parse_action(action_id)
    meant = meaning(action, None) if action else None
    return meant is not None and bool(meant.form or meant.then_ask)
