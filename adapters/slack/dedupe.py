"""One effect per Slack delivery.

Slack re-delivers an event or a command it thinks we missed (``X-Slack-Retry-Num``, the
same ``event_id`` / the same body) and people double-click buttons. Two layers keep
that to one effect:

* every call into the core carries a stable ``event_id`` (Slack's ``event_id`` for
  events; a hash of the payload for commands, buttons and forms, which is identical in
  a re-delivery and different in a new click, since each carries its own
  ``trigger_id``); the core records it and answers a second arrival with
  ``duplicate=True`` — this survives restarts and works across workers;
* ``RecentGuard`` drops a second arrival while the first is still being worked on or
  just done (and a second click on the same button of the same message within a few
  seconds), so the person sees one answer, not "already done".
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


def payload_id(kind: str, body: dict[str, Any]) -> str:
    """A stable id for a delivery without a Slack ``event_id``."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return f"slack:{kind}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


class RecentGuard:
    """Keys seen in the last ``ttl`` seconds (bounded; the oldest are forgotten first)."""

    def __init__(
        self, ttl: float, *, size: int = 10_000, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self._now = now
        self._seen: OrderedDict[str, float] = OrderedDict()

    def claim(self, key: str) -> bool:
        """True the first time ``key`` is seen within ``ttl``; False for a repeat."""
        now = self._now()
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at < self.ttl and len(self._seen) < self.size:
                break
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def release(self, key: str) -> None:
        """Forget ``key``: its work failed, so a re-delivery must be allowed through."""
        self._seen.pop(key, None)
