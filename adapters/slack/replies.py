"""Answers to the person who acted, where they acted.

A private answer (the default) goes through the ``response_url`` Slack gave with the
command or button (ephemeral, works in any channel, even one the bot is not in), else
as an ephemeral message in the channel, else in a DM with the bot. A public answer is a
normal message in the channel or thread, falling back the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from slack_sdk.errors import SlackApiError

from adapters.slack.client import SlackApi, error_code
from adapters.slack.people import Directory
from adapters.slack.render import Rendered, render_reply
from adapters.slack.views import Origin, form_modal
from bot.exchange import Reply

log = logging.getLogger(__name__)

SORRY = (
    "Sorry, something went wrong on casebot's side and your request may not have gone "
    "through. Please try again in a moment; if it keeps happening, tell your support lead."
)

FORM_LATE = (
    "The form could not open in time (Slack gives it 3 seconds). Please try again, or use "
    "`/case open <title>`."
)

_FALL_THROUGH = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_in_channel",
        "restricted_action",
    }
)


class Responder:
    def __init__(self, api: SlackApi, directory: Directory) -> None:
        self.api = api
        self.directory = directory

    async def answer(self, reply: Reply | None, origin: Origin, trigger_id: str | None) -> None:
        """Show the core's reply: its form (a modal, when Slack gave a ``trigger_id``), or
        its words (privately unless public)."""
        if reply is None or reply.duplicate:
            return
        if reply.prompt is not None:
            if trigger_id:
                try:
                    await self.api.web.views_open(
                        trigger_id=trigger_id, view=form_modal(reply.prompt, origin).to_dict()
                    )
                    return
                except SlackApiError as exc:
                    log.info("views.open failed: %s", error_code(exc))
            await self.reply(origin, Reply(text=FORM_LATE, ok=False))
            return
        if reply.text or not reply.ok:
            await self.reply(origin, reply)

    async def guarded(self, origin: Origin, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work``; if it fails, say so to the person in plain words, then re-raise."""
        try:
            await work()
        except Exception:
            await self.sorry(origin)
            raise

    async def reply(
        self, origin: Origin, reply: Reply, link: tuple[str, str] | None = None
    ) -> None:
        rendered = render_reply(reply.text, ok=reply.ok, link=link)
        if reply.public:
            await self.public(origin, rendered)
        else:
            await self.private(origin, rendered)

    async def sorry(self, origin: Origin) -> None:
        try:
            await self.private(origin, render_reply(SORRY, ok=False))
        except Exception:  # noqa: BLE001 - the person cannot be told; the log has it
            log.exception("could not tell %s that their request failed", origin.user_id)

    async def private(self, origin: Origin, rendered: Rendered) -> None:
        blocks = rendered.block_dicts()
        if origin.response_url:
            ok = await self.api.respond(
                origin.response_url,
                response_type="ephemeral",
                replace_original=False,
                text=rendered.text,
                blocks=blocks,
            )
            if ok:
                return
            log.info("response_url refused the answer for %s; trying the channel", origin.user_id)
        if origin.channel_id:
            try:
                await self.api.web.chat_postEphemeral(
                    channel=origin.channel_id,
                    user=origin.user_id,
                    thread_ts=origin.thread_ts,
                    text=rendered.text,
                    blocks=blocks,
                )
                return
            except SlackApiError as exc:
                if error_code(exc) not in _FALL_THROUGH:
                    raise
        await self._dm(origin.user_id, rendered)

    async def public(self, origin: Origin, rendered: Rendered) -> None:
        if origin.channel_id:
            try:
                await self.api.web.chat_postMessage(
                    channel=origin.channel_id,
                    thread_ts=origin.thread_ts,
                    text=rendered.text,
                    blocks=rendered.block_dicts(),
                    unfurl_links=False,
                    unfurl_media=False,
                )
                return
            except SlackApiError as exc:
                if error_code(exc) not in _FALL_THROUGH:
                    raise
        if origin.response_url and await self.api.respond(
            origin.response_url,
            response_type="in_channel",
            replace_original=False,
            text=rendered.text,
            blocks=rendered.block_dicts(),
        ):
            return
        await self.private(replace(origin, response_url=None, channel_id=None), rendered)

    async def _dm(self, user_id: str, rendered: Rendered) -> None:
        channel = await self.directory.dm_channel(user_id)
        await self.api.web.chat_postMessage(
            channel=channel, text=rendered.text, blocks=rendered.block_dicts()
        )
