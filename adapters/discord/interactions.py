"""Interactions and thread messages in; the core's replies out.

Every slash command, button and modal goes through :meth:`Interactions.handle`:

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
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

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
from adapters.discord.core import PLATFORM, Core
from adapters.discord.dedupe import DoubleClicks, Lru, SeenOnce
from adapters.discord.ratelimit import patiently
from adapters.discord.render import reply_payload
from commands.api import Context, Prompt, Reply

log = logging.getLogger(__name__)

# Discord fails an interaction not answered within 3 seconds; keep a margin for the
# round trip of the answer itself.
ANSWER_WITHIN = 2.5
DOUBLE_CLICK_WINDOW = 2.0
RECORDED = "\N{WHITE HEAVY CHECK MARK}"

SORRY = "Sorry, casebot could not finish that. Please try again in a moment."
EXPIRED = "That form is no longer open: press the button or run the command again."

RolesLookup = Callable[[int], Awaitable[tuple[str, ...]]]
# A channel id → (channel, thread) as the core keys conversations (see :func:`where`).
ChannelLookup = Callable[[int], Awaitable[tuple[str | None, str | None]]]
Work = Callable[[Context], Awaitable[Reply | None]]


async def _no_roles(user_id: int) -> tuple[str, ...]:
    return ()


async def _as_is(channel_id: int) -> tuple[str | None, str | None]:
    return (str(channel_id), None)


class Interactions:
    def __init__(
        self,
        core: Core,
        *,
        roles_lookup: RolesLookup = _no_roles,
        channel_lookup: ChannelLookup = _as_is,
        answer_within: float = ANSWER_WITHIN,
        double_click_window: float = DOUBLE_CLICK_WINDOW,
    ) -> None:
        self._core = core
        self._roles_lookup = roles_lookup
        self._channel_lookup = channel_lookup
        self.answer_within = answer_within
        self._seen: SeenOnce[int] = SeenOnce()
        self._clicks: DoubleClicks[tuple[Any, ...]] = DoubleClicks(
            double_click_window, lambda: asyncio.get_running_loop().time()
        )
        # Forms shown, and answers a person must correct, by (user id, form id).
        self._prompts: Lru[tuple[int, str], Prompt] = Lru(2_000)
        self._drafts: Lru[tuple[int, str], dict[str, str]] = Lru(2_000)

    # -- who and where -------------------------------------------------------------

    async def context(self, interaction: discord.Interaction[Any]) -> Context:
        user = interaction.user
        roles = member_roles(user)
        if not roles and not isinstance(user, discord.Member):
            roles = await self._dm_roles(user.id)
        channel_id, thread_id = await self._where(interaction.channel, interaction.channel_id)
        return Context(
            platform=PLATFORM,
            user_id=str(user.id),
            channel_id=channel_id,
            thread_id=thread_id,
            user_name=user.display_name,
            roles=roles,
            event_id=str(interaction.id),
        )

    async def _where(self, channel: Any, channel_id: int | None) -> tuple[str | None, str | None]:
        known = where(channel, channel_id)
        if isinstance(channel, discord.PartialMessageable) and channel.guild_id and channel_id:
            # A server channel discord.py has not cached (a thread it never saw open):
            # only Discord knows whether it is a thread, and of which channel.
            try:
                return await self._channel_lookup(channel_id)
            except discord.HTTPException:
                log.warning("could not look up Discord channel %s", channel_id)
        return known

    async def _dm_roles(self, user_id: int) -> tuple[str, ...]:
        """In a DM Discord sends no roles; a customer known only by their account's role
        is looked up in the servers casebot serves (configured people need no lookup)."""
        if self._core.config.person_by_identity(PLATFORM, str(user_id)) is not None:
            return ()
        try:
            return await self._roles_lookup(user_id)
        except Exception:  # a failed lookup means "no roles", never a failed command
            log.exception("could not look up the Discord roles of %s", user_id)
            return ()

    # -- entry points ----------------------------------------------------------------

    async def command(self, interaction: discord.Interaction[Any], text: str) -> None:
        """A ``/case`` subcommand, already turned into the core's text form."""
        commands = self._core.commands
        await self.handle(
            interaction,
            ("command", interaction.user.id, text),
            lambda ctx: commands.run(ctx, text),
        )

    async def button(self, interaction: discord.Interaction[Any], action_id: str) -> None:
        if action_id.startswith(FORM_BUTTON_PREFIX):
            await self._reopen_form(interaction, action_id[len(FORM_BUTTON_PREFIX) :])
            return
        if action_id.startswith(OWN_PREFIX):
            return  # an adapter id from a newer version; nothing to do
        message_id = interaction.message.id if interaction.message else None
        commands = self._core.commands
        await self.handle(
            interaction,
            ("press", interaction.user.id, action_id, message_id),
            lambda ctx: commands.press(ctx, action_id),
        )

    async def modal(self, interaction: discord.Interaction[Any]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        form_id = form_id_of(str(data.get("custom_id", "")))
        if form_id is None:
            return  # not one of casebot's forms
        values = modal_values(data)
        commands = self._core.commands
        user_id = interaction.user.id

        async def work(ctx: Context) -> Reply | None:
            reply = await commands.submit(ctx, form_id, values)
            if reply is not None and reply.errors:
                self._drafts.put((user_id, form_id), values)
            else:
                self._drafts.pop((user_id, form_id))
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
                self._core.commands.autocomplete(ctx, current), timeout=self.answer_within
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

    # -- the one path every interaction takes -------------------------------------

    async def handle(
        self,
        interaction: discord.Interaction[Any],
        click_key: tuple[Any, ...],
        work: Work,
        *,
        form_id: str | None = None,
    ) -> None:
        if not self._seen.first(interaction.id):
            log.info("interaction %s delivered again; handled already", interaction.id)
            return
        if self._clicks.is_repeat(click_key):
            await self._ack_repeat(interaction)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.answer_within
        task: asyncio.Future[Reply | None] | None = None
        try:
            ctx = await self.context(interaction)
            task = asyncio.ensure_future(work(ctx))
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
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
        self, interaction: discord.Interaction[Any], reply: Reply | None, form_id: str | None
    ) -> None:
        response = interaction.response
        if reply is None:
            if interaction.type is discord.InteractionType.component:
                await response.defer()
            else:
                await response.send_message("Done.", ephemeral=True)
            return
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
            text = f"{text}\n{problems}" if text else problems
        kwargs = reply_payload(text)
        if reply.errors and form_id and form_custom_id(form_id):
            kwargs["view"] = single_button(FORM_BUTTON_PREFIX + form_id, "Fix the form")
        return kwargs

    def _modal_for(self, user_id: int, prompt: Prompt) -> discord.ui.Modal:
        self._prompts.put((user_id, prompt.form_id), prompt)
        return prompt_modal(prompt, self._drafts.get((user_id, prompt.form_id)))

    async def _reopen_form(self, interaction: discord.Interaction[Any], form_id: str) -> None:
        if not self._seen.first(interaction.id):
            return
        prompt = self._prompts.get((interaction.user.id, form_id))
        if prompt is None and form_id == self._core.commands.open_form().form_id:
            prompt = self._core.commands.open_form()
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
        self, interaction: discord.Interaction[Any], reply: Reply | None, form_id: str | None
    ) -> None:
        thinking = interaction.type is not discord.InteractionType.component
        if reply is None:
            if thinking:
                await patiently(lambda: interaction.edit_original_response(content="Done."))
            return
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
        if not words.strip() or not self._seen.first(message.id):
            return
        channel_id, thread_id = await self._where(message.channel, message.channel.id)
        roles = member_roles(message.author)
        if not roles and message.guild is None:
            roles = await self._dm_roles(message.author.id)
        ctx = Context(
            platform=PLATFORM,
            user_id=str(message.author.id),
            channel_id=channel_id,
            thread_id=thread_id,
            user_name=message.author.display_name,
            roles=roles,
            event_id=str(message.id),
        )
        reply = await self._core.commands.thread_message(ctx, words)
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


def where(channel: Any, channel_id: int | None) -> tuple[str | None, str | None]:
    """(channel, thread) as the core keys conversations: a message in a thread is in
    the thread's parent channel, thread = the thread's id (docs/adapters.md)."""
    if isinstance(channel, discord.Thread):
        return (str(channel.parent_id), str(channel.id))
    if channel_id is None:
        return (None, None)
    return (str(channel_id), None)


def member_roles(user: Any) -> tuple[str, ...]:
    """A server member's role ids (without @everyone, whose id is the server's)."""
    if not isinstance(user, discord.Member):
        return ()
    guild_id = user.guild.id if user.guild else None
    # The raw ids from the payload: Member.roles drops ids of roles not in the cache.
    raw = getattr(user, "_roles", None)
    ids = list(raw) if raw is not None else [r.id for r in user.roles]
    return tuple(str(r) for r in ids if r != guild_id)


def message_text(message: discord.Message) -> str:
    """What the person wrote, with attachments as links (the core keeps text only)."""
    parts = [message.content] if message.content else []
    parts.extend(f"[attachment] {a.url}" for a in message.attachments)
    return "\n".join(parts)
