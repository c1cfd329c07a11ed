"""One effect per Slack delivery.

Slack re-delivers an event or a command it thinks we missed (``X-Slack-Retry-Num``, the
same ``event_id`` / the same body) and people double-click buttons. Two layers keep
that to one effect:

* every call into the core carries a stable ``event_id`` (Slack's ``event_id`` for
  events; :func:`payload_id` for commands, buttons and forms, which is identical in a
  re-delivery and different in a new click, since each carries its own
  ``trigger_id``); the core records it and answers a second arrival with
  ``duplicate=True`` — this survives restarts and works across workers;
* the listeners' :class:`adapters.common.RecentKeys` drop a second arrival while the
  first is still being worked on or just done (and a second click on the same button
  of the same message within a few seconds), so the person sees one answer, not
  "Already done."
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def payload_id(kind: str, body: dict[str, Any]) -> str:
    """A stable id for a delivery without a Slack ``event_id``."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return f"slack:{kind}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"
