"""Interactions and thread messages in; the core's replies out.

Every slash command, button and modal goes through :meth:`Interactions.handle` (from
memory) or the inbox (:meth:`Interactions.stored_work`, from a row), and reaches the core only through :class:`bot.ports.Core` (``invoke`` for a subcommand with
its typed options, ``press`` for a button, ``submit`` for a modal, ``thread_message``
for a message in a case thread):

- the same interaction delivered twice is handled once (Discord lets an interaction be
  answered once; its inbox row and the core's ``event_id`` dedupe cover other workers
  and restarts);
- the same press by the same person within ``double_click_window`` is acknowledged
  silently and never reaches the core: a double click has one effect;
- with an inbox (``casebot run``), every request is written to it and deferred before
  the core sees it, then answered from the row as a follow-up
  (:mod:`adapters.discord.durable`), so it survives a crash; the exceptions are the
  requests whose answer is a form, which Discord only takes as the first answer (a
  button that asks for a reason, a survey rating and its comment, ``/case open``
  without a title): those, and every request without an inbox, answer from memory;
- from memory, the core gets ``answer_within`` seconds (Discord allows 3 for the first
  answer): a reply ready in time is sent at once, a slower one is deferred first and
  sent as a follow-up;
- the reply is private (ephemeral) unless the core marked it public, its text escaped
  and unable to ping; a ``prompt`` becomes a modal; form errors come back with a button
  that reopens the form with what the person typed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import discord
from discord import app_commands

from adapters.common import RecentKeys
from adapters.discord import choices
from adapters.discord import text as t
from adapters.discord.components import (
    FORM_BUTTON_PREFIX,
    OWN_PREFIX,
    form_custom_id,
    form_id_of,
    modal_values,
    prompt_modal,
    single_button,
)
from adapters.discord.context import (
    ChannelLookup,
    Contexts,
    RolesLookup,
    channel_as_is,
    message_text,
    no_roles,
)
from adapters.discord.ratelimit import patiently
from adapters.discord.render import reply_payload
from adapters.discord.stored import decode_args, encode_args
from bot import metrics
from bot.exchange import Context, Prompt, Reply
from bot.ports import Core
from commands.buttons import shows_form
from commands.invoke import opens_form

log = logging.getLogger(__name__)

# Discord fails an interaction not answered within 3 seconds; keep a margin for the
# round trip of the answer itself.
ANSWER_WITHIN = 2.5
DOUBLE_CLICK_WINDOW = 2.0
RECORDED = "\N{WHITE HEAVY CHECK MARK}"

SORRY = "Sorry, casebot could not finish that. Please try again in a moment."
EXPIRED = "That form is no longer open: press the button or run the command again."

Work = Callable[[Context], Awaitable[Reply]]


class Inboxed(Protocol):
    """Where requests go when they go through the inbox (:mod:`adapters.discord.durable`)."""

    async def accept(
        self, interaction: discord.Interaction[Any], kind: str, payload: dict[str, Any]
    ) -> None: ...

    async def accept_message(self, message: discord.Message) -> None: ...


class Interactions:
    def __init__(
        self,
        core: Core,
        *,
        roles_lookup: RolesLookup = no_roles,
        channel_lookup: ChannelLookup = channel_as_is,
        answer_within: float = ANSWER_WITHIN,
        double_click_window: float = DOUBLE_CLICK_WINDOW,
    ) -> None:
        self._core = core
        self._contexts = Contexts(
            core.config, roles_lookup=roles_lookup, channel_lookup=channel_lookup
        )
        self.answer_within = answer_within
        # Interactions and messages handled, and presses just made (a double click).
        self._seen: RecentKeys[int, None] = RecentKeys(size=10_000)
        self._clicks: RecentKeys[tuple[Any, ...], None] = RecentKeys(
            double_click_window, size=10_000
        )
        # Forms shown, and answers a person must correct, by (user id, form id).
        self._prompts: RecentKeys[tuple[int, str], Prompt] = RecentKeys(size=2_000)
        self._drafts: RecentKeys[tuple[int, str], dict[str, str]] = RecentKeys(size=2_000)
        self.inboxed: Inboxed | None = None  # set by the client when there is an inbox

    async def context(self, interaction: discord.Interaction[Any]) -> Context:
        return await self._contexts.of_interaction(interaction)

    # -- entry points ----------------------------------------------------------------

    async def command(
        self, interaction: discord.Interaction[Any], name: str, args: Mapping[str, Any]
    ) -> None:
        """A ``/case`` subcommand (the table's ``name``) with its typed options."""
        click = ("command", interaction.user.id, name, tuple(sorted(args.items())))
        if self.inboxed is not None and not opens_form(name, args):
            stored = {"name": name, "args": encode_args(args)}
            await self._accept(interaction, click, "command", stored)
            return
        core = self._core
        await self.handle(interaction, click, lambda ctx: core.invoke(ctx, name, args))

    async def button(self, interaction: discord.Interaction[Any], action_id: str) -> None:
        if action_id.startswith(FORM_BUTTON_PREFIX):
            await self._reopen_form(interaction, action_id[len(FORM_BUTTON_PREFIX) :])
            return
        if action_id.startswith(OWN_PREFIX):
            return  # an adapter id from a newer version; nothing to do
        message_id = interaction.message.id if interaction.message else None
        click = ("press", interaction.user.id, action_id, message_id)
        if self.inboxed is not None and not shows_form(action_id):
            await self._accept(interaction, click, "press", {"action_id": action_id})
            return
        core = self._core
        await self.handle(interaction, click, lambda ctx: core.press(ctx, action_id))

    async def modal(self, interaction: discord.Interaction[Any]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        form_id = form_id_of(str(data.get("custom_id", "")))
        if form_id is None:
            return  # not one of casebot's forms
        values = modal_values(data)
        user_id = interaction.user.id
        click = ("submit", user_id, form_id, tuple(sorted(values.items())))
        if self.inboxed is not None:
            stored = {"form_id": form_id, "values": values}
            await self._accept(interaction, click, "submit", stored)
            return
        work = self._submit(user_id, form_id, values)
        await self.handle(interaction, click, work, form_id=form_id)

    def _submit(self, user_id: int, form_id: str, values: dict[str, str]) -> Work:
        core = self._core

        async def work(ctx: Context) -> Reply:
            reply = await core.submit(ctx, form_id, values)
            if reply.errors:
                self._drafts.put((user_id, form_id), values)
            else:
                self._drafts.release((user_id, form_id))
            return reply

        return work

    def stored_work(
        self, kind: str, stored: Mapping[str, Any], user_id: int
    ) -> tuple[Work, str | None] | None:
        """What an inbox row of ``kind`` asks of the core, and its form (if a form's)."""
        core = self._core
        if kind == "command":
            name, args = str(stored["name"]), decode_args(stored["args"])
            return (lambda ctx: core.invoke(ctx, name, args)), None
        if kind == "press":
            action_id = str(stored["action_id"])
            return (lambda ctx: core.press(ctx, action_id)), None
        if kind == "submit":
            form_id = str(stored["form_id"])
            return self._submit(user_id, form_id, dict(stored["values"])), form_id
        return None

    async def autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Case keys this person may see. Autocomplete cannot be deferred: a slow
        answer is an empty list rather than an error."""
        try:
            ctx = await self.context(interaction)
            found = await asyncio.wait_for(
                self._core.autocomplete(ctx, current), timeout=self.answer_within
            )
        except Exception:
            log.warning("case autocomplete failed or was too slow", exc_info=True)
            return []
        return choices.cases(found)

    def area_choices(self, current: str) -> list[app_commands.Choice[str]]:
        return choices.areas(self._core.config, current)

    def impact_choices(self, current: str) -> list[app_commands.Choice[str]]:
        return choices.impacts(self._core.config, current)

    # -- the two paths an interaction takes ---------------------------------------

    async def _accept(
        self,
        interaction: discord.Interaction[Any],
        click_key: tuple[Any, ...],
        kind: str,
        stored: dict[str, Any],
    ) -> None:
        """Through the inbox (written, deferred, answered from the row)."""
        assert self.inboxed is not None
        if not self._seen.claim(interaction.id):
            log.info("interaction %s delivered again; handled already", interaction.id)
            return
        if not self._clicks.claim(click_key):
            await self._ack_repeat(interaction)
            return
        await self.inboxed.accept(interaction, kind, stored)

    async def handle(
        self,
        interaction: discord.Interaction[Any],
        click_key: tuple[Any, ...],
        work: Work,
        *,
        form_id: str | None = None,
    ) -> None:
        if not self._seen.claim(interaction.id):
            log.info("interaction %s delivered again; handled already", interaction.id)
            return
        if not self._clicks.claim(click_key):
            await self._ack_repeat(interaction)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.answer_within
        task: asyncio.Future[Reply] | None = None
        try:
            ctx = await self.context(interaction)
            task = asyncio.ensure_future(work(ctx))
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
            metrics.acked("discord", loop.time() - deadline + self.answer_within)
            if task in done:
                await self._answer(interaction, task.result(), form_id)
                return
            await self.defer(interaction)
            reply = await task
            await self.send_late(interaction, *self.late_answer(interaction, reply, form_id))
        except Exception:
            log.exception("interaction %s failed", interaction.id)
            await self.apologise(interaction)
        finally:
            if task is not None and not task.done():
                # The answer failed while the core was still working: let it finish
                # (its effect is committed or not as a whole), and log what it raised.
                task.add_done_callback(_log_failure)

    async def _ack_repeat(self, interaction: discord.Interaction[Any]) -> None:
        try:
            if interaction.type is discord.InteractionType.application_command:
                await interaction.response.send_message(
                    "You just sent that; it is being handled once.", ephemeral=True
                )
            else:
                await interaction.response.defer()
        except (discord.HTTPException, discord.InteractionResponded):
            log.info("could not acknowledge repeated interaction %s", interaction.id)

    # -- answering in time -------------------------------------------------------------

    async def _answer(
        self, interaction: discord.Interaction[Any], reply: Reply, form_id: str | None
    ) -> None:
        response = interaction.response
        if reply.prompt is not None and form_custom_id(reply.prompt.form_id) is not None:
            await response.send_modal(self._modal_for(interaction.user.id, reply.prompt))
            return
        kwargs = self._reply_kwargs(interaction.user.id, reply, form_id)
        await response.send_message(**kwargs, ephemeral=not reply.public)

    def _reply_kwargs(self, user_id: int, reply: Reply, form_id: str | None) -> dict[str, Any]:
        text = reply.text or ("Done." if reply.ok else "That did not work.")
        if reply.errors:
            prompt = self._prompts.get((user_id, form_id)) if form_id else None
            labels = {f.name: f.label for f in prompt.fields} if prompt else {}
            problems = "\n".join(
                f"• {labels.get(name, name)}: {message}" for name, message in reply.errors.items()
            )
            # The core's text may be the same problems in one line: say them once.
            repeated = text.split() == " ".join(reply.errors.values()).split()
            text = problems if repeated else f"{text}\n{problems}"
        kwargs = reply_payload(text)
        if reply.errors and form_id and form_custom_id(form_id):
            kwargs["view"] = single_button(FORM_BUTTON_PREFIX + form_id, "Fix the form")
        return kwargs

    def _modal_for(self, user_id: int, prompt: Prompt) -> discord.ui.Modal:
        self._prompts.put((user_id, prompt.form_id), prompt)
        return prompt_modal(prompt, self._drafts.get((user_id, prompt.form_id)))

    async def _reopen_form(self, interaction: discord.Interaction[Any], form_id: str) -> None:
        if not self._seen.claim(interaction.id):
            return
        prompt = self._prompts.get((interaction.user.id, form_id))
        if prompt is None and form_id == self._core.open_form().form_id:
            prompt = self._core.open_form()
        try:
            if prompt is None:
                await interaction.response.send_message(EXPIRED, ephemeral=True)
            else:
                await interaction.response.send_modal(self._modal_for(interaction.user.id, prompt))
        except discord.HTTPException:
            log.exception("could not reopen form %s", form_id)

    # -- answering late ----------------------------------------------------------------

    async def defer(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is discord.InteractionType.component:
            await interaction.response.defer()  # silent: the pressed message stays as it is
        else:
            await interaction.response.defer(ephemeral=True, thinking=True)

    def late_answer(
        self, interaction: discord.Interaction[Any], reply: Reply, form_id: str | None
    ) -> tuple[dict[str, Any], bool]:
        """What a deferred interaction is answered (send() keywords), and if in public."""
        if reply.prompt is not None and form_custom_id(reply.prompt.form_id) is not None:
            # A modal can only be the first answer: offer a button that opens it.
            self._prompts.put((interaction.user.id, reply.prompt.form_id), reply.prompt)
            kwargs: dict[str, Any] = {
                "content": t.escape(reply.text) if reply.text else "One more step: open the form.",
                "allowed_mentions": t.no_pings(),
                "view": single_button(
                    FORM_BUTTON_PREFIX + reply.prompt.form_id, t.one_line(reply.prompt.title, 80)
                ),
            }
            public = False
        else:
            kwargs = self._reply_kwargs(interaction.user.id, reply, form_id)
            public = reply.public
        return kwargs, public

    async def send_late(
        self, interaction: discord.Interaction[Any], kwargs: dict[str, Any], public: bool
    ) -> None:
        """The answer to a deferred interaction, through its token."""
        thinking = interaction.type is not discord.InteractionType.component
        if not thinking:
            await patiently(lambda: interaction.followup.send(**kwargs, ephemeral=not public))
        elif not public:
            await patiently(lambda: interaction.edit_original_response(**_edit(kwargs)))
        else:
            # The deferred answer is private; a public reply follows it as its own message.
            await patiently(lambda: interaction.edit_original_response(content="Posted below."))
            await patiently(lambda: interaction.followup.send(**kwargs, ephemeral=False))

    async def apologise(self, interaction: discord.Interaction[Any]) -> None:
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(SORRY, ephemeral=True)
            elif interaction.type is discord.InteractionType.component:
                await interaction.followup.send(SORRY, ephemeral=True)
            else:
                await interaction.edit_original_response(content=SORRY)
        except discord.HTTPException:
            log.exception("could not tell %s that it failed", interaction.id)

    # -- messages in case threads ----------------------------------------------------

    async def thread_message(self, message: discord.Message) -> None:
        """A plain message: if it is in a case thread the core records it (a customer's
        answer stops the chase); casebot marks it recorded with a reaction."""
        if message.author.bot or message.webhook_id is not None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        if not message_text(message).strip() or not self._seen.claim(message.id):
            return
        if self.inboxed is not None:
            await self.inboxed.accept_message(message)
            return
        await self.record_message(message)

    async def record_message(self, message: discord.Message) -> None:
        """The core records ``message`` if it was written in a case conversation."""
        ctx = await self._contexts.of_message(message)
        reply = await self._core.thread_message(ctx, message_text(message))
        if reply is None or reply.duplicate:
            return
        try:
            if reply.ok:
                await patiently(lambda: message.add_reaction(RECORDED))
            else:
                payload = reply_payload(reply.text)
                await patiently(lambda: message.reply(**payload, mention_author=False))
        except discord.HTTPException:
            log.warning("could not answer message %s in %s", message.id, message.channel.id)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "a command finished with an error after its answer failed", exc_info=task.exception()
        )


def _edit(kwargs: dict[str, Any]) -> dict[str, Any]:
    """send()-style keywords for edit_original_response (which has no ``ephemeral``)."""
    out = dict(kwargs)
    if "embed" in out:
        out["embeds"] = [out.pop("embed")]
        out.setdefault("content", None)
    return out
