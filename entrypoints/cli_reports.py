"""`casebot reports`: the report rollup (``storage.rollup``), rebuilt from the cases."""

from __future__ import annotations

import asyncio

import typer

from entrypoints.cli_options import ConfigOpt, DbOpt, database_reached, db_url, load, redact

reports_app = typer.Typer(help="The reports' rollup.", no_args_is_help=True)


@reports_app.command("rebuild")
def reports_rebuild(config: ConfigOpt = None, database_url: DbOpt = None) -> None:
    """Recompute the reports' per-case facts and per-day sums from the cases (after a
    bulk import or a restore, or after changing the SLA's units or the support time
    zone, which decide how durations are measured; the running bot keeps them current
    by itself). Run it while nothing writes cases: it replaces the rollup in one
    transaction."""
    from bot.sla import clock
    from bot.templates import count
    from storage import rollup
    from storage.db import Database

    measure = clock(load(config))
    url = db_url(database_url)

    async def go() -> tuple[int, int]:
        db = Database(url)
        try:
            await db.migrate()
            async with db.transaction() as s:
                return await rollup.rebuild(s, measure)
        finally:
            await db.dispose()

    with database_reached(url):
        cases, days = asyncio.run(go())
    said = f"{count(cases, 'case')}, {count(days, 'day row')}"
    typer.echo(f"Rebuilt the reports' rollup at {redact(url)}: {said}.")
