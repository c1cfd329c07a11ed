"""The Slack adapter: the whole case life cycle in Slack, on slack-bolt (asyncio).

``start_slack(bot, http=..., host=..., port=...)`` is what ``casebot run`` calls. It
reads the environment, checks the bot token (``auth.test``), registers the adapter on
the bot (messages out) and starts receiving Slack's requests (events in): over Socket
Mode when ``SLACK_APP_TOKEN`` is set, unless ``http=True``; otherwise as an HTTP server
with everything at ``POST /slack/events`` and a ``GET /healthz``.

Environment: ``SLACK_BOT_TOKEN`` (xoxb-…), ``SLACK_SIGNING_SECRET`` (HTTP mode),
``SLACK_APP_TOKEN`` (xapp-…, Socket Mode) and ``SLACK_API_URL`` (the Web API's base
URL, for a proxy or a test double; default ``https://slack.com/api/``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError

from adapters.slack.adapter import SlackAdapter
from adapters.slack.client import SlackApi, Sleep, api_base_url, error_code
from adapters.slack.home import HomeTabs
from adapters.slack.listeners import Listeners, Settings
from adapters.slack.people import Directory
from adapters.slack.replies import Responder
from adapters.slack.server import serve, web_app
from adapters.slack.tasks import Background
from bot.messages import Message
from bot.ports import DeliveryContext

if TYPE_CHECKING:
    from aiohttp import web

    from bot.app import Casebot

__all__ = ["SlackEnv", "SlackRunner", "SlackStartError", "slack_configured", "start_slack"]

log = logging.getLogger(__name__)


class SlackStartError(RuntimeError):
    """Slack cannot start; the message says what to fix."""


@dataclass(frozen=True)
class SlackEnv:
    bot_token: str
    signing_secret: str
    app_token: str
    api_url: str

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> SlackEnv:
        env = os.environ if environ is None else environ
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN", "").strip(),
            signing_secret=env.get("SLACK_SIGNING_SECRET", "").strip(),
            app_token=env.get("SLACK_APP_TOKEN", "").strip(),
            api_url=api_base_url(env.get("SLACK_API_URL")),
        )


def slack_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``casebot run`` should start Slack: a bot token is set."""
    return bool(SlackEnv.read(environ).bot_token)


class SlackRunner:
    """A running Slack adapter. ``stop()`` ends it; ``idle()`` waits for the work
    started by Slack's requests to finish (tests call it before looking)."""

    def __init__(
        self,
        *,
        mode: str,
        adapter: SlackAdapter,
        listeners: Listeners,
        tasks: Background,
        api: SlackApi,
        http: web.AppRunner | None = None,
        port: int | None = None,
        host: str | None = None,
        socket: AsyncSocketModeHandler | None = None,
    ) -> None:
        self.mode = mode
        self.adapter = adapter
        self.listeners = listeners
        self.tasks = tasks
        self.api = api
        self.port = port
        self.url = f"http://{host}:{port}" if http is not None else None
        self._http = http
        self._socket = socket

    async def idle(self) -> None:
        await self.tasks.idle()

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._http is not None:
            await self._http.cleanup()
            self._http = None
        await self.tasks.close()
        await self.api.close()


async def start_slack(
    bot: Casebot,
    *,
    http: bool,
    host: str,
    port: int,
    environ: Mapping[str, str] | None = None,
    sleep: Sleep | None = None,
) -> SlackRunner:
    """Start the Slack adapter on ``bot`` (see the module docstring).

    ``environ`` replaces ``os.environ`` and ``sleep`` the waits after a 429 (tests).
    """
    env = SlackEnv.read(environ)
    if not env.bot_token:
        raise SlackStartError("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…).")
    socket_mode = bool(env.app_token) and not http
    if not socket_mode and not env.signing_secret:
        raise SlackStartError(
            "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify Slack's requests "
            "(Basic Information → App Credentials). Or set SLACK_APP_TOKEN for Socket Mode."
        )
    api = SlackApi(env.bot_token, env.api_url, sleep=sleep)
    try:
        identity = await api.web.auth_test()
    except SlackApiError as exc:
        await api.close()
        raise SlackStartError(
            f"Slack refused SLACK_BOT_TOKEN ({error_code(exc) or 'error'}): check the token "
            "and that the app is installed in the workspace."
        ) from exc
    except Exception as exc:
        await api.close()
        raise SlackStartError(f"Slack's Web API at {env.api_url} is unreachable: {exc}") from exc
    auth = AuthorizeResult.from_auth_test_response(
        bot_token=env.bot_token, auth_test_response=identity
    )

    tasks = Background()
    directory = Directory(bot.config, api.web)
    homes = HomeTabs(bot.commands, api, tasks)

    def delivered(message: Message, ctx: DeliveryContext) -> None:
        if message.case_key or message.eng_key:
            homes.changed()

    adapter = SlackAdapter(api, directory, on_delivered=delivered)
    listeners = Listeners(
        bot.commands,
        directory,
        api,
        adapter,
        Responder(api, adapter),
        homes,
        tasks,
        auth,
        Settings(signing_secret=env.signing_secret),
    )
    bot.register_adapter(adapter)
    log.info(
        "slack: signed in as %s in %s (%s mode)",
        identity.get("user"),
        identity.get("team"),
        "socket" if socket_mode else "http",
    )

    if socket_mode:
        handler = AsyncSocketModeHandler(listeners.app, env.app_token, web_client=api.web)
        try:
            await handler.connect_async()
        except Exception as exc:
            await handler.close_async()
            await api.close()
            raise SlackStartError(
                f"Socket Mode did not connect ({exc}): check SLACK_APP_TOKEN (xapp-…, "
                "with the connections:write scope) and that Socket Mode is on for the app."
            ) from exc
        return SlackRunner(
            mode="socket",
            adapter=adapter,
            listeners=listeners,
            tasks=tasks,
            api=api,
            socket=handler,
        )

    def health() -> dict[str, Any]:
        return {"ok": True, "platform": "slack", "mode": "http", "working": tasks.busy}

    runner, bound = await serve(web_app(listeners.app, health), host, port)
    log.info("slack: listening on http://%s:%s/slack/events", host, bound)
    return SlackRunner(
        mode="http",
        adapter=adapter,
        listeners=listeners,
        tasks=tasks,
        api=api,
        http=runner,
        port=bound,
        host=host,
    )
