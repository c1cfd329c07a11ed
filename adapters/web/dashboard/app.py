"""The dashboard's routes on the shared :class:`~adapters.web.WebServer`.

Staff sign in through the link ``/case dashboard`` gives them: ``GET`` shows a button
(so a link preview never spends the link), ``POST`` spends its nonce and starts the
session cookie. Every page then asks :class:`bot.reports.pages.Pages` as the person the
cookie names, which checks role and account again on every request. Customers open a
read-only transcript from their own signed link; without a valid session or link no
page shows case data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlparse

from aiohttp import web

from adapters.web.dashboard import export
from adapters.web.dashboard.render import STATIC, Renderer
from adapters.web.dashboard.session import (
    SIGN_IN_PATH,
    TRANSCRIPT_PATH,
    Session,
    Sessions,
    csrf_ok,
)
from adapters.web.server import WebServer
from adapters.web.signing import LinkRefused
from bot.errors import Refusal
from bot.reports.pages import CASE_STATES, Pages
from bot.reports.period import FILTER_NAMES, PERIOD_HELP, PRESETS, Filters

log = logging.getLogger(__name__)

Page = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]
EXPORTS = ("cases", "eng", "kb", "volume", "engineers", "summary")
NOT_SIGNED_IN = "Sign in with the link `/case dashboard` gives you in chat."


CROSS_SITE = "This form was sent from another site."


def same_origin(request: web.Request) -> bool:
    """A form posted from another site is refused (browsers send ``Origin`` with it)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser's cross-site form (browsers always send it on POST)
    return urlparse(origin).netloc == request.host  # "null" (an opaque origin) is refused


