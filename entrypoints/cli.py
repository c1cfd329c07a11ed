"""The `casebot` command line."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer

from bot.config import Config, ConfigError, config_path_from_env, load_config
from storage.db import database_url_from_env, normalize_url

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


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed")] = False, database_url: DbOpt = None
) -> None:
    """Notifications not yet delivered (or, with --failed, given up on)."""
    from bot.worker import outbox_list as listing
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
    from bot.worker import outbox_retry as retry
    from storage.db import Database

    async def go() -> None:
        db = Database(_db_url(database_url))
        try:
            n = await retry(db, ids or None)
        finally:
            await db.dispose()
        typer.echo(f"{n} notifications queued again")

    asyncio.run(go())


@app.command()
def demo(config: ConfigOpt = None) -> None:
    """A scripted whole life cycle on the console platform with a fake clock."""
    from bot.demo import run_demo

    _setup_logging("WARNING")
    asyncio.run(run_demo(_load(config)))


@app.command()
def worker(
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    log_level: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Deliver notifications and fire timers (no chat adapters): run as many as you like."""
    from bot.worker import run_worker

    _setup_logging(log_level)
    cfg = _load(config)
    asyncio.run(run_worker(cfg, _db_url(database_url), os.environ.get("CASEBOT_REDIS_URL")))


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
    with suppress(KeyboardInterrupt):
        asyncio.run(_run(cfg, _db_url(database_url), platform or [], http, host, port))


async def _run(
    config: Config, url: str, platforms: list[str], http: bool, host: str, port: int
) -> None:
    from bot.app import Casebot

    wanted = set(platforms)
    if not wanted:
        if os.environ.get("SLACK_BOT_TOKEN"):
            wanted.add("slack")
        if os.environ.get("DISCORD_TOKEN"):
            wanted.add("discord")
        if not wanted:
            wanted.add("console")
    bot = await Casebot.create(config, url)
    await _attach_coordination(bot)
    await _first_run_kb(bot)
    runners: list[Any] = []
    try:
        if "slack" in wanted:
            from adapters.slack import start_slack

            runners.append(await start_slack(bot, http=http, host=host, port=port))
        if "discord" in wanted:
            from adapters.discord import start_discord

            runners.append(await start_discord(bot))
        await bot.start()
        if "console" in wanted:
            await _console(bot)
        else:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        for r in runners:
            with suppress(Exception):
                await r.stop()
        await bot.close()


async def _attach_coordination(bot) -> None:  # type: ignore[no-untyped-def]
    url = os.environ.get("CASEBOT_REDIS_URL")
    if not url:
        return
    try:
        from storage.coordination import attach_redis
    except ImportError:
        return
    await attach_redis(bot, url)


async def _first_run_kb(bot) -> None:  # type: ignore[no-untyped-def]
    """A newcomer sees suggestions at once: an empty knowledge base gets the examples."""
    from sqlalchemy import func, select

    from bot.kb_files import import_dir
    from storage.models import KbArticle

    kb_dir = Path(os.environ.get("CASEBOT_KB_DIR", "examples/kb"))
    async with bot.db.read() as s:
        count = (await s.execute(select(func.count()).select_from(KbArticle))).scalar_one()
    if count == 0 and await asyncio.to_thread(kb_dir.is_dir):
        await import_dir(bot.db, kb_dir, bot.clock.now())


async def _console(bot) -> None:  # type: ignore[no-untyped-def]
    from adapters.console import ConsoleAdapter, ConsoleSession

    def write(text: str) -> None:
        print(text, flush=True)

    bot.register_adapter(ConsoleAdapter(bot, write))
    session = ConsoleSession(bot, write, ask=input)
    people = ", ".join(f"{p.id} ({p.role})" for p in bot.config.people)
    write(
        f"casebot console — {bot.config.support.name}\nPeople: {people}\n"
        "Type `as <person>`, then `/case help`. `help` lists console commands; "
        "`quit` leaves."
    )
    while True:
        prompt = f"{session.me or '?'}> "
        try:
            line = await asyncio.to_thread(input, prompt)
        except EOFError:
            break
        if not await session.handle(line):
            break


@discord_app.command("sync")
def discord_sync(
    global_: Annotated[bool, typer.Option("--global")] = False,
    config: ConfigOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Sync the /case application commands (to the configured guilds, or globally)."""
    from adapters.discord import sync_commands
    from bot.app import Casebot

    async def go() -> None:
        bot = await Casebot.create(_load(config), _db_url(database_url))
        try:
            typer.echo(await sync_commands(bot, global_=global_))
        finally:
            await bot.close()

    asyncio.run(go())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
