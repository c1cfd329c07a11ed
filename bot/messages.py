"""Neutral outbound messages: what the core says, to whom, with which buttons.

The core never writes platform markup. ``text`` and field values are plain text
(line breaks allowed) that may contain user-supplied words; every adapter escapes
all of it for its platform, so nothing a user typed can ever mention anyone.
Intentional pings are listed in ``mentions`` (person ids) and rendered by the
adapter as real mentions, outside the escaped text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a message is; adapters pick their rendering from it."""

    CASE_OPENED = "case_opened"  # the customer-facing case message (its thread is the case thread)
    KB_SUGGESTIONS = "kb_suggestions"
    TRIAGE_ALERT = "triage_alert"
    TRIAGE_DIGEST = "triage_digest"  # a storm's new cases in one message, edited in place
    ASSIGNMENT_PING = "assignment_ping"
    INFO_REQUEST = "info_request"
    CHASE_REMINDER = "chase_reminder"
    PHONE_TASK = "phone_task"
    ESCALATION_DM = "escalation_dm"
    RESOLUTION_PROPOSAL = "resolution_proposal"
    ENG_UPDATE = "eng_update"
    SURVEY_PROMPT = "survey_prompt"
    KB_DRAFT = "kb_draft"
    CASE_UPDATE = "case_update"  # anything else a party should know about a case
    ALERT = "alert"  # staff alerts: low survey score, escalation to lead, SLA warnings


class TargetKind(StrEnum):
    PERSON = "person"  # a direct message to a configured person (id = person id)
    TEAM = "team"  # the team's channel (id = team key)
    CASE_CUSTOMER = "case_customer"  # the customer-facing case thread (id = case key)
    CASE_STAFF = "case_staff"  # the staff thread under the triage alert (id = case key)


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    id: str

    @classmethod
    def person(cls, person_id: str) -> Target:
        return cls(TargetKind.PERSON, person_id)

    @classmethod
    def team(cls, team_key: str) -> Target:
        return cls(TargetKind.TEAM, team_key)

    @classmethod
    def case_customer(cls, case_key: str) -> Target:
        return cls(TargetKind.CASE_CUSTOMER, case_key)

    @classmethod
    def case_staff(cls, case_key: str) -> Target:
        return cls(TargetKind.CASE_STAFF, case_key)


class Style(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True)
class Action:
    """A button. ``id`` carries its subject and action, e.g. ``case:CASE-12:claim``,
    ``case:CASE-12:rate:4``, ``eng:ENG-3:follow``, ``kb:KB-7:publish``; pressing it
    does the same as the matching ``/case`` subcommand (see ``commands.actions``)."""

    id: str
    label: str
    style: Style = Style.DEFAULT


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass
class Message:
    kind: Kind
    target: Target
    title: str
    text: str = ""
    fields: list[Field] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    case_key: str | None = None
    eng_key: str | None = None
    # The platform the message goes out on ("slack", "discord", "console").
    platform: str = "console"
    # Person ids to really ping (rendered as mentions by the adapter).
    mentions: list[str] = field(default_factory=list)
    # A stable name for the platform message this one is, e.g. "triage:CASE-3".
    # A later message with the same ``ref`` and ``update=True`` edits it in place.
    ref: str | None = None
    update: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = {"kind": str(self.target.kind), "id": self.target.id}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(
            kind=Kind(data["kind"]),
            target=Target(TargetKind(data["target"]["kind"]), data["target"]["id"]),
            title=data["title"],
            text=data.get("text", ""),
            fields=[Field(**f) for f in data.get("fields", [])],
            actions=[
                Action(a["id"], a["label"], Style(a.get("style", "default")))
                for a in data.get("actions", [])
            ],
            case_key=data.get("case_key"),
            eng_key=data.get("eng_key"),
            platform=data.get("platform", "console"),
            mentions=list(data.get("mentions", [])),
            ref=data.get("ref"),
            update=bool(data.get("update", False)),
        )

    def plain(self) -> str:
        """A plain-text rendering: the fallback every platform can show."""
        lines = [self.title]
        if self.text:
            lines.append(self.text)
        lines.extend(f"{f.label}: {f.value}" for f in self.fields)
        if self.actions:
            lines.append("[" + "] [".join(a.label for a in self.actions) + "]")
        return "\n".join(lines)
