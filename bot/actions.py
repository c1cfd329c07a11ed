"""The button grammar: one owner for how an action id is written and read.

An action id names its subject and what it does, so a button keeps working after a
restart: ``case:CASE-12:claim``, ``case:CASE-12:rate:4``, ``eng:ENG-3:follow``,
``kb:KB-7:publish``. :func:`action_id` writes one, :func:`parse` reads one back, and
:data:`PATTERN` is the same grammar as a regular expression (Discord's persistent
``DynamicItem`` template uses it). :data:`DEEDS` says which policy deed each action
is, so a message shows a button only to an audience that may press it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.policy import Deed

KINDS = ("case", "eng", "kb")
PREFIX = {"case": "CASE", "eng": "ENG", "kb": "KB"}

PATTERN = r"(?P<kind>case|eng|kb):(?P<key>[A-Z]+-[0-9]+):(?P<action>[a-z_-]+)(?::(?P<arg>[A-Za-z0-9_-]+))?"
_RE = re.compile(rf"^{PATTERN}$")

# What each button does, in the policy table's terms.
DEEDS: dict[tuple[str, str], Deed] = {
    ("case", "claim"): Deed.CLAIM,
    ("case", "assign"): Deed.ASSIGN,
    ("case", "area"): Deed.AREA,
    ("case", "severity"): Deed.SEVERITY,
    ("case", "raise"): Deed.SEVERITY,
    ("case", "replicating"): Deed.REPLICATING,
    ("case", "called"): Deed.CALLED,
    ("case", "confirm"): Deed.CONFIRM,
    ("case", "reject"): Deed.REJECT,
    ("case", "escalate"): Deed.ESCALATE,
    ("case", "withdraw"): Deed.WITHDRAW,
    ("case", "kb_accept"): Deed.ANSWER_KB,
    ("case", "kb_reject"): Deed.ANSWER_KB,
    ("case", "rate"): Deed.SURVEY,
    ("case", "ack"): Deed.ACK,
    ("case", "join"): Deed.JOIN,
    ("case", "impact"): Deed.IMPACT,
    ("case", "link_all"): Deed.LINK,  # the triage digest's look-alikes
    ("eng", "follow"): Deed.FOLLOW,
    ("eng", "unfollow"): Deed.FOLLOW,
    ("kb", "publish"): Deed.KB,
    ("kb", "discard"): Deed.KB,
}


@dataclass(frozen=True)
class ActionId:
    kind: str  # case | eng | kb
    key: str  # CASE-12, ENG-3, KB-7
    action: str  # claim, rate, publish, …
    arg: str | None = None  # rate:4, kb_accept:KB-2, called:reached

    def __str__(self) -> str:
        return action_id(self.kind, self.key, self.action, self.arg)

    @property
    def deed(self) -> Deed | None:
        return DEEDS.get((self.kind, self.action))


def action_id(kind: str, key: str, action: str, arg: str | None = None) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown action kind {kind!r}")
    return f"{kind}:{key}:{action}" + (f":{arg}" if arg else "")


def parse(text: str) -> ActionId | None:
    """An action id read back, or None for anything that is not one of ours."""
    m = _RE.match(text or "")
    if m is None or (m["kind"], m["action"]) not in DEEDS:
        return None
    if not m["key"].startswith(PREFIX[m["kind"]] + "-"):
        return None
    return ActionId(m["kind"], m["key"], m["action"], m["arg"])


def deed_of(text: str) -> Deed | None:
    parsed = parse(text)
    return parsed.deed if parsed else None
