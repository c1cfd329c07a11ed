"""The Slack adapter: the whole case life cycle in Slack, on slack-bolt (asyncio).

The platform registry (``entrypoints.platforms``) calls :func:`configured` and
:func:`from_env`; the bootstrap starts the :class:`SlackPlatform` with the core
(``Casebot.start_platform``), which checks the bot token (``auth.test``) and starts
receiving Slack's requests: over Socket Mode when ``SLACK_APP_TOKEN`` is set, unless
``PlatformOptions.http``; otherwise as an HTTP server with everything at
``POST /slack/events`` and a ``GET /healthz``. With ``PlatformOptions(receive=False)``
(``casebot worker``) it only delivers.

Environment: ``SLACK_BOT_TOKEN`` (xoxb-…), ``SLACK_SIGNING_SECRET`` (HTTP mode),
``SLACK_APP_TOKEN`` (xapp-…, Socket Mode) and ``SLACK_API_URL`` (the Web API's base
URL, for a proxy or a test double; default ``https://slack.com/api/``).
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.slack.platform import SlackEnv, SlackPlatform, from_env

__all__ = ["SlackEnv", "SlackPlatform", "configured", "from_env"]


def configured(env: Mapping[str, str]) -> bool:
    """Whether Slack should run when no platform is named: a bot token is set."""
    return bool(SlackEnv.read(env).bot_token)
