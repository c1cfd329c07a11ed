"""Events in: the Bolt app that turns Slack's requests into calls on the core.

Every listener acknowledges first and does the work after (Slack wants its answer
within 3 seconds whatever the core is doing); the answer then goes to the person
through ``Responder``. A modal submission's field errors travel in the
acknowledgement itself, so its fields are checked before it (without the core): see
``adapters.slack.modals``.

What each request becomes: a slash command → ``Core.run``; a button or a select →
``Core.press`` with the button's action id as the core wrote it; a modal →
``Core.submit``; a message → ``Core.thread_message``; opening the App Home →
``Core.home``.

Listeners are plain closures, not bound methods: Bolt passes arguments by the names
in a listener's signature, and would try to fill ``self`` too.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError

from adapters.common import RecentKeys
from adapters.slack.client import SlackApi, error_code
from adapters.slack.dedupe import payload_id
from adapters.slack.delivery import SlackDelivery
from adapters.slack.home import HomeTabs
from adapters.slack.modals import Modals, field_errors
from adapters.slack.people import PLATFORM, Directory
from adapters.slack.replies import Responder
from adapters.slack.tasks import Background
from adapters.slack.text import from_slack
from adapters.slack.views import CALLBACK_PREFIX, Origin
from bot.actions import parse as parse_action
from bot.exchange import Context, Reply
from bot.ports import Accepted, Core, Inbox

log = logging.getLogger(__name__)

# Message subtypes that are a person writing; edits, joins, bot posts and the rest are not.
_WRITTEN = frozenset({None, "thread_broadcast", "file_share"})

DM_HINT = (
    "Hi! I'm casebot. Use `/case` to open a support case, `/case list` to see your "
    "cases, or `/case help` for everything you can do. To add to a case, reply in its "
    "thread."
)
RECORDED_REACTION = "white_check_mark"
JOIN_LINK = "Open the staff thread"

# Any command name (the workspace may have installed it as /case or renamed it), any
# button, and every modal of ours.
_ANY = re.compile(r".+", re.S)
_CALLBACKS = re.compile("^" + re.escape(CALLBACK_PREFIX))


class _NotOurToken(logging.Filter):
    """Bolt reads ``SLACK_BOT_TOKEN`` itself and, since we hand it a client, warns at every
    start that the token "will be unused". It is used, by our client: drop the warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return warning_client_prioritized_and_token_skipped() not in record.getMessage()


_BOLT_LOG = logging.getLogger("casebot.slack.bolt")
_BOLT_LOG.addFilter(_NotOurToken())


@dataclass(frozen=True)
class Settings:
    signing_secret: str
    # A repeat of the same delivery within this long is dropped before reaching the core.
    redelivery_ttl: float = 15 * 60
    # A second click on the same button of the same message within this long is dropped.
    double_click_ttl: float = 3.0
    # How many requests' work may be in the core at once. More does not go faster (SQLite
    # takes one writer at a time) but crowds the event loop that must acknowledge the
    # next requests: in bench/slack_ack.py, 4 gave the lowest p99 on SQLite and PostgreSQL.
    concurrent_work: int = 4


