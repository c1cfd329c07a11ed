"""Discord requests through the inbox (issue #10): an answered interaction survives a crash.

An interaction casebot accepts is written to the inbox (the gateway's payload, with its
token, and the typed options) and committed; only then is it deferred — type 5
(ephemeral "thinking") for a command or a form, type 6 for a button — and handled from
the row. The answer goes through the interaction's token: an edit of the deferred
response (``PATCH /webhooks/{app}/{token}/messages/@original``) or a follow-up
(``POST /webhooks/{app}/{token}``). If the write fails, the person is told at once that
nothing happened (and nothing did).

A process killed with rows in hand leaves them to whoever takes them over once their
lease runs out (:mod:`bot.delivery.inbox`): the interaction is rebuilt from the row
(:mod:`adapters.discord.stored`), the core answers a repeat with the words it committed
with the effect, and the person gets those words through the same token. A token
answers for 15 minutes; a row taken over later than that (or whose token Discord
refuses: a process that died before it deferred) is answered by DM instead, saying why.

A message written in a channel casebot sees goes the same way, keyed by its id: a
re-delivery (a gateway resume, another process) finds the row and is dropped.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import discord

from adapters.discord import text as t
from adapters.discord.interactions import Interactions
from adapters.discord.ratelimit import patiently
from adapters.discord.settings import PLATFORM
from adapters.discord.stored import Captured, interaction_of, message_of
from bot.exchange import Reply
from bot.ports import Accepted, Inbox

log = logging.getLogger(__name__)

# How long Discord lets an interaction's token answer, and the margin kept for the
# answer's own round trip (a row taken over later goes by DM).
TOKEN_LIFETIME = timedelta(minutes=15)
TOKEN_MARGIN = timedelta(minutes=1)
# Discord's answers to a token that no longer answers: expired (401), never
# acknowledged in time or unknown (404).
TOKEN_REFUSED = (401, 404)

LATE = "casebot was restarted while it handled your last request, so its answer comes here:"


class Durable:
    """The inbox path of :class:`Interactions` (``Interactions.inboxed``)."""

    def __init__(self, interactions: Interactions, inbox: Inbox, client: discord.Client) -> None:
        self.interactions = interactions
        self.inbox = inbox
        self.client = client
        self.captured = Captured(client)
        # Objects of the requests accepted here, by row id, until handled: the fast
        # path answers through the very interaction it deferred.
        self._live: dict[int, Any] = {}
        interactions.inboxed = self

    def serve(self) -> None:
        self.inbox.serve(PLATFORM, self.handle)

    def leave(self) -> None:
        self.inbox.unserve(PLATFORM, self.handle)

    # -- accepting ---------------------------------------------------------------------

    async def accept(
        self, interaction: discord.Interaction[Any], kind: str, stored: dict[str, Any]
    ) -> None:
        raw = self.captured.take(interaction.id)
        try:
            if raw is None:
                raise LookupError(f"no gateway payload kept for interaction {interaction.id}")
            payload = {"interaction": raw, **stored}
            entry = await self.inbox.accept(PLATFORM, str(interaction.id), kind, payload)
        except Exception:
            # Nothing was accepted: say so now, while the interaction can still answer.
            log.exception("could not write interaction %s to the inbox", interaction.id)
            await self.interactions.apologise(interaction)
            return
        if entry is None:
            log.info("interaction %s was accepted before; dropped", interaction.id)
            return
        try:
            await self.interactions.defer(interaction)
        except discord.HTTPException:
            log.warning("could not defer interaction %s; it is answered by DM", interaction.id)
        await self._handle_here(entry, interaction)

    async def accept_message(self, message: discord.Message) -> None:
        raw = self.captured.take(message.id)
        if raw is None:
            log.error("no gateway payload kept for message %s; recorded from memory", message.id)
            await self.interactions.record_message(message)
            return
        entry = await self.inbox.accept(PLATFORM, str(message.id), "message", {"message": raw})
        if entry is None:
            log.info("message %s was accepted before; dropped", message.id)
            return
        await self._handle_here(entry, message)

    async def _handle_here(self, entry: Accepted, live: Any) -> None:
        self._live[entry.id] = live
        try:
            await self.inbox.handle(entry)
        except Exception:
            log.exception("inbox entry %s failed; it is tried again after its lease", entry.id)
        finally:
            self._live.pop(entry.id, None)

    # -- handling (here, or in any process after a crash) ----------------------------------

    async def handle(self, entry: Accepted) -> None:
        live = self._live.get(entry.id)
        if entry.kind == "message":
            message = live or message_of(self.client, entry.payload["message"])
            await self.interactions.record_message(message)
            return
        interaction = live or interaction_of(self.client, entry.payload["interaction"])
        found = self.interactions.stored_work(entry.kind, entry.payload, interaction.user.id)
        if found is None:
            log.error("inbox entry %s of unknown kind %s", entry.id, entry.kind)
            return
        work, form_id = found
        ctx = await self.interactions.context(interaction)
        reply = await self._recorded(await work(ctx), entry.delivery)
        kwargs, public = self.interactions.late_answer(interaction, reply, form_id)
        if entry.waited < TOKEN_LIFETIME - TOKEN_MARGIN:
            try:
                await self.interactions.send_late(interaction, kwargs, public)
                return
            except discord.HTTPException as exc:
                if exc.status not in TOKEN_REFUSED:
                    raise  # the row stays pending: answered on the next attempt
                log.info("interaction %s: its token is refused (%s)", interaction.id, exc.status)
        await self._by_dm(interaction.user.id, kwargs)

    async def _recorded(self, reply: Reply, delivery: str) -> Reply:
        """A repeat (taken over after the effect committed) answers the first run's words."""
        if not reply.duplicate:
            return reply
        text = await self.inbox.answer_of(delivery)
        return reply if text is None else Reply(text=text, case_key=reply.case_key)

    async def _by_dm(self, user_id: int, kwargs: dict[str, Any]) -> None:
        body = dict(kwargs)
        content = body.pop("content", None)
        if content and len(LATE) + 1 + len(content) > t.CONTENT_LIMIT:
            body["embed"] = discord.Embed(description=t.clip(content, t.EMBED_DESCRIPTION_LIMIT))
            content = None
        body["content"] = f"{LATE}\n{content}" if content else LATE
        dm = await self.client.create_dm(discord.Object(id=user_id))
        await patiently(lambda: dm.send(**body))
