"""What the `casebot` commands share: their options, loading the configuration, and
running a coroutine so a platform or database that fails says why in one line."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.config import Config, ConfigError, config_path_from_env, load_config
from bot.ports import PlatformError
from storage.db import database_url_from_env, normalize_url, settle_sqlite_threads

T = TypeVar("T")

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


def load(path: Path | None) -> Config:
    path = path or config_path_from_env()
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def db_url(url: str | None) -> str:
    return normalize_url(url) if url else database_url_from_env()


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def or_exit(main: Coroutine[Any, Any, T], url: str | None = None) -> T:
    """Run ``main``; a platform that cannot start, or a database that cannot be
    reached, says why in one line (exit 2) instead of a traceback."""
    try:
        with database_reached(url):
            return asyncio.run(_settled(main))
    except PlatformError as exc:
        typer.echo(f"casebot: {exc}", err=True)
        raise typer.Exit(2) from None


def database_errors() -> tuple[type[BaseException], ...]:
    """What a database that refuses, is not there or is not running raises."""
    from sqlalchemy.exc import DBAPIError

    return (DBAPIError, OSError)


async def _settled(main: Coroutine[Any, Any, T]) -> T:
    try:
        return await main
    except database_errors():
        await settle_sqlite_threads()
        raise


@contextmanager
def database_reached(url: str | None) -> Iterator[None]:
    """A database that refuses, is not there or is not running: one line, exit 2."""
    try:
        yield
    except database_errors() as exc:
        if isinstance(exc, OSError) and url is None:
            raise
        where = f" at {redact(url)}" if url else ""
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        typer.echo(
            f"casebot: cannot use the database{where}: {reason[0] if reason else exc}", err=True
        )
        raise typer.Exit(2) from None
