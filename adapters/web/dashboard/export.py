"""CSV export of every dashboard table: the same rows the pages show."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from aiohttp import web

from adapters.web.dashboard.render import HEADERS
from bot.reports import words
from bot.reports.figures import Report
from bot.reports.pages import ArticleRow, CaseRow, EngRow

# Cells that a spreadsheet would run as a formula start with one of these.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def response(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def cases(rows: list[CaseRow]) -> web.Response:
    return response(
        "cases",
        ("case", "title", "state", "severity", "account", "engineer", "opened", "updated"),
        (
            (
                r.key,
                r.title,
                r.state,
                r.severity,
                r.account,
                r.engineer,
                r.opened.isoformat(),
                r.updated.isoformat(),
            )
            for r in rows
        ),
    )


def eng(rows: list[EngRow]) -> web.Response:
    return response(
        "eng-backlog",
        ("issue", "kind", "status", "title", "priority", "accounts", "cases"),
        ((r.key, r.kind, r.status, r.title, r.score, r.accounts, " ".join(r.cases)) for r in rows),
    )


def kb(rows: list[ArticleRow]) -> web.Response:
    return response(
        "knowledge-base",
        ("article", "title", "status", "area", "from case", "updated"),
        ((r.key, r.title, r.status, r.area, r.source_case, r.updated.isoformat()) for r in rows),
    )


def volume(r: Report) -> web.Response:
    return response(
        "volume",
        ("day", "opened", "resolved", "closed"),
        ((d.day.isoformat(), d.opened, d.resolved, d.closed) for d in r.days),
    )


def engineers(r: Report, names: dict[str, str]) -> web.Response:
    return response(
        "engineers",
        ("engineer", "active cases", "resolved in the period"),
        ((names.get(e.person_id, e.person_id), e.active, e.resolved) for e in r.engineers),
    )


def summary(r: Report) -> web.Response:
    rows: list[tuple[object, ...]] = [
        ("period", r.period.label),
        ("opened", r.opened),
        ("resolved", r.resolved),
        ("closed", r.closed),
        ("first response median (s)", r.first_response.median),
        ("first response p90 (s)", r.first_response.p90),
        ("resolution median (s)", r.resolution.median),
        ("resolution p90 (s)", r.resolution.p90),
        ("first response in business time for", " ".join(r.first_response.business)),
        ("resolution in business time for", " ".join(r.resolution.business)),
    ]
    for t in r.targets:
        rows += [
            (f"{words.target_label(t.name)} met", t.met),
            (f"{words.target_label(t.name)} breached", t.breached),
        ]
    s, d = r.satisfaction, r.deflection
    rows += [
        ("survey answers", s.answers),
        ("survey average", s.average),
        ("survey response rate", s.response_rate),
        ("deflected", d.deflected),
        ("deflection rate", d.rate),
        ("backlog waiting on us", r.backlog.on_us),
        ("backlog waiting on the customer", r.backlog.on_customer),
    ]
    return response("summary", ("figure", "value"), rows)
