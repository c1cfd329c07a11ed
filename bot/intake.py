"""What a new case's intake says: how it got its impact, while its customer may still
correct it, what the team's card says of the knowledge-base suggestions, and the notice
that nobody can take it. (The other messages are :mod:`bot.templates`.)"""

from __future__ import annotations

from bot.actions import action_id
from bot.config import Config
from bot.lifecycle import State
from bot.messages import Action, Kind, Message, Style, Target, TargetKind
from bot.terms import HIGHEST
from storage.models import Case

# While its customer may still correct a case's impact: until an engineer starts on it.
IMPACT_STATES = (State.OPEN, State.TRIAGED, State.ASSIGNED)

# How a case got its impact, as its customer is told: chosen (by them), read from the
# words of the case, or assumed (no words suggested one).
IMPACT_HOW = {
    "chosen": "",
    "read": " (read from your words: correct it with a button below if it is wrong)",
    "assumed": " (nothing said otherwise: pick another with a button below if it is more)",
}


def impact_label(config: Config, impact_key: str) -> str:
    impact = config.impacts.get(impact_key)
    return impact.label if impact else impact_key


def knowledge_lines(config: Config, case: Case) -> list[str]:
    """The triage card's knowledge-base line: what the customer was shown, and while
    automatic assignment waits for their answer, until when."""
    keys = ", ".join(case.kb_suggested or [])
    if not keys:
        return []
    if case.routed_at is None and case.state == State.TRIAGED and case.severity != HIGHEST:
        tz = config.support.tz
        until = config.support.knowledge_wait.after(case.created_at, tz).astimezone(tz)
        return [f"Waiting for the customer on {keys} until {until:%H:%M} {config.support.timezone}"]
    return [f"Shown to the customer: {keys}"]


def nobody_can_take(case: Case, target: Target, why: str) -> Message:
    """Automatic assignment found no one: said once to the lead (the team's card says it)."""
    return Message(
        kind=Kind.ALERT,
        target=target,
        title=f"Nobody can take {case.key} [{case.severity}]: {case.title}",
        text=f"{why}. Claim it, or assign it to someone: `/case assign {case.key} <person>`.",
        actions=[
            Action(action_id("case", case.key, "claim"), "Claim", Style.PRIMARY),
            Action(action_id("case", case.key, "assign"), "Assign…"),
        ],
        case_key=case.key,
        mentions=[target.id] if target.kind == TargetKind.PERSON else [],
    )
