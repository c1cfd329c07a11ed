"""The engineering trackers (GitHub Issues, Jira) behind :class:`bot.tracker.EngineeringTracker`,
and their webhooks. ``build(config, env)`` makes the configured one from the
environment's secrets; Linear would be one more module and one more line here."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config.integrations import Tracker
from bot.tracker import EngineeringTracker


def build(config: Tracker, env: Mapping[str, str]) -> EngineeringTracker:
    """The tracker ``config`` names; ValueError saying which variable is missing."""
    if config.kind == "github":
        from adapters.trackers.github import GitHubTracker

        return GitHubTracker.from_env(config, env)
    from adapters.trackers.jira import JiraTracker

    return JiraTracker.from_env(config, env)
