"""The case life cycle's use cases, one module per stage: one function each, taking
the unit of work, the actor and the command's arguments, returning what the actor is
told. :data:`TIMER_HANDLERS` are the case timers' handlers, for the timer worker."""

from __future__ import annotations

from bot.cases.assignment import (
    assign,
    assign_to,
    change_area,
    change_severity,
    claim,
    raise_case_severity,
)
from bot.cases.chase import start_chase, stop_chase
from bot.cases.chase_steps import chase_step
from bot.cases.closing import (
    close,
    close_unresponsive,
    confirm,
    duplicate,
    reject,
    reopen,
    withdraw,
)
from bot.cases.escalation import ack, escalate, escalate_to, escalation_followup, join
from bot.cases.opening import (
    NewCase,
    change_impact,
    default_impact,
    kb_accept,
    kb_reject,
    knowledge_wait_over,
    open_case,
    route,
    team_for,
)
from bot.cases.survey import (
    answer_of,
    ask_survey,
    feedback,
    low_score_alert,
    survey,
    survey_comment,
)
from bot.cases.working import (
    called,
    customer_message,
    first_response,
    need_info,
    note,
    propose,
    propose_resolution,
    replicating,
    reply,
    staff_thread_message,
    thread_reply,
)
from bot.delivery.timers import Handler
from bot.work import Work
from storage.models import Case


async def _on_chase(w: Work, case: Case | None, p: dict) -> None:
    if case is not None:
        await chase_step(w, case, int(p["step"]), int(p["generation"]))


async def _on_knowledge_wait(w: Work, case: Case | None, p: dict) -> None:
    if case is not None:
        await knowledge_wait_over(w, case)


async def _on_escalation_followup(w: Work, case: Case | None, p: dict) -> None:
    if case is not None:
        await escalation_followup(w, case, int(p["level"]), str(p["escalated_at"]))


TIMER_HANDLERS: dict[str, Handler] = {
    "chase": _on_chase,
    "knowledge_wait": _on_knowledge_wait,
    "escalation_followup": _on_escalation_followup,
}

__all__ = [
    "TIMER_HANDLERS",
    "NewCase",
    # opening
    "open_case",
    "route",
    "knowledge_wait_over",
    "kb_accept",
    "kb_reject",
    "default_impact",
    "team_for",
    # assignment
    "claim",
    "assign",
    "assign_to",
    "change_area",
    "change_severity",
    "change_impact",
    "raise_case_severity",
    # working
    "replicating",
    "need_info",
    "propose",
    "propose_resolution",
    "reply",
    "customer_message",
    "note",
    "called",
    "first_response",
    "staff_thread_message",
    "thread_reply",
    # closing
    "confirm",
    "reject",
    "withdraw",
    "duplicate",
    "close_unresponsive",
    "close",
    "reopen",
    # chase
    "start_chase",
    "stop_chase",
    "chase_step",
    # escalation
    "escalate",
    "escalate_to",
    "escalation_followup",
    "ack",
    "join",
    # survey
    "survey",
    "survey_comment",
    "ask_survey",
    "answer_of",
    "low_score_alert",
    "feedback",
]
