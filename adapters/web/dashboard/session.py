"""Who a dashboard request comes from: the signed sign-in link, the session cookie it
starts, and the CSRF token every form carries. All signing is ``adapters.web.signing``'s
:class:`~adapters.web.signing.Signer`; how long each lasts is ``bot.reports.links``'."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from adapters.web.signing import LinkRefused, Signer
from bot.reports.links import SESSION_HOURS, SIGN_IN_MINUTES, TRANSCRIPT_DAYS

COOKIE = "casebot_session"
SIGN_IN, SESSION, TRANSCRIPT = "dashboard-sign-in", "dashboard-session", "transcript"
SIGN_IN_PATH, TRANSCRIPT_PATH = "/dashboard/sign-in", "/transcript"


@dataclass(frozen=True)
class Session:
    person_id: str
    csrf: str


class SignedLinks:
    """:class:`bot.ports.Links` for this server: URLs under its public address."""

    def __init__(self, signer: Signer, base_url: Callable[[], str]) -> None:
        self.signer = signer
        self.base_url = base_url  # asked each time: a server on port 0 knows it late

    def sign_in(self, person_id: str) -> str:
        token = self.signer.sign(SIGN_IN, {"p": person_id})
        return f"{self.base_url().rstrip('/')}{SIGN_IN_PATH}?t={token}"

    def transcript(self, person_id: str, case_key: str) -> str:
        token = self.signer.sign(TRANSCRIPT, {"p": person_id, "c": case_key})
        return f"{self.base_url().rstrip('/')}{TRANSCRIPT_PATH}?t={token}"


class Sessions:
    def __init__(self, signer: Signer, secure: bool) -> None:
        self.signer = signer
        self.secure = secure

    def sign_in_claims(self, token: str) -> tuple[str, str]:
        """(person id, nonce) of a genuine, unexpired sign-in link; else LinkRefused."""
        claims = self.signer.verify(token, SIGN_IN, SIGN_IN_MINUTES * 60)
        person = claims.data.get("p")
        if not isinstance(person, str):
            raise LinkRefused("this link is not valid")
        return person, claims.nonce

    def transcript_claims(self, token: str) -> tuple[str, str]:
        """(person id, case key) of a genuine, unexpired transcript link."""
        claims = self.signer.verify(token, TRANSCRIPT, TRANSCRIPT_DAYS * 86400)
        person, case = claims.data.get("p"), claims.data.get("c")
        if not isinstance(person, str) or not isinstance(case, str):
            raise LinkRefused("this link is not valid")
        return person, case

    def start(self, response: web.StreamResponse, person_id: str) -> None:
        value = self.signer.sign(SESSION, {"p": person_id, "x": secrets.token_urlsafe(18)})
        response.set_cookie(
            COOKIE,
            value,
            max_age=SESSION_HOURS * 3600,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.secure,
        )

    def end(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/")

    def of(self, request: web.Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            claims = self.signer.verify(raw, SESSION, SESSION_HOURS * 3600)
        except LinkRefused:
            return None
        person, csrf = claims.data.get("p"), claims.data.get("x")
        if not isinstance(person, str) or not isinstance(csrf, str):
            return None
        return Session(person, csrf)


def csrf_ok(session: Session, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(session.csrf, sent)
