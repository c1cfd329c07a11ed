"""Interactions and thread messages in; the core's replies out.

Every slash command, button and modal goes through :meth:`Interactions.handle`, and
reaches the core only through :class:`bot.ports.Core` (``invoke`` for a subcommand with
its typed options, ``press`` for a button, ``submit`` for a modal, ``thread_message``
for a message in a case thread):

- the same interaction delivered twice is handled once (Discord lets an interaction be
  answered once; the core's ``event_id`` dedupe covers other workers and restarts);
- the same press by the same person within ``double_click_window`` is acknowledged
  silently and never reaches the core: a double click has one effect;
- the core gets ``answer_within`` seconds (Discord allows 3 for the first answer): a
  reply ready in time is sent at once (a modal only works this way), a slower one is
  deferred first and sent as a follow-up;
- the reply is private (ephemeral) unless the core marked it public, its text escaped
  and unable to ping; a ``prompt`` becomes a modal; form errors come back with a button
  that reopens the form with what the person typed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import discord
from discord import app_commands

from adapters.common import RecentKeys
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
from bot import metrics
from bot.exchange import Context, Prompt, Reply
from bot.ports import Core

log = logging.getLogger(__name__)

# Discord fails an interaction not answered within 3 seconds; keep a margin for the
# round trip of the answer itself.
ANSWER_WITHIN = 2.5
DOUBLE_CLICK_WINDOW = 2.0
RECORDED = "\N{WHITE HEAVY CHECK MARK}"

SORRY = "Sorry, casebot could not finish that. Please try again in a moment."
EXPIRED = "That form is no longer open: press the button or run the command again."

Work = Callable[[Context], Awaitable[Reply]]


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

    async def context(self, interaction: discord.Interaction[Any]) -> Context:
        return await self._contexts.of_interaction(interaction)

    # -- entry points ----------------------------------------------------------------

    async def command(
        self, interaction: discord.Interaction[Any], name: str, args: Mapping[str, Any]
    ) -> None:
        """A ``/case`` subcommand (the table's ``name``) with its typed options."""
        core = self._core
        await self.handle(
            interaction,
            ("command", interaction.user.id, name, tuple(sorted(args.items()))),
            lambda ctx: core.invoke(ctx, name, args),
        )

    async def button(self, interaction: discord.Interaction[Any], action_id: str) -> None:
        if action_id.startswith(FORM_BUTTON_PREFIX):
            await self._reopen_form(interaction, action_id[len(FORM_BUTTON_PREFIX) :])
            return
        if action_id.startswith(OWN_PREFIX):
            return  # an adapter id from a newer version; nothing to do
        message_id = interaction.message.id if interaction.message else None
        core = self._core
        await self.handle(
            interaction,
            ("press", interaction.user.id, action_id, message_id),
            lambda ctx: core.press(ctx, action_id),
        )

    async def modal(self, interaction: discord.Interaction[Any]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        form_id = form_id_of(str(data.get("custom_id", "")))
        if form_id is None:
            return  # not one of casebot's forms
        values = modal_values(data)
        core = self._core
        user_id = interaction.user.id

        async def work(ctx: Context) -> Reply:
            reply = await core.submit(ctx, form_id, values)
            if reply.errors:
                self._drafts.put((user_id, form_id), values)
            else:
                self._drafts.release((user_id, form_id))
            return reply

        await self.handle(
            interaction,
            ("submit", user_id, form_id, tuple(sorted(values.items()))),
            work,
            form_id=form_id,
        )

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
        return [
            app_commands.Choice(
                name=t.one_line(_choice_name(key, label), t.CHOICE_NAME_LIMIT), value=key
            )
            for key, label in found[: t.CHOICES_MAX]
        ]

    def area_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """The configured product areas matching what the person typed."""
        needle = current.strip().lower()
        return [
            app_commands.Choice(
                name=t.one_line(f"{a.name} ({a.key})", t.CHOICE_NAME_LIMIT), value=a.key
            )
            for a in self._core.config.product_areas
            if needle in a.key.lower() or needle in a.name.lower()
        ][: t.CHOICES_MAX]

    def impact_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """The configured business impacts matching what the person typed."""
        needle = current.strip().lower()
        return [
            app_commands.Choice(
                name=t.one_line(f"{i.label} ({key})", t.CHOICE_NAME_LIMIT), value=key
            )
            for key, i in self._core.config.impacts.items()
            if needle in key.lower() or needle in i.label.lower()
        ][: t.CHOICES_MAX]

    # -- the one path every interaction takes -------------------------------------

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
            await self._defer(interaction)
            reply = await task
            await self._answer_late(interaction, reply, form_id)
        except Exception:
            log.exception("interaction %s failed", interaction.id)
            await self._apologise(interaction)
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

    async def _defer(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is discord.InteractionType.component:
            await interaction.response.defer()  # silent: the pressed message stays as it is
        else:
            await interaction.response.defer(ephemeral=True, thinking=True)

    async def _answer_late(
        self, interaction: discord.Interaction[Any], reply: Reply, form_id: str | None
    ) -> None:
        thinking = interaction.type is not discord.InteractionType.component
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
        if not thinking:
            await patiently(lambda: interaction.followup.send(**kwargs, ephemeral=not public))
        elif not public:
            await patiently(lambda: interaction.edit_original_response(**_edit(kwargs)))
        else:
            # The deferred answer is private; a public reply follows it as its own message.
            await patiently(lambda: interaction.edit_original_response(content="Posted below."))
            await patiently(lambda: interaction.followup.send(**kwargs, ephemeral=False))

    async def _apologise(self, interaction: discord.Interaction[Any]) -> None:
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
        words = message_text(message)
        if not words.strip() or not self._seen.claim(message.id):
            return
        ctx = await self._contexts.of_message(message)
        reply = await self._core.thread_message(ctx, words)
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


def _choice_name(key: str, label: str) -> str:
    """The key first, so a person picks by it; the core's label may already start with it."""
    if not label:
        return key
    return label if label.startswith(key) else f"{key} · {label}"


def _edit(kwargs: dict[str, Any]) -> dict[str, Any]:
    """send()-style keywords for edit_original_response (which has no ``ephemeral``)."""
    out = dict(kwargs)
    if "embed" in out:
        out["embeds"] = [out.pop("embed")]
        out.setdefault("content", None)
    return out
