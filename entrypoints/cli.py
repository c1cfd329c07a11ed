"""The `casebot` command line."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import structlog
import typer

from bot.config import Config, ConfigError, config_path_from_env, load_config
from bot.kb_files import count_articles
from bot.ports import PlatformError, PlatformOptions
from storage.db import database_url_from_env, normalize_url

if TYPE_CHECKING:
    from entrypoints.bootstrap import Casebot

app = typer.Typer(
    help="casebot: the whole support case life cycle in Slack and Discord.",
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(help="Check a configuration file.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
kb_app = typer.Typer(help="The knowledge base as Markdown files.", no_args_is_help=True)
outbox_app = typer.Typer(help="Notifications waiting or failed.", no_args_is_help=True)
discord_app = typer.Typer(help="Discord application commands.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(kb_app, name="kb")
app.add_typer(outbox_app, name="outbox")
app.add_typer(discord_app, name="discord")

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="The YAML file (default: $CASEBOT_CONFIG or examples/casebot.yml)."
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="Default: $CASEBOT_DATABASE_URL or sqlite:///casebot.db."),
]


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr, format="%(message)s"
    )
    # Migrations and HTTP clients narrate every step at INFO; keep their warnings only.
    for noisy in ("alembic", "httpx", "aiohttp.access", "discord.gateway"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper("iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)
        ),
    )


def _load(path: Path | None) -> Config:
    path = path or config_path_from_env()
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _db_url(url: str | None) -> str:
    return normalize_url(url) if url else database_url_from_env()


@config_app.command("check")
def config_check(file: Path) -> None:
    """Validate FILE: a short summary, or every error with its key path and reason."""
    try:
        config = load_config(file)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{file}: OK")
    typer.echo(config.summary())
    for w in config.warnings:
        typer.echo(f"warning: {w}")


@db_app.command("upgrade")
def db_upgrade(database_url: DbOpt = None) -> None:
    """Bring the database schema to the newest migration."""
    from storage.db import upgrade

    url = _db_url(database_url)
    upgrade(url)
    typer.echo(f"Database at {_redact(url)} is up to date.")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@kb_app.command("import")
def kb_import(directory: Path, database_url: DbOpt = None) -> None:
    """Import Markdown articles (with front matter) from DIRECTORY."""
    from bot.clock import SystemClock
    from bot.kb_files import import_dir
    from storage.db import Database

    async def go() -> int:
        db = Database(_db_url(database_url))
        try:
            await db.migrate()
            report = await import_dir(db, directory, SystemClock().now())
        finally:
            await db.dispose()
        typer.echo(
            f"created {len(report.created)}, updated {len(report.updated)}, "
            f"unchanged {len(report.unchanged)}"
        )
        for e in report.errors:
            typer.echo(f"error: {e}", err=True)
        return 1 if report.errors else 0

    raise typer.Exit(asyncio.run(go()))


@kb_app.command("export")
def kb_export(directory: Path, database_url: DbOpt = None) -> None:
    """Write every article to DIRECTORY as Markdown with front matter."""
    from bot.kb_files import export_dir
    from storage.db import Database

    async def go() -> None:
        db = Database(_db_url(database_url))
        try:
            await db.migrate()
            paths = await export_dir(db, directory)
        finally:
            await db.dispose()
        typer.echo(f"wrote {len(paths)} articles to {directory}")

    asyncio.run(go())


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
    cfg = _load(config)
    asyncio.run(ks.search_command(_db_url(database_url), cfg, query, as_json, limit))


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
    cfg = _load(config)
    typer.echo(
        asyncio.run(ks.eval_command(_db_url(database_url), cfg, questions, as_json, verbose))
    )


@kb_app.command("index")
def kb_index(config: ConfigOpt = None, database_url: DbOpt = None) -> None:
    """Store the embeddings of every published article (semantic search only), so a
    restarted process loads them instead of computing them."""
    from entrypoints import kb_search as ks

    typer.echo(asyncio.run(ks.index_command(_db_url(database_url), _load(config))))


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed")] = False, database_url: DbOpt = None
) -> None:
    """Notifications not yet delivered (or, with --failed, given up on)."""
    from bot.delivery.records import listing
    from storage.db import Database

    async def go() -> None:
        db = Database(_db_url(database_url))
        try:
            for line in await listing(db, failed):
                typer.echo(line)
        finally:
            await db.dispose()

    asyncio.run(go())


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument()] = None, database_url: DbOpt = None
) -> None:
    """Put failed notifications (all, or the given ids) back in the queue."""
    from bot.clock import SystemClock
    from bot.delivery.records import requeue
    from storage.db import Database

    async def go() -> None:
        db = Database(_db_url(database_url))
        try:
            n = await requeue(db, ids or None, SystemClock().now())
        finally:
            await db.dispose()
        typer.echo(f"{n} notifications queued again")

    asyncio.run(go())


@app.command()
def demo(config: ConfigOpt = None) -> None:
    """A scripted whole life cycle on the console platform with a fake clock."""
    from entrypoints.demo import run_demo

    _setup_logging("WARNING")
    asyncio.run(run_demo(_load(config)))


@app.command()
def worker(
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    log_level: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Deliver notifications and fire timers (no chat listeners): run as many as you like."""
    from entrypoints.worker import run_worker

    _setup_logging(log_level)
    cfg = _load(config)
    _or_exit(run_worker(cfg, _db_url(database_url), os.environ.get("CASEBOT_REDIS_URL")))


