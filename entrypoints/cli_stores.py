"""`casebot db`, `casebot kb` and `casebot outbox`: the database, the knowledge base as
files and the notifications, each refusing a mistake in one line before changing
anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from entrypoints.cli_options import (
    ConfigOpt,
    DbOpt,
    DirArg,
    database_reached,
    db_url,
    load,
    or_exit,
    redact,
)

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
kb_app = typer.Typer(help="The knowledge base as Markdown files.", no_args_is_help=True)
outbox_app = typer.Typer(help="Notifications waiting or failed.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(database_url: DbOpt = None) -> None:
    """Bring the database schema to the newest migration."""
    from storage.db import upgrade

    url = db_url(database_url)
    with database_reached(url):
        upgrade(url)
    typer.echo(f"Database at {redact(url)} is up to date.")


@kb_app.command("import")
def kb_import(directory: DirArg, config: ConfigOpt = None, database_url: DbOpt = None) -> None:
    """Import Markdown articles (with front matter) from DIR. An article in a product
    area the configuration does not have is refused (its file and area are named)."""
    from bot.clock import SystemClock
    from bot.kb_files import import_dir
    from storage.db import Database

    if not directory.is_dir():
        what = "is not a folder" if directory.exists() else "does not exist"
        typer.echo(f"casebot: {directory} {what}: nothing imported.", err=True)
        raise typer.Exit(2)
    areas = {a.key for a in load(config).product_areas}
    url = db_url(database_url)

    async def go() -> int:
        db = Database(url)
        try:
            await db.migrate()
            report = await import_dir(db, directory, SystemClock().now(), areas)
        finally:
            await db.dispose()
        typer.echo(
            f"created {len(report.created)}, updated {len(report.updated)}, "
            f"unchanged {len(report.unchanged)}"
        )
        for e in report.errors:
            typer.echo(f"error: {e}", err=True)
        return 1 if report.errors else 0

    raise typer.Exit(or_exit(go(), url))


@kb_app.command("export")
def kb_export(
    directory: DirArg,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a folder that already has files.")
    ] = False,
    database_url: DbOpt = None,
) -> None:
    """Write every article to DIR as Markdown with front matter (a new or empty
    folder, unless --force: then articles' files there are replaced)."""
    from bot.kb_files import export_dir
    from storage.db import Database

    if directory.exists() and not directory.is_dir():
        typer.echo(f"casebot: {directory} is a file, not a folder: nothing written.", err=True)
        raise typer.Exit(2)
    if directory.is_dir() and any(directory.iterdir()) and not force:
        typer.echo(
            f"casebot: {directory} already has files: nothing written "
            "(--force writes there anyway, replacing the articles' files).",
            err=True,
        )
        raise typer.Exit(2)
    url = db_url(database_url)

    async def go() -> None:
        db = Database(url)
        try:
            await db.migrate()
            paths = await export_dir(db, directory)
        finally:
            await db.dispose()
        typer.echo(f"wrote {len(paths)} articles to {directory}")

    or_exit(go(), url)


@kb_app.command("search")
def kb_search(
    query: Annotated[str | None, typer.Argument(help="What a customer would type.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as JSON.")] = False,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="One query per line; one JSON line per answer.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=20)] = 3,
    config: ConfigOpt = None,
    database_url: DbOpt = None,
) -> None:
    """The articles a customer would be shown for QUERY, best first (none below the
    confidence threshold)."""
    from entrypoints import kb_search as ks

    if stdin == bool(query):
        typer.echo("Give a QUERY, or --stdin with no QUERY.", err=True)
        raise typer.Exit(2)
    cfg = load(config)
    url = db_url(database_url)
    or_exit(ks.search_command(url, cfg, query, as_json, limit), url)


@kb_app.command("eval")
def kb_eval(
    file: Path,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List the misses.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Score the live knowledge base on FILE ({"query", "expected": [keys]} per line):
    R@1, R@3, MRR and the false-suggestion rate on questions no article answers."""
    from entrypoints import kb_search as ks

    try:
        questions = ks.read_questions(file.read_text(encoding="utf-8").splitlines(), str(file))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        typer.echo(f"Cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    cfg = load(config)
    url = db_url(database_url)
    typer.echo(or_exit(ks.eval_command(url, cfg, questions, as_json, verbose), url))


@kb_app.command("index")
def kb_index(config: ConfigOpt = None, database_url: DbOpt = None) -> None:
    """Store the embeddings of every published article (semantic search only), so a
    restarted process loads them instead of computing them."""
    from entrypoints import kb_search as ks

    cfg = load(config)
    url = db_url(database_url)
    typer.echo(or_exit(ks.index_command(url, cfg), url))


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only those given up on.")] = False,
    database_url: DbOpt = None,
) -> None:
    """Notifications not yet delivered (or, with --failed, given up on)."""
    from bot.delivery.records import listing
    from storage.db import Database

    url = db_url(database_url)

    async def go() -> None:
        db = Database(url)
        try:
            lines = await listing(db, failed)
        finally:
            await db.dispose()
        for line in lines:
            typer.echo(line)
        if not lines:
            typer.echo(
                "No failed notifications." if failed else "No notifications waiting: all delivered."
            )

    or_exit(go(), url)


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(metavar="ID", hidden=True)] = None,
    database_url: DbOpt = None,
) -> None:
    """Put failed notifications back in the queue: all, or those whose ids are given
    (as `outbox list --failed` shows them)."""
    from bot.clock import SystemClock
    from bot.delivery.records import requeue
    from storage.db import Database

    url = db_url(database_url)

    async def go() -> None:
        db = Database(url)
        try:
            n = await requeue(db, ids or None, SystemClock().now())
        finally:
            await db.dispose()
        typer.echo(f"{n} notifications queued again")

    or_exit(go(), url)
