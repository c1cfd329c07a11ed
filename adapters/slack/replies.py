"""Answers to the person who acted, where they acted.

A private answer (the default) goes through the ``response_url`` Slack gave with the
command or button (ephemeral, works in any channel, even one the bot is not in), else
as an ephemeral message in the channel, else in a DM with the bot. A public answer is a
normal message in the channel or thread, falling back the same way.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from slack_sdk.errors import SlackApiError

from adapters.slack.adapter import SlackAdapter
from adapters.slack.client import SlackApi, error_code
from adapters.slack.render import Rendered, render_reply
from adapters.slack.views import Origin
from commands.api import Reply

log = logging.getLogger(__name__)

SORRY = (
    "Sorry, something went wrong on casebot's side and your request may not have gone "
    "through. Please try again in a moment; if it keeps happening, tell your support lead."
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
    def __init__(self, api: SlackApi, adapter: SlackAdapter) -> None:
        self.api = api
        self.adapter = adapter

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
        channel = await self.adapter.dm_channel(user_id)
        await self.api.web.chat_postMessage(
            channel=channel, text=rendered.text, blocks=rendered.block_dicts()
        )
