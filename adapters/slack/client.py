"""The Slack Web API client casebot uses, and how it lives with Slack's rate limits.

Every call goes through one ``AsyncWebClient`` (``response_url``s through
``AsyncWebhookClient``s), over one HTTP session. A 429 is retried after exactly the ``Retry-After`` Slack asked
for, a few times, so a burst is absorbed without anyone noticing; a wait longer than
``max_wait`` is not slept through (it would hold up the caller) and surfaces as a
``SlackApiError`` that ``delivery_error`` turns into a ``DeliveryError`` carrying the
wait, so the core's outbox retries the message then. Nothing is dropped either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.ports import DeliveryError

Sleep = Callable[[float], Awaitable[Any]]

DEFAULT_API_URL = "https://slack.com/api/"

# Errors retrying cannot fix: the message is wrong or its destination is gone.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "user_not_found",
        "users_not_found",
        "cannot_dm_bot",
        "user_disabled",
        "message_not_found",
        "cant_update_message",
        "restricted_action",
        "ekm_access_denied",
        "team_access_not_granted",
        "invalid_thread_ts",
    }
)


def api_base_url(value: str | None) -> str:
    """``SLACK_API_URL`` as slack_sdk needs it: with the trailing slash it joins onto."""
    url = (value or "").strip() or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def retry_after_seconds(headers: Any) -> float | None:
    """The ``Retry-After`` of a response, in seconds (slack_sdk headers hold lists)."""
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None


class RetryAfterHandler(AsyncRetryHandler):
    """Retries a 429 after the ``Retry-After`` Slack gave (no jitter, no guess)."""

    def __init__(
        self, *, max_retry_count: int = 3, max_wait: float = 10.0, sleep: Sleep | None = None
    ):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self._sleep: Sleep = sleep or asyncio.sleep

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after_seconds(response.headers)
        return (wait if wait is not None else 1.0) <= self.max_wait

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = retry_after_seconds(response.headers if response else None)
        wait = 1.0 if wait is None else wait
        state.next_attempt_requested = True
        await self._sleep(wait)
        state.increment_current_attempt()


class SlackApi:
    """The Web API client and ``response_url`` poster, over one shared HTTP session.

    slack_sdk opens a new connection per call unless given a session; one kept-alive
    session makes every call after the first cheaper, which matters under load.
    """

    def __init__(
        self, token: str, base_url: str, *, sleep: Sleep | None = None, timeout: int = 10
    ) -> None:
        self.session = aiohttp.ClientSession()
        self.rate_limits = RetryAfterHandler(sleep=sleep)
        self.retry_handlers: list[AsyncRetryHandler] = [
            AsyncConnectionErrorRetryHandler(),
            self.rate_limits,
        ]
        self.timeout = timeout
        self.web = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            session=self.session,
            retry_handlers=self.retry_handlers,
        )

        # Posts are not re-sent on a broken connection: the message may have landed. The
        # outbox retries the row instead, and looks for it first (adapters.slack.posted).
        self.posts = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            session=self.session,
            retry_handlers=[self.rate_limits],
        )

    def tokenless(self) -> AsyncWebClient:
        return AsyncWebClient(
            base_url=self.web.base_url,
            timeout=self.timeout,
            session=self.session,
            retry_handlers=self.retry_handlers,
        )

    async def respond(self, response_url: str, **payload: Any) -> bool:
        """POST to a ``response_url``; False when Slack would not take it (expired, used up)."""
        hook = AsyncWebhookClient(
            url=response_url,
            timeout=self.timeout,
            session=self.session,
            retry_handlers=self.retry_handlers,
        )
        response = await hook.send_dict(payload)
        return response.status_code == 200

    async def close(self) -> None:
        await self.session.close()


def error_code(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def delivery_error(exc: Exception) -> DeliveryError:
    """A failed Slack call as the outbox understands it: when to retry, or never."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None)
        code = error_code(exc)
        if status == 429 or code == "ratelimited":
            wait = retry_after_seconds(getattr(exc.response, "headers", None))
            return DeliveryError(f"rate limited by Slack ({code or 429})", retry_after=wait or 1.0)
        return DeliveryError(
            f"Slack refused the call: {code or status}", permanent=code in PERMANENT_ERRORS
        )
    return DeliveryError(f"Slack could not be reached: {exc.__class__.__name__}: {exc}")
