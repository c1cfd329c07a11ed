"""A case's timeline as people read it: each entry's kind in words (one table), states
in the state machine's words, and times in the support time zone, labelled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo

from bot.lifecycle import STATE_WORDS, State
from storage.models import CaseEvent

# What each timeline entry says, in words (the stored kinds are identifiers).
EVENT_WORDS: dict[str, str] = {
    "opened": "opened the case",
    "triaged": "triaged it",
    "claimed": "claimed it",
    "assigned": "assigned it",
    "assigned by skill": "assigned it by skill",
    "replicating": "started replicating",
    "info_requested": "asked for information",
    "answered": "answered",
    "solution_proposed": "proposed a resolution",
    "confirmed": "confirmed the resolution",
    "rejected": "rejected the resolution",
    "resolved_by_article": "was helped by an article",
    "closed_withdrawn": "withdrew the case",
    "closed_duplicate": "closed it as a duplicate",
    "closed_unresponsive": "closed it after no answer",
    "reopened": "reopened it",
    "back_on_engineering": "put it back on its engineering issue",
    "linked_eng": "linked an engineering issue",
    "eng_status": "reported an engineering change",
    "eng_wont_fix": "was told engineering won't fix it",
    "customer_message": "wrote",
    "reply": "replied",
    "note": "noted (internal)",
    "call_reached": "called: reached the customer",
    "call_not_reached": "called: did not reach the customer",
    "chase_reminder": "sent a reminder",
    "phone_task": "asked for a phone call",
    "kb_suggested": "suggested articles",
    "kb_rejected": "said the articles don't help",
    "kb_draft": "drafted an article",
    "kb_covered": "found an article that covers it",
    "area_changed": "changed the product area",
    "severity_changed": "changed the severity",
    "escalated": "escalated it",
    "escalation_acknowledged": "acknowledged the escalation",
    "joined": "joined",
    "duplicate_linked": "closed a duplicate of it",
    "survey_answered": "answered the survey",
    "survey_comment": "commented on the survey",
    "sla_warning": "warned of a service-level target",
    "sla_breached": "recorded a missed service-level target",
}


def event_words(kind: str) -> str:
    """An entry's kind as people read it (an unknown kind still reads as words)."""
    return EVENT_WORDS.get(kind, kind.replace("_", " "))


def timeline_text(
    events: Sequence[CaseEvent],
    names: dict[str, str],
    limit: int = 8,
    tz: tzinfo = UTC,
) -> str:
    """The last ``limit`` entries, one a line, each time in ``tz`` and labelled with it."""
    lines = []
    for e in list(events)[-limit:]:
        who = names.get(e.actor_id or "", e.actor_id or "casebot")
        move = (
            f" ({STATE_WORDS[State(e.from_state)]} → {STATE_WORDS[State(e.to_state)]})"
            if e.to_state and e.from_state and e.to_state != e.from_state
            else ""
        )
        text = f": {e.text}" if e.text else ""
        at = e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC)
        local = at.astimezone(tz)
        lines.append(
            f"{local:%m-%d %H:%M} {local.tzname()} {who} {event_words(e.kind)}{move}{text}"
        )
    return "\n".join(lines)
