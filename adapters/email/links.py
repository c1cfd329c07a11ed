"""Signed links in mail: a button of a mail, pressed from a browser.

Each button of a mail becomes ``{public URL}/email/act/<token>``, the token signed
with :class:`~adapters.web.signing.Signer` for the purpose ``email-action``; it carries
the button's id (its grammar is :mod:`bot.actions`), its label and the address the mail
went to. Opening the link shows a page with one button (a link scanner's ``GET``
changes nothing); pressing it is ``Core.press`` as that address, with the token's nonce
as the event id, so the same link twice has one effect. A button that needs more (a
reason to reject, a comment after a rating) shows its form; the form's id travels in a
second signed token. Every word on the pages is escaped.

This module is also the web surface (``entrypoints/web.py`` ``SURFACES``): ``wanted``
when the email platform is configured, ``mount`` adds the two routes.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aiohttp import web

from adapters.email.attachments import ATTACHMENT, ATTACHMENT_PATH, AttachmentPage
from adapters.web import WebServer
from adapters.web.dashboard.session import Sessions
from adapters.web.signing import LinkRefused, Signer, secret_from_env
from bot.config import Config
from bot.exchange import Context, Prompt, Reply
from bot.identity import EMAIL
from bot.mailroom import Mailroom
from bot.messages import Action
from bot.ports import Core

ACT = "email-action"
FORM = "email-form"
ACT_PATH = "/email/act/{token}"
FORM_PATH = "/email/form/{token}"
DAY = 86_400


class Links:
    """Makes the signed URLs a mail's buttons become, and reads them back."""

    def __init__(self, signer: Signer, base_url: Callable[[], str | None], days: int = 30) -> None:
        self.signer = signer
        # Read when a mail is written: the shared server knows its port once it listens.
        self.base_url = base_url
        self.max_age = days * DAY

    def url(self, action: Action, to: str) -> str | None:
        base = self.base_url()
        if not base:
            return None
        token = self.signer.sign(ACT, {"a": action.id, "l": action.label, "u": to})
        return base.rstrip("/") + ACT_PATH.format(token=token)

    def attachment_url(self, attachment_id: int) -> str | None:
        """Where staff fetch a kept attachment (they sign in to the dashboard first)."""
        base = self.base_url()
        if not base:
            return None
        token = self.signer.sign(ATTACHMENT, {"i": attachment_id})
        return base.rstrip("/") + ATTACHMENT_PATH.format(token=token)


class LinkPages:
    """The two routes: a link's page, its press, and the form a press may ask for."""

    def __init__(self, core: Core, links: Links) -> None:
        self.core = core
        self.links = links

    def mount(self, server: WebServer) -> None:
        server.add("GET", ACT_PATH, self.show)
        server.add("POST", ACT_PATH, self.press)
        server.add("POST", FORM_PATH, self.submit)

    def _claims(self, request: web.Request, purpose: str) -> tuple[dict[str, Any], str]:
        claims = self.links.signer.verify(request.match_info["token"], purpose, self.links.max_age)
        return claims.data, claims.nonce

    def _ctx(self, who: str, event: str) -> Context:
        return Context(platform=EMAIL, user_id=str(who), user_name=str(who), event_id=event)

    async def show(self, request: web.Request) -> web.Response:
        try:
            data, _ = self._claims(request, ACT)
        except LinkRefused as exc:
            return _page("This link does not work", f"Sorry: {exc}.", status=403)
        label = str(data.get("l", "Continue"))
        button = f'<form method="post"><button type="submit">{_e(label)}</button></form>'
        return _page(label, f"Press the button to go on as {data.get('u', '')}.", button)

    async def press(self, request: web.Request) -> web.Response:
        try:
            data, nonce = self._claims(request, ACT)
        except LinkRefused as exc:
            return _page("This link does not work", f"Sorry: {exc}.", status=403)
        who = str(data.get("u", ""))
        reply = await self.core.press(self._ctx(who, f"email-link:{nonce}"), str(data.get("a")))
        if reply.prompt is not None and reply.ok:
            return self._form(reply, reply.prompt, who)
        return _answer(reply)

    def _form(self, reply: Reply, prompt: Prompt, who: str) -> web.Response:
        token = self.links.signer.sign(FORM, {"f": prompt.form_id, "u": who})
        fields = []
        for f in prompt.fields:
            tag = (
                f'<textarea name="{_e(f.name)}" rows="5" cols="60" maxlength="{f.max_length}">'
                "</textarea>"
                if f.kind != "select"
                else f'<select name="{_e(f.name)}">'
                + "".join(
                    f'<option value="{_e(o.value)}">{_e(o.label)}</option>' for o in f.options
                )
                + "</select>"
            )
            fields.append(f"<p><label>{_e(f.label)}<br>{tag}</label></p>")
        action = FORM_PATH.format(token=token)
        body = (
            f'<form method="post" action="{_e(action)}">{"".join(fields)}'
            f'<button type="submit">{_e(prompt.submit_label)}</button></form>'
        )
        return _page(prompt.title, reply.text, body)

    async def submit(self, request: web.Request) -> web.Response:
        try:
            data, nonce = self._claims(request, FORM)
        except LinkRefused as exc:
            return _page("This link does not work", f"Sorry: {exc}.", status=403)
        posted = await request.post()
        values = {k: str(v) for k, v in posted.items() if isinstance(v, str)}
        ctx = self._ctx(str(data.get("u", "")), f"email-form:{nonce}")
        return _answer(await self.core.submit(ctx, str(data.get("f")), values))


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _answer(reply: Reply) -> web.Response:
    if reply.duplicate:
        return _page("Already done", "This link was used before; nothing more to do.")
    title = "Done" if reply.ok else "Not done"
    return _page(title, reply.text, status=200 if reply.ok else 409)


def _page(title: str, text: str, body: str = "", status: int = 200) -> web.Response:
    doc = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="robots" content="noindex">'
        f'<title>{_e(title)}</title></head><body style="font-family:sans-serif;'
        f'max-width:40em;margin:2em auto"><h1>{_e(title)}</h1>'
        f"<p>{_e(text).replace(chr(10), '<br>')}</p>{body}</body></html>"
    )
    return web.Response(text=doc, content_type="text/html", status=status)


# -- the web surface ---------------------------------------------------------------------


def wanted(config: Config, env: Mapping[str, str]) -> bool:
    from adapters.email import configured

    return config.email is not None and configured(env)


class _Bot(Protocol):
    """What the surface needs of the process (``entrypoints.bootstrap.Casebot``)."""

    running: list[Any]
    commands: Core
    config: Config
    units: Any


def mount(server: WebServer, bot: _Bot, env: Mapping[str, str]) -> None:
    """The email platform running in this process shares its signer; a process without
    it (links only) signs with ``CASEBOT_SECRET_KEY``."""
    email = next((p for p in bot.running if isinstance(getattr(p, "links", None), Links)), None)
    links = email.links if email is not None else None
    if email is not None:
        server.health("email", email.health)
    if links is None:
        days = bot.config.email.link_days if bot.config.email else 30
        links = Links(Signer(secret_from_env(env)), lambda: server.public_url, days)
    LinkPages(bot.commands, links).mount(server)
    secure = server.public_url.startswith("https://")
    AttachmentPage(Mailroom(bot.units), links.signer, Sessions(links.signer, secure)).mount(server)
