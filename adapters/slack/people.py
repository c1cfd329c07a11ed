"""Slack users as Slack knows them: their names (``users.info``) and the DM the bot has
with each of them (``conversations.open``), both looked up once and remembered.

Who a Slack user is to casebot (a configured person, a customer met in a shared
channel) is the core's to decide (``bot.identity``); who a message is for arrives
resolved in the delivery context. Nothing here reads the configuration.
"""

from __future__ import annotations

import logging
import re

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common import RecentKeys
from adapters.slack.client import error_code

PLATFORM = "slack"

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class Directory:
    def __init__(self, web: AsyncWebClient, *, cache_size: int = 4096) -> None:
        self.web = web
        # user id → their Slack name (None: looked up, Slack gave none).
        self._names: RecentKeys[str, str] = RecentKeys(size=cache_size)
        # user id → the id of the bot's DM with them.
        self._dms: RecentKeys[str, str] = RecentKeys(size=cache_size * 4)

    def text_ref(self, user_id: str) -> str:
        """How a ``<@U…>`` in free text reads once it is plain words (after
        :meth:`learn_mentioned`)."""
        name = self._names.get(user_id)
        return f"@{name}" if name else "@someone"

    async def learn_mentioned(self, text: str) -> None:
        """Look up the names of the people mentioned in ``text`` (before ``text_ref``)."""
        for user_id in set(_MENTION.findall(text)):
            await self.user_name(user_id)

    async def user_name(self, user_id: str, given: str | None = None) -> str | None:
        """Slack's name for someone (``users.info``), else ``given`` (the payload's)."""
        if user_id in self._names:
            return self._names.get(user_id) or given
        name: str | None = None
        try:
            response = await self.web.users_info(user=user_id)
            user = response.get("user") or {}
            profile = user.get("profile") or {}
            name = (
                profile.get("display_name")
                or profile.get("real_name")
                or user.get("real_name")
                or user.get("name")
            ) or None
        except SlackApiError as exc:
            # Not fatal: the core names people it knows itself, and others by id.
            log.info("users.info failed for %s: %s", user_id, error_code(exc))
        self._names.claim(user_id, name)
        return name or given

    async def dm_channel(self, user_id: str) -> str:
        """The DM between the bot and ``user_id`` (``conversations.open``, remembered)."""
        channel = self._dms.get(user_id)
        if channel is None:
            response = await self.web.conversations_open(users=user_id)
            channel = str(response["channel"]["id"])
            self._dms.put(user_id, channel)
        return channel
