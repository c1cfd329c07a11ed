"""The App Home tab: a customer's open cases, an engineer's queue, kept current.

Slack sends ``app_home_opened`` each time someone opens the tab, and we publish a fresh
view then. While people may be looking at it (they opened it in the last
``fresh_for`` seconds), a change to any case republishes their views too. Changes
arriving while a refresh runs are folded into one more pass, so a burst of deliveries
costs at most two rounds of ``views.publish``.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from adapters.slack.client import SlackApi
from adapters.slack.people import PLATFORM
from adapters.slack.tasks import Background
from adapters.slack.views import home_view
from bot.exchange import Context
from bot.ports import Core

log = logging.getLogger(__name__)


class HomeTabs:
    def __init__(
        self,
        core: Core,
        api: SlackApi,
        tasks: Background,
        *,
        fresh_for: float = 15 * 60,
        max_viewers: int = 100,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = core
        self.api = api
        self.tasks = tasks
        self.fresh_for = fresh_for
        self.max_viewers = max_viewers
        self._now = now
        self._viewers: OrderedDict[str, float] = OrderedDict()
        self._dirty = False
        self._refreshing = False

    def opened(self, user_id: str) -> None:
        self._viewers.pop(user_id, None)
        self._viewers[user_id] = self._now()
        while len(self._viewers) > self.max_viewers:
            self._viewers.popitem(last=False)
        self.tasks.spawn(self.publish(user_id), name=f"home:{user_id}")

    async def publish(self, user_id: str) -> None:
        home = await self.core.home(Context(platform=PLATFORM, user_id=user_id))
        await self.api.web.views_publish(user_id=user_id, view=home_view(home).to_dict())

    def changed(self) -> None:
        """Something about a case changed: refresh the views people may be looking at."""
        if not self._viewers:
            return
        self._dirty = True
        if not self._refreshing:
            self._refreshing = True
            self.tasks.spawn(self._refresh(), name="home:refresh")

    def _watching(self) -> list[str]:
        cutoff = self._now() - self.fresh_for
        for user, at in list(self._viewers.items()):
            if at < cutoff:
                del self._viewers[user]
        return list(self._viewers)

    async def _refresh(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                for user_id in self._watching():
                    try:
                        await self.publish(user_id)
                    except Exception:  # noqa: BLE001 - one person's view must not stop the rest
                        log.exception("could not refresh the App Home of %s", user_id)
        finally:
            self._refreshing = False