class Dashboard:
    def __init__(self, pages: Pages, sessions: Sessions) -> None:
        self.pages = pages
        self.sessions = sessions
        self.render = Renderer()

    def mount(self, server: WebServer) -> None:
        add = server.add
        add("GET", SIGN_IN_PATH, self.sign_in_page)
        add("POST", SIGN_IN_PATH, self.sign_in)
        add("POST", "/dashboard/sign-out", self.staff(self.sign_out))
        add("GET", "/dashboard", self.staff(self.overview))
        add("GET", "/dashboard/cases", self.staff(self.cases))
        add("GET", "/dashboard/cases/{key}", self.staff(self.case))
        add("GET", "/dashboard/eng", self.staff(self.eng))
        add("GET", "/dashboard/kb", self.staff(self.kb))
        add("GET", "/dashboard/export/{table}.csv", self.staff(self.export))
        add("GET", TRANSCRIPT_PATH, self.transcript)
        server.add_static("/dashboard/static", str(STATIC))

    # -- sign-in ------------------------------------------------------------------------

    async def sign_in_page(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("t", "")
        try:
            self.sessions.sign_in_claims(token)
        except LinkRefused as exc:
            return self._refused_link(exc)
        return self.render.page("sign_in.html", token=token, session=None)

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request):
            return self.render.message("Refused", CROSS_SITE, 403)
        form = await request.post()
        try:
            person, nonce = self.sessions.sign_in_claims(str(form.get("t", "")))
            await self.pages.who(person)  # still staff?
            await self.pages.spend(nonce, "sign-in")
        except LinkRefused as exc:
            return self._refused_link(exc)
        except Refusal as r:
            return self.render.message("Not signed in", r.message, 403)
        redirect = web.HTTPSeeOther("/dashboard")
        self.sessions.start(redirect, person)
        raise redirect

    async def sign_out(self, request: web.Request, session: Session) -> web.StreamResponse:
        response = self.render.message("Signed out", NOT_SIGNED_IN, 200)
        self.sessions.end(response)
        return response

    def _refused_link(self, exc: LinkRefused) -> web.Response:
        text = f"Sorry, {exc}. Ask for a new one with `/case dashboard`."
        return self.render.message("Link refused", text, 403)

    def staff(self, page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A page for a signed-in staff member: the session, CSRF on every POST, and a
        refusal page (nothing else) when the policy says no."""

        async def handler(request: web.Request) -> web.StreamResponse:
            session = self.sessions.of(request)
            if session is None:
                return self.render.message("Not signed in", NOT_SIGNED_IN, 401)
            if request.method == "POST":
                if not same_origin(request):
                    return self.render.message("Refused", CROSS_SITE, 403)
                form = await request.post()
                if not csrf_ok(session, form.get("csrf")):
                    return self.render.message(
                        "Refused", "This form is out of date: reload the page.", 403
                    )
            try:
                return await page(request, session)
            except Refusal as r:
                return self.render.message("Refused", r.message, 403, session=session)

        return handler

    # -- pages --------------------------------------------------------------------------

    def _query(self, request: web.Request) -> tuple[str, Filters, dict[str, str]]:
        q = request.query
        period = q.get("period", "").strip()
        filters = self.pages.filters({n: q.get(n, "") for n in FILTER_NAMES})
        values = {n: q.get(n, "") for n in (*FILTER_NAMES, "period", "state", "q")}
        return period, filters, values

    def _common(self, session: Session, values: dict[str, str], **more: Any) -> dict[str, Any]:
        return dict(
            session=session,
            values=values,
            choices=self.pages.filter_choices(),
            presets=PRESETS,
            period_help=PERIOD_HELP,
            states=CASE_STATES,
            query_string=urlencode({k: v for k, v in values.items() if v}),
            **more,
        )

    async def overview(self, request: web.Request, session: Session) -> web.StreamResponse:
        period, filters, values = self._query(request)
        r = await self.pages.overview(session.person_id, period or None, filters)
        names = {p.id: p.name for p in self.pages.config.people}
        chart = {
            "days": [d.day.isoformat() for d in r.days],
            "opened": [d.opened for d in r.days],
            "resolved": [d.resolved for d in r.days],
            "states": list(r.backlog.by_state),
            "stateCounts": list(r.backlog.by_state.values()),
            "ratings": [r.satisfaction.distribution.get(n, 0) for n in range(1, 6)],
        }
        context = self._common(session, values, report=r, chart=chart, names=names)
        return self.render.page("overview.html", **context)

    async def cases(self, request: web.Request, session: Session) -> web.StreamResponse:
        _, filters, values = self._query(request)
        state = values["state"] or "active"
        rows = await self.pages.cases(session.person_id, filters, state, values["q"])
        return self.render.page("cases.html", **self._common(session, values, rows=rows))

    async def case(self, request: web.Request, session: Session) -> web.StreamResponse:
        detail = await self.pages.case(session.person_id, request.match_info["key"])
        return self.render.page("case.html", session=session, case=detail, staff=True)

    async def eng(self, request: web.Request, session: Session) -> web.StreamResponse:
        rows = await self.pages.eng(session.person_id)
        return self.render.page("eng.html", session=session, rows=rows)

    async def kb(self, request: web.Request, session: Session) -> web.StreamResponse:
        rows = await self.pages.kb(session.person_id)
        return self.render.page("kb.html", session=session, rows=rows)

    async def export(self, request: web.Request, session: Session) -> web.StreamResponse:
        table = request.match_info["table"]
        if table not in EXPORTS:
            return self.render.message("Not found", f"There is no table '{table[:40]}'.", 404)
        period, filters, values = self._query(request)
        who = session.person_id
        if table == "cases":
            state = values["state"] or "active"
            return export.cases(await self.pages.cases(who, filters, state, values["q"]))
        if table == "eng":
            return export.eng(await self.pages.eng(who))
        if table == "kb":
            return export.kb(await self.pages.kb(who))
        r = await self.pages.overview(who, period or None, filters)
        if table == "volume":
            return export.volume(r)
        if table == "engineers":
            return export.engineers(r, {p.id: p.name for p in self.pages.config.people})
        return export.summary(r)

    # -- customers ----------------------------------------------------------------------

    async def transcript(self, request: web.Request) -> web.StreamResponse:
        try:
            person, key = self.sessions.transcript_claims(request.query.get("t", ""))
            detail = await self.pages.transcript(person, key)
        except LinkRefused as exc:
            return self.render.message(
                "Link refused", f"Sorry, {exc}. Ask for a new one with `/case transcript`.", 403
            )
        except Refusal as r:
            return self.render.message("Refused", r.message, 403)
        return self.render.page("case.html", session=None, case=detail, staff=False)
