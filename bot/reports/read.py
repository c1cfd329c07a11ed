"""The report reads surfaces call, inside a unit of work: who may see a report is the
policy table's answer; a CSM's figures count only the accounts they look after."""

from __future__ import annotations

from bot.actors import Actor
from bot.config import Config
from bot.policy import Deed
from bot.reports import words
from bot.reports.figures import Report
from bot.reports.period import Filters, parse_period
from bot.sla import FIRST_RESPONSE, RESOLUTION, clock
from bot.views import accounts_seen
from bot.work import Work
from storage.report_fast import FastQuery


def sla_targets(config: Config) -> dict[str, list[str]]:
    """Each service-level target and the severities that have it."""
    return {
        FIRST_RESPONSE: sorted(str(s) for s in config.sla.first_response),
        RESOLUTION: sorted(str(s) for s in config.sla.resolution),
    }


async def report(
    w: Work, a: Actor, period: str | None, filters: Filters | None = None, deed: Deed = Deed.STATS
) -> Report:
    w.require(a, deed)
    query = FastQuery(
        w.session,
        parse_period(period, w.now),
        filters or Filters(),
        accounts_seen(w, a),
        w.now,
        sla_targets(w.config),
        clock(w.config),
    )
    return await query.report()


async def stats(w: Work, a: Actor, period: str | None) -> str:
    """``/case stats [period]``: the headline figures."""
    return words.headline(await report(w, a, period))
