"""The web route a kept mail attachment is fetched from: ``/email/attachments/<token>``.

The token (signed, purpose ``email-attachment``) only names the attachment; who may have
it is the dashboard's session and the policy (:meth:`bot.mailroom.Mailroom.fetch`):
staff signed in with ``/case dashboard`` who may see the case. The file is always sent
as a download with ``X-Content-Type-Options: nosniff``, never shown by the browser as a
page, whatever type the sender gave it.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from aiohttp import web

from adapters.web import WebServer
from adapters.web.dashboard.session import Sessions
from adapters.web.signing import LinkRefused, Signer
from bot.errors import Refusal
from bot.mailroom import Mailroom

ATTACHMENT = "email-attachment"
ATTACHMENT_PATH = "/email/attachments/{token}"
FOREVER = 10 * 365 * 86_400  # the link lives on the timeline; the session is the gate
SIGN_IN_FIRST = (
    "Attachments kept from mail open for support staff signed in to the dashboard: "
    "staff, sign in with the link `/case dashboard` gives you in chat, then open this "
    "link again. If you sent this file, your copy is in the mail you sent."
)


class AttachmentPage:
    def __init__(self, mailroom: Mailroom, signer: Signer, sessions: Sessions) -> None:
        self.mailroom = mailroom
        self.signer = signer
        self.sessions = sessions

    def mount(self, server: WebServer) -> None:
        server.add("GET", ATTACHMENT_PATH, self.fetch)

    async def fetch(self, request: web.Request) -> web.Response:
        try:
            claims = self.signer.verify(request.match_info["token"], ATTACHMENT, FOREVER)
            attachment_id = int(claims.data["i"])
        except (LinkRefused, KeyError, TypeError, ValueError):
            return _refused("This link does not work.", 403)
        session = self.sessions.of(request)
        if session is None:
            return _refused(SIGN_IN_FIRST, 401)
        try:
            found = await self.mailroom.fetch(session.person_id, attachment_id)
        except Refusal as r:
            return _refused(r.message, 403)
        name = found.name.replace('"', "").replace("\\", "") or "attachment"
        ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
        return web.Response(
            body=found.data,
            content_type="application/octet-stream",
            headers={
                "Content-Disposition": (
                    f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
                ),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cache-Control": "private, no-store",
            },
        )


def _refused(text: str, status: int) -> web.Response:
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><title>Not available</title>'
        f"</head><body><h1>Not available</h1><p>{html.escape(text)}</p></body></html>"
    )
    return web.Response(text=body, content_type="text/html", status=status)
