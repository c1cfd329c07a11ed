"""Signed links: the one owner of how casebot signs what it puts in a URL.

A link mailed to a customer (confirm a resolution, rate a case) or given to staff (the
dashboard's sign-in) carries its meaning in a signed, expiring token, so the server
trusts the link without a session. Tokens are made with itsdangerous (HMAC-SHA256,
timestamped); each names its ``purpose`` (a token for one purpose is refused for
another). Single use, where a link needs it, is the caller's: the token's ``nonce`` is
what to record as spent.

The key is ``CASEBOT_SECRET_KEY``. Without it a process makes a random key of its own,
so its links stop working when it restarts and are not accepted by other workers: a
deployment sets the variable (``docs/security.md``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

log = logging.getLogger(__name__)

SALT = "casebot-link"


class LinkRefused(Exception):
    """A token that is forged, for another purpose, or expired; the message says which."""


@dataclass(frozen=True)
class Claims:
    purpose: str
    data: dict[str, Any]
    nonce: str


def secret_from_env(env: Mapping[str, str]) -> str:
    key = env.get("CASEBOT_SECRET_KEY", "").strip()
    if key:
        return key
    log.warning("CASEBOT_SECRET_KEY is not set: links casebot signs stop working when it restarts")
    return secrets.token_urlsafe(32)


class Signer:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a signing key is needed")
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)

    def sign(self, purpose: str, data: Mapping[str, Any]) -> str:
        """A URL-safe token for ``purpose`` carrying ``data`` (JSON values)."""
        body = {"p": purpose, "d": dict(data), "n": secrets.token_urlsafe(9)}
        return str(self._serializer.dumps(body))

    def verify(self, token: str, purpose: str, max_age: int) -> Claims:
        """The claims of ``token`` if it is genuine, for ``purpose`` and younger than
        ``max_age`` seconds; else :class:`LinkRefused`."""
        try:
            body = self._serializer.loads(token, max_age=max_age)
        except SignatureExpired:
            raise LinkRefused("this link has expired") from None
        except BadSignature:
            raise LinkRefused("this link is not valid") from None
        if not isinstance(body, dict) or body.get("p") != purpose:
            raise LinkRefused("this link is not valid here")
        data = body.get("d")
        nonce = body.get("n")
        if not isinstance(data, dict) or not isinstance(nonce, str):
            raise LinkRefused("this link is not valid")
        return Claims(purpose, data, nonce)