@app.command()
def run(
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            "--platform",
            help="slack, discord or console (default: every platform whose token "
            "is set, else the console)",
        ),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Slack over HTTP instead of Socket Mode")
    ] = False,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 3000,
    log_level: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run the bot: chat adapters, notification delivery and timers."""
    cfg = _load(config)
    _setup_logging(log_level)
    options = PlatformOptions(http=http, host=host, port=port)
    with suppress(KeyboardInterrupt):
        _or_exit(_run(cfg, _db_url(database_url), platform or [], options))


def _or_exit(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main``; a platform that cannot start says why in one line (exit 2)."""
    try:
        asyncio.run(main)
    except PlatformError as exc:
        typer.echo(f"casebot: {exc}", err=True)
        raise typer.Exit(2) from None


async def _run(config: Config, url: str, names: list[str], options: PlatformOptions) -> None:
    from entrypoints import web
    from entrypoints.bootstrap import Casebot
    from entrypoints.platforms import build, wanted

    chosen = wanted(names, os.environ)
    surfaces = web.surfaces(config, os.environ)
    server = web.server_for(options, os.environ, surfaces)
    bot = await Casebot.create(config, url)
    try:
        await _attach_coordination(bot)
        await _first_run_kb(bot)
        options = replace(options, settle=bot.drain, web=server)
        for name in chosen:
            await bot.start_platform(build(name, os.environ, options))
        if server is not None:
            for surface in surfaces:
                surface.mount(server, bot, os.environ)
            await web.start(server)
        await bot.start()
        await _until_stopped(bot)
    finally:
        if server is not None:
            await server.stop()
        await bot.close()


async def _until_stopped(bot: Casebot) -> None:
    """Until SIGINT/SIGTERM, or a platform ends by itself (the console's ``quit``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
    waits += [asyncio.ensure_future(p.finished()) for p in bot.running]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def _attach_coordination(bot: Casebot) -> None:
    url = os.environ.get("CASEBOT_REDIS_URL")
    if url:
        from storage.coordination import attach_redis

        await attach_redis(bot, url)


async def _first_run_kb(bot: Casebot) -> None:
    """A newcomer sees suggestions at once: an empty knowledge base gets the examples."""
    from bot.kb_files import import_dir

    kb_dir = Path(os.environ.get("CASEBOT_KB_DIR", "examples/kb"))
    if await count_articles(bot.db) == 0 and await asyncio.to_thread(kb_dir.is_dir):
        await import_dir(bot.db, kb_dir, bot.clock.now())


@discord_app.command("sync")
def discord_sync(
    global_: Annotated[bool, typer.Option("--global")] = False,
    config: ConfigOpt = None,
) -> None:
    """Sync the /case application commands (to the configured guilds, or globally)."""
    from adapters.discord import sync_commands

    cfg = _load(config)

    async def go() -> None:
        typer.echo(await sync_commands(cfg, global_=global_))

    _or_exit(go())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