class Listeners:
    """The Bolt ``AsyncApp`` and what each kind of request does."""

    def __init__(
        self,
        core: Core,
        directory: Directory,
        api: SlackApi,
        delivery: SlackDelivery,
        responder: Responder,
        homes: HomeTabs,
        tasks: Background,
        auth: AuthorizeResult,
        settings: Settings,
        inbox: Inbox | None = None,
    ) -> None:
        self.core = core
        self.directory = directory
        self.api = api
        self.delivery = delivery
        self.responder = responder
        self.homes = homes
        self.tasks = tasks
        self.auth = auth
        self.settings = settings
        self.inbox = inbox
        if inbox is not None:
            inbox.serve(PLATFORM, self.handle)
        self.deliveries: RecentKeys[str, None] = RecentKeys(settings.redelivery_ttl)
        self.clicks: RecentKeys[str, None] = RecentKeys(settings.double_click_ttl)
        self.slots = asyncio.Semaphore(settings.concurrent_work)
        self.modals = Modals(self)
        self.app = self._build_app()

    # ------------------------------------------------------------------ the Bolt app

    def _build_app(self) -> AsyncApp:
        auth = self.auth

        async def authorize() -> AuthorizeResult:
            # One workspace, checked once at start-up (auth.test): no call per request.
            return auth

        app = AsyncApp(
            name="casebot",
            # Bolt gives each request a client with the token from ``authorize``; this
            # one only lends it the base URL, session and retry rules.
            client=self.api.tokenless(),
            signing_secret=self.settings.signing_secret,
            authorize=authorize,
            # Our listeners return as soon as they have acknowledged (the work runs in
            # ``Background``), so Bolt answers Slack the moment we ack, with no polling.
            process_before_response=True,
            logger=_BOLT_LOG,
        )

        async def on_command(ack: Any, body: dict[str, Any]) -> None:
            if self.inbox is not None:
                await self._accept("command", body, ack)
                return
            await ack()
            self._start("command", body, lambda delivery: self._command(body, delivery))

        async def on_action(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
            if self.inbox is None:
                await ack()
            container = body.get("container") or {}
            where = container.get("message_ts") or container.get("view_id") or ""
            click = f"{body['user']['id']}|{action.get('action_id')}|{where}"
            if not self.clicks.claim(click):
                log.info("double click on %s dropped", action.get("action_id"))
                if self.inbox is not None:
                    await ack()
                return
            if self.inbox is not None:
                await self._accept("action", body, ack)
                return
            self._start(
                "action", body, lambda delivery: self._action(body, action, delivery), click=click
            )

        async def on_view(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
            errors = field_errors(view)
            if errors:  # nothing happens; the modal stays open, its inputs marked
                await ack(response_action="errors", errors=errors)
                return
            if self.inbox is not None:
                await self._accept("view", body, ack)
                return
            await ack()
            self._start("view", body, lambda delivery: self.modals.handle(body, delivery))

        async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
            if event.get("subtype") not in _WRITTEN or event.get("bot_id") or not event.get("user"):
                return
            if self.inbox is not None:
                # Bolt acknowledges an event when this listener returns: after the commit.
                await self._accept("event", body)
                return
            self._start("event", body, lambda delivery: self._message(event, delivery))

        async def on_home_opened(event: dict[str, Any]) -> None:
            if event.get("tab") == "home" and event.get("user"):
                # The home tabs live on the core's loop; this may run on the front door's.
                self.tasks.spawn(self._home_opened(event["user"]), name="home:opened")

        async def on_error(error: Exception, body: dict[str, Any]) -> None:
            log.error("slack request failed: %s", error, exc_info=error)

        app.command(_ANY)(on_command)
        app.action(_ANY)(on_action)
        app.view_submission(_CALLBACKS)(on_view)
        app.event("message")(on_message)
        app.event("app_home_opened")(on_home_opened)
        app.error(on_error)
        return app

    async def _home_opened(self, user_id: str) -> None:
        self.homes.opened(user_id)

    # ------------------------------------------------------------------ the inbox

    async def _accept(self, kind: str, body: dict[str, Any], ack: Any = None) -> None:
        """Write the request to the inbox, then acknowledge it, then handle it. If the
        write fails, nothing is acknowledged: Slack tells the person it failed (and
        re-delivers events) instead of being told a lost request succeeded."""
        assert self.inbox is not None
        delivery = body.get("event_id") or payload_id(kind, body)
        entry = await self.inbox.accept(PLATFORM, delivery, kind, body)
        if ack is not None:
            await ack()
        if entry is None:
            log.info("re-delivery %s dropped", delivery)
            return
        self.tasks.spawn(self.inbox.handle(entry), name=f"slack:{kind}")

    async def handle(self, entry: Accepted) -> None:
        """One accepted request, here just after its ack or in any process after a
        crash: the same work either way, from what was written."""
        body, delivery = entry.payload, entry.delivery
        async with self.slots:
            if entry.kind == "command":
                await self._command(body, delivery)
            elif entry.kind == "action":
                await self._action(body, (body.get("actions") or [{}])[0], delivery)
            elif entry.kind == "event":
                await self._message(body.get("event") or {}, delivery)
            elif entry.kind == "view":
                await self.modals.handle(body, delivery)
            else:
                log.error("inbox entry %s of unknown kind %s", entry.id, entry.kind)

    async def recorded(self, reply: Reply, delivery: str) -> Reply:
        """A repeat of a handled request (taken over after a crash) answers what the
        first run answered, as it was committed with the effect."""
        if not reply.duplicate or self.inbox is None:
            return reply
        text = await self.inbox.answer_of(delivery)
        if text is None:
            return reply
        return Reply(text=text, case_key=reply.case_key)

    # ------------------------------------------------------------------ plumbing

    def _start(
        self,
        kind: str,
        body: dict[str, Any],
        work: Callable[[str], Awaitable[None]],
        click: str | None = None,
    ) -> None:
        """Run ``work(delivery id)`` after the ack, once per delivery (see ``dedupe``)."""
        delivery = body.get("event_id") or payload_id(kind, body)
        if not self.deliveries.claim(delivery):
            log.info("re-delivery %s dropped", delivery)
            return

        async def run() -> None:
            try:
                async with self.slots:
                    await work(delivery)
            except Exception:
                # Let Slack's re-delivery (or the person's retry) through next time.
                self.deliveries.release(delivery)
                if click is not None:
                    self.clicks.release(click)
                raise

        self.tasks.spawn(run(), name=f"slack:{kind}")

    async def context(
        self,
        user_id: str,
        channel_id: str | None,
        thread_ts: str | None,
        event_id: str,
        given_name: str | None = None,
    ) -> Context:
        """Who is acting and where, as Slack told us (the core decides who that is)."""
        return Context(
            platform=PLATFORM,
            user_id=user_id,
            channel_id=channel_id,
            thread_id=thread_ts,
            user_name=await self.directory.user_name(user_id, given_name),
            event_id=event_id,
        )

    # ------------------------------------------------------------------ slash commands

    async def _command(self, body: dict[str, Any], delivery: str) -> None:
        origin = Origin(
            user_id=body["user_id"],
            channel_id=body.get("channel_id"),
            response_url=body.get("response_url"),
        )

        async def work() -> None:
            ctx = await self.context(
                origin.user_id, origin.channel_id, None, delivery, body.get("user_name")
            )
            # Mentions reach the core as Slack's <@U…>, which it resolves to people.
            text = from_slack(body.get("text") or "").strip()
            reply = await self.recorded(await self.core.run(ctx, text), delivery)
            await self.responder.answer(reply, origin, body.get("trigger_id"))

        await self.responder.guarded(origin, work)

    # ------------------------------------------------------------------ buttons

    async def _action(self, body: dict[str, Any], action: dict[str, Any], delivery: str) -> None:
        container = body.get("container") or {}
        message = body.get("message") or {}
        origin = Origin(
            user_id=body["user"]["id"],
            channel_id=(body.get("channel") or {}).get("id") or container.get("channel_id"),
            thread_ts=message.get("thread_ts") or container.get("thread_ts"),
            response_url=body.get("response_url"),
        )
        action_id = str(action.get("action_id", ""))
        # Buttons carry everything in their id; only a select has a value of its own.
        selected = (action.get("selected_option") or {}).get("value")
        pressed = parse_action(action_id)

        async def work() -> None:
            ctx = await self.context(
                origin.user_id,
                origin.channel_id,
                origin.thread_ts,
                delivery,
                (body.get("user") or {}).get("name"),
            )
            reply = await self.recorded(await self.core.press(ctx, action_id, selected), delivery)
            joined = pressed is not None and pressed.action == "join"
            if joined and reply.ok and not reply.duplicate and reply.case_key:
                # Joining means going there: give the staff thread's link with the answer.
                url = await self.delivery.staff_thread_link(reply.case_key)
                if url:
                    await self.responder.reply(origin, reply, link=(url, JOIN_LINK))
                    return
            await self.responder.answer(reply, origin, body.get("trigger_id"))

        await self.responder.guarded(origin, work)

    # ------------------------------------------------------------------ messages

    async def _message(self, event: dict[str, Any], delivery: str) -> None:
        origin = Origin(
            user_id=event["user"],
            channel_id=event.get("channel"),
            thread_ts=event.get("thread_ts"),
        )

        async def work() -> None:
            ctx = await self.context(origin.user_id, origin.channel_id, origin.thread_ts, delivery)
            raw = event.get("text") or ""
            await self.directory.learn_mentioned(raw)
            text = from_slack(raw, self.directory.text_ref)
            reply = await self.core.thread_message(ctx, text)
            if reply is not None:
                reply = await self.recorded(reply, delivery)
            if reply is None:
                if event.get("channel_type") == "im" and not origin.thread_ts:
                    await self.responder.reply(origin, Reply(text=DM_HINT))
                return
            if reply.duplicate:
                return
            if reply.ok and not reply.public:
                await self._mark_recorded(origin.channel_id, event.get("ts"))
                return
            await self.responder.reply(origin, reply)

        await self.responder.guarded(origin, work)

    async def _mark_recorded(self, channel: str | None, ts: str | None) -> None:
        """A quiet sign that a message reached the case: a reaction, not a reply."""
        if not channel or not ts:
            return
        try:
            await self.api.web.reactions_add(channel=channel, timestamp=ts, name=RECORDED_REACTION)
        except SlackApiError as exc:
            if error_code(exc) != "already_reacted":
                log.info("could not mark message %s recorded: %s", ts, error_code(exc))
