"""The trackers' web surface: ``POST /webhooks/github`` or ``POST /webhooks/jira`` on
the shared server, for the configured tracker (``entrypoints.web.SURFACES``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from adapters.web import WebServer
from bot.config import Config
from bot.ports import PlatformError

if TYPE_CHECKING:
    from entrypoints.bootstrap import Casebot

SECRETS = {"github": "GITHUB_WEBHOOK_SECRET", "jira": "JIRA_WEBHOOK_SECRET"}


def wanted(config: Config, env: Mapping[str, str]) -> bool:
    return config.tracker is not None


def mount(server: WebServer, bot: Casebot, env: Mapping[str, str]) -> None:
    from adapters.trackers import webhooks  # githubkit loads only when a tracker is set

    tracker = bot.config.tracker
    if tracker is None or bot.tracker_sync is None:
        return
    name = SECRETS[tracker.kind]
    secret = env.get(name, "").strip()
    if not secret:
        raise PlatformError(f"tracker: the {tracker.kind} webhook needs {name} in the environment")
    if tracker.kind == "github":
        server.add(
            "POST", webhooks.GITHUB_PATH, webhooks.github_handler(tracker, secret, bot.tracker_sync)
        )
    else:
        server.add(
            "POST", webhooks.JIRA_PATH, webhooks.jira_handler(tracker, secret, bot.tracker_sync)
        )
