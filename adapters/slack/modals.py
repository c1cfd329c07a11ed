"""Modal submissions (``view_submission``), through the inbox like every other request.

Slack wants a modal's field errors in the acknowledgement (``response_action:
errors``), so the listener first checks the submission against the form as it was
shown (:func:`field_errors`): every input the modal declared — a required one answered,
a choice one of its options, a text within its length. That is pure: no database, no
core call, nothing that can be slow or fail. A submission that passes is written to the
inbox, acknowledged (the modal closes) and handled from there like a slash command
(:meth:`Modals.handle`): the core's ``submit`` runs, and its answer reaches the person
as a message — also when this process dies after the ack and another takes the row over.
What only the core can judge (a case that moved on, a rule of the open form) is answered
the same way, in words that name each problem.
"""

from __future__ import annotations

from typing import Any, Protocol

from adapters.slack.replies import Responder
from adapters.slack.views import Origin, form_id_of, submitted_values
from bot.exchange import Context, Reply
from bot.ports import Core


def field_errors(view: dict[str, Any]) -> dict[str, str]:
    """What is wrong with a submitted modal's answers, by block id, judged against the
    inputs the modal declared (empty when nothing is)."""
    values = submitted_values(view)
    errors: dict[str, str] = {}
    for block in view.get("blocks") or []:
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        name = str(block.get("block_id", ""))
        element = block.get("element") or {}
        label = str((block.get("label") or {}).get("text") or "This")
        value = values.get(name, "").strip()
        if not value:
            if not block.get("optional"):
                errors[name] = f"{label} is needed."
            continue
        if element.get("type") == "static_select":
            allowed = {str(o.get("value")) for o in element.get("options") or []}
            if value not in allowed:
                errors[name] = f"Choose one of the options for {label}."
            continue
        limit = element.get("max_length")
        if isinstance(limit, int) and len(value) > limit:
            errors[name] = f"{label} is {len(value)} characters; keep it within {limit}."
    return errors


class Owner(Protocol):
    """What modals share with the listeners (``adapters.slack.listeners.Listeners``)."""

    @property
    def core(self) -> Core: ...
    @property
    def responder(self) -> Responder: ...

    async def context(
        self,
        user_id: str,
        channel_id: str | None,
        thread_ts: str | None,
        event_id: str,
        given_name: str | None = None,
    ) -> Context: ...

    async def recorded(self, reply: Reply, delivery: str) -> Reply: ...


class Modals:
    """The work of an accepted submission, here just after its ack or in any process
    after a crash: the same either way, from the body Slack sent."""

    def __init__(self, listeners: Owner) -> None:
        self.listeners = listeners

    async def handle(self, body: dict[str, Any], delivery: str) -> None:
        owner = self.listeners
        view = body.get("view") or {}
        user = body.get("user") or {}
        origin = Origin.from_metadata(view.get("private_metadata"), str(user.get("id", "")))

        async def work() -> None:
            ctx = await owner.context(
                origin.user_id, origin.channel_id, origin.thread_ts, delivery, user.get("name")
            )
            reply = await owner.core.submit(ctx, form_id_of(view), submitted_values(view))
            # The modal is closed by now: a refusal's text names every problem it found.
            reply = await owner.recorded(reply, delivery)
            await owner.responder.answer(reply, origin, body.get("trigger_id"))

        await owner.responder.guarded(origin, work)
