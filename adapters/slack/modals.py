"""Modal submissions: the one request answered inside its acknowledgement.

A modal's validation errors must travel in the acknowledgement itself
(``response_action: errors``), so here the core's ``submit`` runs inside the ack,
within a budget well under Slack's 3-second deadline: the rules for a valid form
(known product areas, impacts, lengths) are the core's, and copying them here would
let the two drift apart. It is one short transaction; if it ever takes longer than the
budget the modal is closed and the answer follows as a message.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from adapters.common import RecentKeys
from adapters.slack.dedupe import payload_id
from adapters.slack.replies import Responder
from adapters.slack.tasks import Background
from adapters.slack.views import Origin, form_id_of, form_modal, modal_errors, submitted_values
from bot.exchange import Context, Reply
from bot.ports import Core


class _Budget(Protocol):
    @property
    def submit_budget(self) -> float: ...


class Owner(Protocol):
    """What modals share with the listeners (``adapters.slack.listeners.Listeners``):
    read at each submission, so a test may swap them."""

    @property
    def core(self) -> Core: ...
    @property
    def deliveries(self) -> RecentKeys[str, None]: ...
    @property
    def tasks(self) -> Background: ...
    @property
    def responder(self) -> Responder: ...
    @property
    def settings(self) -> _Budget: ...

    async def context(
        self,
        user_id: str,
        channel_id: str | None,
        thread_ts: str | None,
        event_id: str,
        given_name: str | None = None,
    ) -> Context: ...


class Modals:
    """The ``view_submission`` side of the listeners (sharing their re-delivery memory,
    tasks and settings)."""

    def __init__(self, listeners: Owner) -> None:
        self.listeners = listeners

    async def submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        owner = self.listeners
        user_id = body["user"]["id"]
        origin = Origin.from_metadata(view.get("private_metadata"), user_id)
        delivery = payload_id("view", body)
        if not owner.deliveries.claim(delivery):
            await ack()
            return

        async def submit() -> Reply:
            ctx = await owner.context(
                user_id, origin.channel_id, origin.thread_ts, delivery, body["user"].get("name")
            )
            return await owner.core.submit(ctx, form_id_of(view), submitted_values(view))

        # Not behind the listeners' slots: this runs inside the ack's budget and must
        # not queue.
        task = owner.tasks.spawn(submit(), name="slack:submit")
        done, _ = await asyncio.wait({task}, timeout=owner.settings.submit_budget)
        if task in done and task.exception() is None:
            reply = task.result()
            if reply.errors:
                # Nothing happened; let the same submission be corrected and sent again.
                owner.deliveries.release(delivery)
                await ack(response_action="errors", errors=modal_errors(reply.errors, view))
                return
            if reply.prompt is not None and not reply.duplicate:
                await ack(response_action="update", view=form_modal(reply.prompt, origin))
                return
            await ack()
            responder = owner.responder
            owner.tasks.spawn(
                responder.guarded(origin, lambda: responder.answer(reply, origin, None))
            )
            return
        # Too slow, or it failed: close the modal now and answer when we know.
        await ack()
        owner.tasks.spawn(self._late(task, origin, delivery), name="slack:submit-late")

    async def _late(self, task: asyncio.Task[Reply], origin: Origin, delivery: str) -> None:
        owner = self.listeners
        try:
            reply = await task
        except Exception:
            owner.deliveries.release(delivery)
            await owner.responder.sorry(origin)
            raise
        if reply.errors:
            problems = "\n".join(f"• {message}" for message in reply.errors.values())
            reply = Reply(text=f"{reply.text}\n{problems}".strip(), ok=False)
        await owner.responder.answer(reply, origin, None)
