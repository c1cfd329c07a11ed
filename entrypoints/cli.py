"""The `casebot` command line."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import structlog
import typer

from bot.config import Config, ConfigError, load_config
from bot.kb_files import count_articles
from bot.ports import PlatformOptions
from entrypoints.cli_options import ConfigOpt, DbOpt, LogOpt, db_url, load, or_exit
from entrypoints.cli_reports import reports_app
from entrypoints.cli_stores import db_app, kb_app, outbox_app

if TYPE_CHECKING:
    from entrypoints.bootstrap import Casebot

app = typer.Typer(
    help="casebot: the whole support case life cycle in Slack and Discord.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Check a configuration file.", no_args_is_help=True)
discord_app = typer.Typer(help="Discord application commands.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(kb_app, name="kb")
app.add_typer(outbox_app, name="outbox")
app.add_typer(discord_app, name="discord")
app.add_typer(reports_app, name="reports")


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
    json_logs = os.environ.get("CASEBOT_LOG_FORMAT", "").strip().lower() == "json"
    if json_logs:
        _json_stdlib_logging()
    structlog.configure(
        processors=[
            # The case key and platform event id the command layer binds (commands/invoke.py).
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper("iso"),
            structlog.processors.format_exc_info if json_logs else _keep,
            structlog.processors.JSONRenderer()
            if json_logs
            else structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)
        ),
    )


def _keep(logger: Any, name: str, event: Any) -> Any:
    return event


def _json_stdlib_logging() -> None:
    """Lines from the standard library's loggers (aiohttp, alembic, ours) as JSON too."""
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper("iso"),
            structlog.processors.format_exc_info,
        ],
    )
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


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


@app.command()
def demo(config: ConfigOpt = None) -> None:
    """A scripted whole life cycle on the console platform with a fake clock."""
    from entrypoints.demo import run_demo

    _setup_logging("WARNING")
    asyncio.run(run_demo(load(config)))


@app.command()
def worker(
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    log_level: LogOpt = "INFO",
) -> None:
    """Deliver notifications and fire timers (no chat listeners): run as many as you like."""
    from entrypoints.worker import run_worker

    _setup_logging(log_level)
    cfg = load(config)
    url = db_url(database_url)
    or_exit(run_worker(cfg, url, os.environ.get("CASEBOT_REDIS_URL")), url)


@app.command()
def run(
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            "--platform",
            metavar="NAME",
            help="slack, discord, email or console, once per platform (default: "
            "every platform whose token or server is set, else the console)",
        ),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Slack over HTTP instead of Socket Mode")
    ] = False,
    host: Annotated[str, typer.Option(metavar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT")] = 3000,
    log_level: LogOpt = "INFO",
    fake_clock: Annotated[
        bool,
        typer.Option(
            "--fake-clock",
            help="The console only: time stands still until you type `advance 2h`, so "
            "chases, phone tasks, SLA warnings and escalation follow-ups can be seen.",
        ),
    ] = False,
) -> None:
    """Run the bot: chat adapters, notification delivery and timers."""
    cfg = load(config)
    _setup_logging(log_level)
    options = PlatformOptions(http=http, host=host, port=port)
    if fake_clock:
        from bot.clock import FakeClock, SystemClock

        asked = [n.strip().lower() for n in platform or []]
        if asked not in ([], ["console"]):
            typer.echo("casebot: --fake-clock is for the console only (--platform console).")
            raise typer.Exit(2)
        platform = ["console"]
        options = replace(
            options, clock=FakeClock(SystemClock().now().replace(second=0, microsecond=0))
        )
    with suppress(KeyboardInterrupt):
        url = db_url(database_url)
        or_exit(_run(cfg, url, platform or [], options), url)


@app.command("web")
def web_command(
    config: ConfigOpt = None,
    database_url: DbOpt = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Default: $CASEBOT_HTTP_PORT, else 3000")] = None,
    log_level: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Serve the web surfaces alone (the dashboard, transcripts, /readyz, /metrics)."""
    cfg = load(config)
    _setup_logging(log_level)
    with suppress(KeyboardInterrupt):
        url = db_url(database_url)
        or_exit(_web(cfg, url, host, port), url)


async def _web(config: Config, url: str, host: str, port: int | None) -> None:
    import importlib

    from adapters.web import WebServer, public_url_from_env
    from entrypoints import web
    from entrypoints.bootstrap import Casebot

    if port is None:
        port = web.http_port(os.environ)
    server = WebServer(host, 3000 if port is None else port, public_url_from_env(os.environ))
    bot = await Casebot.create(config, url)
    try:
        await _attach_coordination(bot)
        # The dashboard and the operators' pages always; other surfaces when wanted.
        always = [importlib.import_module(web.SURFACES[n]) for n in ("dashboard", "operators")]
        for surface in {*always, *web.surfaces(config, os.environ)}:
            surface.mount(server, bot, os.environ)
        await web.start(server)
        await _until_stopped(bot)
    finally:
        await server.stop()
        await bot.close()


async def _run(config: Config, url: str, names: list[str], options: PlatformOptions) -> None:
    from entrypoints import mail_console, web
    from entrypoints.bootstrap import Casebot
    from entrypoints.platforms import build, wanted

    chosen = wanted(names, os.environ)
    surfaces = web.surfaces(config, os.environ)
    server = web.server_for(options, os.environ, surfaces)
    bot = await Casebot.create(config, url, clock=options.clock)
    try:
        await _attach_coordination(bot)
        kb_note = await _first_run_kb(bot)
        options = replace(options, settle=bot.drain, web=server)
        for name in chosen:
            await bot.start_platform(build(name, os.environ, options))
        typer.echo(f"casebot: {kb_note}", err=True)  # once the platforms could start
        mail_console.wire(bot.running)
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


async def _first_run_kb(bot: Casebot) -> str:
    """An empty knowledge base: the example configuration (``support.seed_examples``)
    gets the example articles; any other starts empty and is told how to import."""
    from bot.kb_files import import_dir

    count = await count_articles(bot.db)
    if count > 0:
        return f"the knowledge base has {count} articles."
    if bot.config.support.seed_examples and await asyncio.to_thread(EXAMPLES_KB.is_dir):
        areas = {a.key for a in bot.config.product_areas}
        report = await import_dir(bot.db, EXAMPLES_KB, bot.clock.now(), areas)
        return (
            f"imported {len(report.created)} example articles from {EXAMPLES_KB} "
            "(support.seed_examples)"
        )
    return EMPTY_KB


@discord_app.command("sync")
def discord_sync(
    global_: Annotated[bool, typer.Option("--global")] = False,
    config: ConfigOpt = None,
) -> None:
    """Sync the /case application commands (to the configured guilds, or globally)."""
    from adapters.discord import sync_commands

    cfg = load(config)

    async def go() -> None:
        typer.echo(await sync_commands(cfg, global_=global_))

    or_exit(go())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
