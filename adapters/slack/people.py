"""Who is who on Slack: configured people by their Slack user id, and back.

People are recognised by ``person.identities["slack"]``. Customers casebot has not been
told about are known to the core as ``slack:U…``; the part after the colon is their
Slack user id. Display names of people not in the configuration come from
``users.info`` (once per user, then cached) so the core can name them.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Config, Person

PLATFORM = "slack"
UNCONFIGURED_PREFIX = f"{PLATFORM}:"

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class Directory:
    def __init__(self, config: Config, web: AsyncWebClient, *, cache_size: int = 4096) -> None:
        self.config = config
        self.web = web
        self._names: OrderedDict[str, str | None] = OrderedDict()
        self._cache_size = cache_size

    def person(self, user_id: str) -> Person | None:
        return self.config.person_by_identity(PLATFORM, user_id)

    def slack_user(self, person_id: str) -> str | None:
        """The Slack user id of a core person id, if they have one."""
        if person_id.startswith(UNCONFIGURED_PREFIX):
            return person_id[len(UNCONFIGURED_PREFIX) :] or None
        person = self.config.person(person_id)
        if person is None:
            return None
        return person.identities.get(PLATFORM)

    def display_name(self, person_id: str) -> str:
        person = self.config.person(person_id)
        return person.name if person else person_id

    def command_ref(self, user_id: str) -> str:
        """How a ``<@U…>`` in ``/case`` arguments reaches the core: the configured person
        id when there is one (``assign CASE-3 bruno``), else the platform's mention."""
        person = self.person(user_id)
        return person.id if person else f"<@{user_id}>"

    def text_ref(self, user_id: str) -> str:
        """How a ``<@U…>`` in free text reads once it is plain words."""
        person = self.person(user_id)
        if person is not None:
            return f"@{person.name}"
        name = self._names.get(user_id)
        return f"@{name}" if name else "@someone"

    async def learn_mentioned(self, text: str) -> None:
        """Look up the names of the people mentioned in ``text`` (before ``text_ref``)."""
        for user_id in set(_MENTION.findall(text)):
            if self.person(user_id) is None and user_id not in self._names:
                await self.user_name(user_id)

    async def user_name(self, user_id: str, given: str | None = None) -> str | None:
        """A name for someone: the configured one, else Slack's (``users.info``)."""
        person = self.person(user_id)
        if person is not None:
            return person.name
        if user_id in self._names:
            self._names.move_to_end(user_id)
            return self._names[user_id] or given
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
            # Not fatal: the core names unknown people by id.
            log.info("users.info failed for %s: %s", user_id, exc.response.get("error"))
        self._names[user_id] = name
        if len(self._names) > self._cache_size:
            self._names.popitem(last=False)
        return name or given
