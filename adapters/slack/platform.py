"""Slack as a :class:`bot.ports.Platform`: started with the core, stopped, delivering.

``start(core)`` checks the bot token (``auth.test``) and starts receiving Slack's
requests: over Socket Mode when ``SLACK_APP_TOKEN`` is set, unless the options ask for
HTTP; otherwise as an HTTP server with everything at ``POST /slack/events`` and a
``GET /healthz``. A delivery-only platform (``PlatformOptions(receive=False)``, the
worker) opens only the Web API client. Every reason Slack cannot start is a
:class:`~bot.ports.PlatformError` whose one line says what to fix.

``PlatformOptions.settle`` is not used: Slack's requests arrive concurrently and what
they cause is delivered by the runtime's outbox in the background, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError

from adapters.slack.client import SlackApi, Sleep, api_base_url, error_code
from adapters.slack.delivery import SlackDelivery
from adapters.slack.guard import Gate
from adapters.slack.home import HomeTabs
from adapters.slack.listeners import Listeners, Settings
from adapters.slack.people import PLATFORM, Directory
from adapters.slack.replies import Responder
from adapters.slack.server import mount
from adapters.slack.socket import ScreenedSocketModeHandler
from adapters.slack.tasks import Background
from adapters.web import WebServer
from bot.messages import Message
from bot.ports import (
    Core,
    DeliveryContext,
    DeliveryError,
    Inbox,
    PlatformError,
    PlatformOptions,
    PlatformRef,
)

log = logging.getLogger(__name__)

NOT_RUNNING_RETRY = 5.0
# slack_sdk retries a failed Socket Mode connection forever; at start-up we say why.
SOCKET_CONNECT_TIMEOUT = 30.0


def _why(exc: BaseException) -> str:
    """An exception as a few words on one line (a Slack error by its code)."""
    if isinstance(exc, SlackApiError):
        return error_code(exc) or "error"
    if isinstance(exc, TimeoutError):
        return "no connection in time"
    return " ".join(str(exc).split()) or exc.__class__.__name__


@dataclass(frozen=True)
class SlackEnv:
    """``SLACK_BOT_TOKEN`` (xoxb-…), ``SLACK_SIGNING_SECRET`` (HTTP mode),
    ``SLACK_APP_TOKEN`` (xapp-…, Socket Mode) and ``SLACK_API_URL`` (the Web API's base
    URL, for a proxy or a test double; default ``https://slack.com/api/``)."""

    bot_token: str
    signing_secret: str
    app_token: str
    api_url: str

    @classmethod
    def read(cls, env: Mapping[str, str]) -> SlackEnv:
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN", "").strip(),
            signing_secret=env.get("SLACK_SIGNING_SECRET", "").strip(),
            app_token=env.get("SLACK_APP_TOKEN", "").strip(),
            api_url=api_base_url(env.get("SLACK_API_URL")),
        )

    def mode(self, options: PlatformOptions) -> str:
        """``socket``, ``http`` or ``outbound`` (delivery only)."""
        if not options.receive:
            return "outbound"
        return "socket" if self.app_token and not options.http else "http"

    def check(self, options: PlatformOptions) -> None:
        """What is missing for ``options``, as a :class:`PlatformError`."""
        if not self.bot_token:
            raise PlatformError(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…)."
            )
        if self.mode(options) == "http" and not self.signing_secret:
            raise PlatformError(
                "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify Slack's "
                "requests (Basic Information → App Credentials). Or set SLACK_APP_TOKEN for "
                "Socket Mode."
            )


