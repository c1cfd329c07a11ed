"""The `casebot` command line."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import structlog
import typer

from bot.config import Config, ConfigError, config_path_from_env, load_config
from bot.kb_files import count_articles
from bot.ports import PlatformError, PlatformOptions
from storage.db import database_url_from_env, normalize_url

if TYPE_CHECKING:
    from entrypoints.bootstrap import Casebot

T = TypeVar("T")

app = typer.Typer(
    help="casebot: the whole support case life cycle in Slack and Discord.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
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
        "--config",
        "-c",
        metavar="FILE",
        help="The YAML file (default: $CASEBOT_CONFIG or examples/casebot.yml).",
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="URL",
        help="Default: $CASEBOT_DATABASE_URL or sqlite:///casebot.db.",
    ),
]

LogOpt = Annotated[str, typer.Option(metavar="LEVEL", help="DEBUG, INFO, WARNING or ERROR.")]
DirArg = Annotated[Path, typer.Argument(metavar="DIR")]


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"casebot {version('casebot')}")
        except PackageNotFoundError:  # a source tree that was never installed
            typer.echo("casebot (not installed)")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """casebot: the whole support case life cycle in Slack and Discord."""


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
    with _database_reached(url):
        upgrade(url)
    typer.echo(f"Database at {_redact(url)} is up to date.")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


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
    areas = {a.key for a in _load(config).product_areas}
    url = _db_url(database_url)

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

    raise typer.Exit(_or_exit(go(), url))


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
    url = _db_url(database_url)

    async def go() -> None:
        db = Database(url)
        try:
            await db.migrate()
            paths = await export_dir(db, directory)
        finally:
            await db.dispose()
        typer.echo(f"wrote {len(paths)} articles to {directory}")

    _or_exit(go(), url)


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only those given up on.")] = False,
    database_url: DbOpt = None,
) -> None:
    """Notifications not yet delivered (or, with --failed, given up on)."""
    from bot.delivery.records import listing
    from storage.db import Database

    url = _db_url(database_url)

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

    _or_exit(go(), url)


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

    url = _db_url(database_url)

    async def go() -> None:
        db = Database(url)
        try:
            n = await requeue(db, ids or None, SystemClock().now())
        finally:
            await db.dispose()
        typer.echo(f"{n} notifications queued again")

    _or_exit(go(), url)


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
    log_level: LogOpt = "INFO",
) -> None:
    """Deliver notifications and fire timers (no chat listeners): run as many as you like."""
    from entrypoints.worker import run_worker

    _setup_logging(log_level)
    cfg = _load(config)
    url = _db_url(database_url)
    _or_exit(run_worker(cfg, url, os.environ.get("CASEBOT_REDIS_URL")), url)


@app.command()
def run(
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            "--platform",
            metavar="NAME",
            help="slack, discord or console, once per platform (default: every "
            "platform whose token is set, else the console)",
        ),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Slack over HTTP instead of Socket Mode")
    ] = False,
    host: Annotated[str, typer.Option(metavar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT")] = 3000,
    log_level: LogOpt = "INFO",
) -> None:
    """Run the bot: chat adapters, notification delivery and timers."""
    cfg = _load(config)
    _setup_logging(log_level)
    options = PlatformOptions(http=http, host=host, port=port)
    with suppress(KeyboardInterrupt):
        url = _db_url(database_url)
        _or_exit(_run(cfg, url, platform or [], options), url)


def _or_exit(main: Coroutine[Any, Any, T], url: str | None = None) -> T:
    """Run ``main``; a platform that cannot start, or a database that cannot be
    reached, says why in one line (exit 2) instead of a traceback."""
    try:
        with _database_reached(url):
            return asyncio.run(main)
    except PlatformError as exc:
        typer.echo(f"casebot: {exc}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def _database_reached(url: str | None) -> Iterator[None]:
    """A database that refuses, is not there or is not running: one line, exit 2."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        yield
    except (OperationalError, DBAPIError, OSError) as exc:
        if isinstance(exc, OSError) and url is None:
            raise
        where = f" at {_redact(url)}" if url else ""
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        typer.echo(
            f"casebot: cannot use the database{where}: {reason[0] if reason else exc}", err=True
        )
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


EXAMPLES_KB = Path("examples/kb")
EMPTY_KB = (
    "The knowledge base is empty: customers get no suggestions until you import "
    "articles (casebot kb import DIR)."
)


async def _first_run_kb(bot: Casebot) -> None:
    """An empty knowledge base: the example configuration (``support.seed_examples``)
    gets the example articles; any other starts empty and is told how to import."""
    from bot.kb_files import import_dir

    if await count_articles(bot.db) > 0:
        return
    if bot.config.support.seed_examples and await asyncio.to_thread(EXAMPLES_KB.is_dir):
        report = await import_dir(bot.db, EXAMPLES_KB, bot.clock.now())
        typer.echo(
            f"casebot: imported {len(report.created)} example articles from {EXAMPLES_KB} "
            "(support.seed_examples)",
            err=True,
        )
        return
    typer.echo(f"casebot: {EMPTY_KB}", err=True)


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
