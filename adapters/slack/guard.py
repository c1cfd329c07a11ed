"""The HTTP endpoint's gate: nothing reaches a parser before Slack's signature holds,
and nothing malformed reaches the listeners after it.

Slack signs every request: ``X-Slack-Signature`` is ``v0=`` + HMAC-SHA256 of
``v0:<X-Slack-Request-Timestamp>:<body>`` with the signing secret, and the timestamp
must be within five minutes. A request that fails is answered 401 (413 for a body over
the limit) before its body is looked at; a signed body that is not one of the shapes
casebot handles is answered 400. Refusals are logged as one short line, at most once
per reason every ten seconds, never with a traceback.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000  # bytes; Slack's own payloads are far smaller
LOG_EVERY = 10.0  # seconds between two log lines for the same reason


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Gate:
    def __init__(self, signing_secret: str, *, now: Callable[[], float] = time.time) -> None:
        self._verifier = SignatureVerifier(signing_secret, clock=_Clock(now))
        self._logged: dict[str, float] = {}
        self._now = now

    def check(self, body: bytes, headers: Any, content_type: str) -> None:
        """Raise :class:`Refused` unless the request is signed and well formed."""
        if len(body) > MAX_BODY:
            raise Refused(413, "body too large")
        timestamp = headers.get("X-Slack-Request-Timestamp") or ""
        signature = headers.get("X-Slack-Signature") or ""
        if not timestamp.strip().isdigit() or not signature:
            raise Refused(401, "missing or malformed signature headers")
        if not self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            raise Refused(401, "bad or stale signature")
        shape(body, content_type)

    def note(self, refused: Refused) -> None:
        now = self._now()
        last = self._logged.get(refused.reason)
        if last is None or now - last >= LOG_EVERY:
            self._logged[refused.reason] = now
            log.warning("slack: refused a request (%s): %s", refused.status, refused.reason)


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def _user_id(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and bool(value["id"])


def screen_socket(kind: Any, payload: Any) -> None:
    """A Socket Mode envelope's payload casebot can handle, or :class:`Refused`.

    Socket Mode needs no signature (the connection is authenticated by the app token),
    but what arrives on it is held to the same shapes as an HTTP body."""
    bad = Refused(400, "not a request casebot handles")
    if kind == "interactive":
        _interactive(payload, bad)
    elif kind == "slash_commands":
        if not isinstance(payload, dict) or not isinstance(payload.get("user_id"), str):
            raise bad
        if not payload["user_id"] or not isinstance(payload.get("command"), str):
            raise bad
    elif kind == "events_api":
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise bad
        if payload["type"] == "event_callback" and not isinstance(payload.get("event"), dict):
            raise bad
    else:
        raise bad


def shape(body: bytes, content_type: str) -> None:
    """A signed body casebot can handle, or :class:`Refused` (400)."""
    bad = Refused(400, "not a request casebot handles")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad from None
    if "json" in content_type:
        try:
            data = json.loads(text)
        except ValueError:
            raise bad from None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise bad
        if data["type"] == "event_callback" and not isinstance(data.get("event"), dict):
            raise bad
        return
    form = parse_qs(text, keep_blank_values=True)
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except ValueError:
            raise bad from None
        _interactive(payload, bad)
        return
    if "command" in form:
        if not (form.get("user_id") or [""])[0]:
            raise bad
        return
    if "ssl_check" in form:
        return
    raise bad


def _interactive(payload: Any, bad: Refused) -> None:
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise bad
    kind = payload["type"]
    if kind in ("block_actions", "view_submission", "view_closed", "shortcut", "block_suggestion"):
        if not _user_id(payload.get("user")):
            raise bad
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            raise bad
        for action in actions:
            if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
                raise bad
    if kind in ("view_submission", "view_closed") and not isinstance(payload.get("view"), dict):
        raise bad