class SlackPlatform:
    """The Slack adapter. ``idle()`` waits for the work started by Slack's requests to
    finish (tests call it before looking); ``url``/``port`` say where HTTP mode listens.

    ``sleep`` replaces the waits after a 429 and ``settings`` the listeners' tuning
    (tests)."""

    name = PLATFORM

    def __init__(
        self,
        env: SlackEnv,
        options: PlatformOptions | None = None,
        *,
        sleep: Sleep | None = None,
        settings: Settings | None = None,
        connect_timeout: float = SOCKET_CONNECT_TIMEOUT,
    ) -> None:
        self.options = options or PlatformOptions()
        env.check(self.options)
        self.env = env
        self.mode = env.mode(self.options)
        self.settings = settings or Settings(signing_secret=env.signing_secret)
        self._sleep = sleep
        self.connect_timeout = connect_timeout
        self.api: SlackApi | None = None
        self.tasks = Background()
        self.delivery: SlackDelivery | None = None
        self.listeners: Listeners | None = None
        self.port: int | None = None
        self.url: str | None = None
        # The server Slack's route is mounted on: the process's (``options.web``), or
        # one of its own, started and stopped with the platform.
        self._http: WebServer | None = None
        self._socket: ScreenedSocketModeHandler | None = None
        self._stopped = asyncio.Event()
        self.inbox: Inbox | None = None

    def use_inbox(self, inbox: Inbox) -> None:
        """Write every request to ``inbox`` before acknowledging it (the bootstrap)."""
        self.inbox = inbox

    # ------------------------------------------------------------------ Platform

    async def start(self, core: Core) -> None:
        env = self.env
        self._stopped.clear()
        self.tasks.bind(asyncio.get_running_loop())
        api = self.api = SlackApi(env.bot_token, env.api_url, sleep=self._sleep)
        directory = Directory(api.web)
        if self.mode == "outbound":
            # Delivery only (the worker): no requests come in, so nothing to check them.
            self.delivery = SlackDelivery(api, directory)
            log.info("slack: delivering only")
            return
        try:
            await self._receive(core, api, directory)
        except BaseException:
            await self._close()
            raise

    async def _receive(self, core: Core, api: SlackApi, directory: Directory) -> None:
        env = self.env
        try:
            identity = await api.web.auth_test()
        except SlackApiError as exc:
            raise PlatformError(
                f"Slack refused SLACK_BOT_TOKEN ({_why(exc)}): check the token and that the "
                "app is installed in the workspace."
            ) from exc
        except Exception as exc:
            raise PlatformError(
                f"Slack's Web API at {env.api_url} is unreachable: {_why(exc)}"
            ) from exc
        auth = AuthorizeResult.from_auth_test_response(
            bot_token=env.bot_token, auth_test_response=identity
        )
        homes = HomeTabs(core, api, self.tasks)

        def delivered(message: Message, ctx: DeliveryContext) -> None:
            if message.case_key or message.eng_key:
                homes.changed()

        self.delivery = SlackDelivery(api, directory, on_delivered=delivered)
        listeners = self.listeners = Listeners(
            core,
            directory,
            api,
            self.delivery,
            Responder(api, directory),
            homes,
            self.tasks,
            auth,
            self.settings,
            self.inbox,
        )
        log.info(
            "slack: signed in as %s in %s (%s mode)",
            identity.get("user"),
            identity.get("team"),
            self.mode,
        )
        if self.mode == "socket":
            handler = self._socket = ScreenedSocketModeHandler(
                listeners.app, env.app_token, web_client=api.web
            )
            handler.gate = Gate(self.settings.signing_secret or "socket-mode")
            try:
                # Asked first, so a refused app token fails now with Slack's reason.
                handler.client.wss_uri = await handler.client.issue_new_wss_url()
                await asyncio.wait_for(handler.connect_async(), self.connect_timeout)
            except Exception as exc:
                raise PlatformError(
                    f"Socket Mode did not connect ({_why(exc)}): check SLACK_APP_TOKEN "
                    "(xapp-…, with the connections:write scope) and that Socket Mode is on "
                    "for the app."
                ) from exc
            return

        def health() -> dict[str, Any]:
            return {"ok": True, "mode": "http", "working": self.tasks.busy}

        shared = self.options.web
        server = shared if isinstance(shared, WebServer) else None
        own = server is None
        if server is None:
            server = WebServer(self.options.host, self.options.port)
        mount(server, listeners.app, health, Gate(self.settings.signing_secret))
        if own:
            await server.start()
            self._http = server
            self.port, self.url = server.port, server.url
            log.info("slack: listening on %s/slack/events", self.url)
        else:
            # The entry point starts the shared server once every surface is mounted.
            self.port, self.url = server.port, server.url
            log.info("slack: mounted at /slack/events")

    async def stop(self) -> None:
        await self._close()
        self._stopped.set()

    async def finished(self) -> None:
        """Slack never ends by itself (Socket Mode reconnects): this returns once stopped."""
        await self._stopped.wait()

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        if self.delivery is None:
            raise DeliveryError("the Slack platform is not running", retry_after=NOT_RUNNING_RETRY)
        return await self.delivery.deliver(message, ctx)

    # ------------------------------------------------------------------ tests, health

    async def idle(self) -> None:
        await self.tasks.idle()

    async def _close(self) -> None:
        self.delivery = None
        if self._socket is not None:
            socket, self._socket = self._socket, None
            await socket.close_async()
        if self._http is not None:
            http, self._http = self._http, None
            await http.stop()
        await self.tasks.close()
        if self.api is not None:
            api, self.api = self.api, None
            await api.close()


def from_env(
    env: Mapping[str, str], options: PlatformOptions, *, sleep: Sleep | None = None
) -> SlackPlatform:
    """The Slack platform for these credentials (:class:`PlatformError` when one is
    missing for ``options``)."""
    return SlackPlatform(SlackEnv.read(env), options, sleep=sleep)
