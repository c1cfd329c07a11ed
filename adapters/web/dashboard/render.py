"""The dashboard's templates (Jinja2, autoescaped) and the few filters they use; the
words of figures are ``bot.reports.words``'."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.reports import words

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# Scripts and styles come from the package only; no frames; links carry no referrer
# (a sign-in token must not leak to another site); same-origin, so forms keep their Origin.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else words.NOTHING


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=_when,
        duration=words.duration,
        business=words.business_note,
        share=words.share,
        target=words.target_label,
        state=words.state_label,
    )
    return env


class Renderer:
    def __init__(self) -> None:
        self.env = environment()

    def page(self, name: str, status: int = 200, **context: Any) -> web.Response:
        html = self.env.get_template(name).render(**context)
        return web.Response(
            text=html, status=status, content_type="text/html", charset="utf-8", headers=HEADERS
        )

    def message(self, title: str, text: str, status: int, **context: Any) -> web.Response:
        context.setdefault("session", None)
        return self.page("message.html", status, title=title, text=text, **context)
