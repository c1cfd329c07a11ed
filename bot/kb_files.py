"""Knowledge-base articles as Markdown files with YAML front matter.

Files let a support team write articles in a text editor, review them in git and seed a
fresh installation; the database stays the system of record. The format::

    ---
    key: KB-3            # optional; without it the article is matched by exact title
    title: Webhook deliveries fail with HTTP 500 after token rotation
    area: api
    tags: [webhooks, tokens]
    source_case: CASE-12
    status: published    # published (default) | draft | discarded
    ---
    Text before the first heading belongs to the symptoms.

    ## Symptoms
    ## Cause
    ## Resolution
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.keys import next_key
from storage.models import Counter, KbArticle

STATUSES = ("published", "draft", "discarded")
SECTIONS = ("symptoms", "cause", "resolution")
# Headings people actually write, mapped to the column they fill.
_SECTION_NAMES = {
    "symptoms": "symptoms",
    "symptom": "symptoms",
    "cause": "cause",
    "causes": "cause",
    "root cause": "cause",
    "resolution": "resolution",
    "solution": "resolution",
    "fix": "resolution",
}
_KEY = re.compile(r"^KB-[1-9][0-9]*$")
_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")


class KbFileError(ValueError):
    """A file that cannot be imported; the message starts with its filename."""


@dataclass
class ArticleFields:
    """What a file holds: the article's editable columns, without ids or timestamps."""

    title: str
    symptoms: str = ""
    cause: str = ""
    resolution: str = ""
    key: str | None = None
    area: str | None = None
    tags: list[str] = field(default_factory=list)
    source_case: str | None = None
    status: str = "published"

    @classmethod
    def of(cls, article: KbArticle) -> ArticleFields:
        return cls(
            title=article.title,
            symptoms=article.symptoms,
            cause=article.cause,
            resolution=article.resolution,
            key=article.key,
            area=article.area,
            tags=[str(t) for t in article.tags or []],
            source_case=article.source_case,
            status=article.status,
        )

    def columns(self) -> dict[str, Any]:
        """The values to store, key excluded (it identifies, it is not updated)."""
        return {
            "title": self.title,
            "symptoms": self.symptoms,
            "cause": self.cause,
            "resolution": self.resolution,
            "area": self.area,
            "tags": list(self.tags),
            "source_case": self.source_case,
            "status": self.status,
        }


@dataclass
class ImportReport:
    """Keys created and updated, and one ``"<file>: <reason>"`` per skipped file.

    ``unchanged`` lists articles whose file matched the database already, so re-importing
    an exported directory reports nothing as updated.
    """

    created: list[str]
    updated: list[str]
    errors: list[str]
    unchanged: list[str] = field(default_factory=list)


# -- pure functions --------------------------------------------------------------------


def render_markdown(article: KbArticle | ArticleFields) -> str:
    """The file for an article; :func:`parse_markdown` gives the same fields back."""
    fields = article if isinstance(article, ArticleFields) else ArticleFields.of(article)
    meta: dict[str, Any] = {}
    if fields.key:
        meta["key"] = fields.key
    meta["title"] = fields.title
    if fields.area:
        meta["area"] = fields.area
    if fields.tags:
        meta["tags"] = list(fields.tags)
    if fields.source_case:
        meta["source_case"] = fields.source_case
    meta["status"] = fields.status
    front = yaml.safe_dump(
        meta, sort_keys=False, allow_unicode=True, default_flow_style=None, width=10_000
    )
    parts = [f"---\n{front}---\n"]
    for name in SECTIONS:
        body = _clean(getattr(fields, name))
        parts.append(f"## {name.capitalize()}\n\n{body}\n" if body else f"## {name.capitalize()}\n")
    return "\n".join(parts)


def parse_markdown(text: str, filename: str) -> ArticleFields:
    """The fields of one article file; raises :class:`KbFileError` naming ``filename``."""
    try:
        meta, content = frontmatter.parse(text.lstrip("\ufeff"))
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise KbFileError(f"{filename}: invalid YAML front matter ({reason})") from exc
    try:
        return _fields(meta, content)
    except ValueError as exc:
        raise KbFileError(f"{filename}: {exc}") from exc


def _fields(meta: dict[str, Any], content: str) -> ArticleFields:
    if not meta:
        raise ValueError("no YAML front matter (a '---' block at the top with at least a title)")
    title = _scalar(meta, "title")
    if not title:
        raise ValueError("front matter has no title")
    key = _scalar(meta, "key")
    if key is not None:
        key = key.upper()
        if not _KEY.match(key):
            raise ValueError(f"key {key!r} is not like KB-12")
    status = (_scalar(meta, "status") or "published").lower()
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    area = _scalar(meta, "area")
    source_case = _scalar(meta, "source_case")
    sections = _sections(content, title)
    return ArticleFields(
        title=title,
        symptoms=sections["symptoms"],
        cause=sections["cause"],
        resolution=sections["resolution"],
        key=key,
        area=area.lower() if area else None,
        tags=_tags(meta.get("tags")),
        source_case=source_case.upper() if source_case else None,
        status=status,
    )


def slugify(title: str, max_length: int = 60) -> str:
    """A file-name-safe ASCII slug of a title."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0]
    return slug or "article"


def file_name(article: KbArticle | ArticleFields) -> str:
    return f"{article.key}-{slugify(article.title)}.md"


def _scalar(meta: dict[str, Any], name: str) -> str | None:
    value = meta.get(name)
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise ValueError(f"{name} must be text, not a {type(value).__name__}")
    text = str(value).strip()
    return text or None


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError("tags must be a list")
    tags: list[str] = []
    for item in items:
        if isinstance(item, (dict, list)):
            raise ValueError("tags must be a list of words")
        tag = str(item).strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _clean(text: str) -> str:
    """Trailing spaces and surrounding blank lines removed: they never carry meaning and
    would make a round trip look like a change."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _sections(content: str, title: str) -> dict[str, str]:
    lines = content.splitlines()
    # A leading "# <title>" repeats the front matter; it is not part of the symptoms.
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].strip().lstrip("#").strip().lower() == title.lower():
        if lines[first].lstrip().startswith("# "):
            lines = lines[first + 1 :]
    # Each heading starts a chunk; a section named twice gets both chunks.
    chunks: dict[str, list[list[str]]] = {name: [[]] for name in SECTIONS}
    current = "symptoms"
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        name = _SECTION_NAMES.get(heading.group(1).strip().lower()) if heading else None
        if name is not None:
            current = name
            chunks[name].append([])
            continue
        chunks[current][-1].append(line)
    return {
        name: "\n\n".join(text for c in parts if (text := _clean("\n".join(c))))
        for name, parts in chunks.items()
    }


# -- import and export -----------------------------------------------------------------


def _read_dir(directory: Path) -> tuple[list[tuple[str, ArticleFields]], list[str]]:
    """Parsed files in name order, and the errors of those that could not be parsed.
    README.md and hidden files are not articles."""
    parsed: list[tuple[str, ArticleFields]] = []
    errors: list[str] = []
    for path in sorted(directory.glob("*.md")):
        if path.name.startswith(".") or path.name.lower() == "readme.md":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            errors.append(f"{path.name}: not UTF-8 text")
            continue
        except OSError as exc:
            errors.append(f"{path.name}: cannot read ({exc.strerror or exc})")
            continue
        try:
            parsed.append((path.name, parse_markdown(text, path.name)))
        except KbFileError as exc:
            errors.append(str(exc))
    return parsed, errors


def _key_number(key: str) -> int:
    digits = key.rpartition("-")[2]
    return int(digits) if digits.isdigit() else 0


async def _find(session: AsyncSession, fields: ArticleFields) -> KbArticle | None:
    if fields.key:
        return await session.scalar(select(KbArticle).where(KbArticle.key == fields.key))
    stmt = (
        select(KbArticle)
        .where(KbArticle.title == fields.title)
        .order_by(KbArticle.status == "discarded", KbArticle.id)
        .limit(1)
    )
    return await session.scalar(stmt)


async def _raise_counter(session: AsyncSession, name: str, at_least: int) -> None:
    """Make sure ``next_key`` never hands out a key a file already brought in."""
    if at_least <= 0:
        return
    guarded = (
        update(Counter).where(Counter.name == name, Counter.value < at_least).values(value=at_least)
    )
    value = await session.scalar(select(Counter.value).where(Counter.name == name))
    if value is None:
        try:
            async with session.begin_nested():
                await session.execute(insert(Counter).values(name=name, value=at_least))
            return
        except IntegrityError:
            pass  # created meanwhile by another worker: raise it below
    await session.execute(guarded)


async def import_dir(
    db: Database, directory: Path, now: datetime, areas: Collection[str] | None = None
) -> ImportReport:
    """Upsert every ``*.md`` article of ``directory`` in one transaction.

    An article is matched by ``key`` when the file has one, else by exact title; new
    articles keep the file's key or get the next KB key. Bad files are reported and
    skipped; two files naming the same article are reported too (the first one wins).
    With ``areas`` (the configured product areas), an article in another area is
    reported and skipped: it would be suggested to nobody, or to the wrong team.
    """
    parsed, errors = await asyncio.to_thread(_read_dir, directory)
    if areas is not None:
        known = ", ".join(sorted(areas))
        for filename, fields in list(parsed):
            if fields.area is not None and fields.area not in areas:
                errors.append(f"{filename}: unknown product area '{fields.area}' (known: {known})")
                parsed.remove((filename, fields))
    report = ImportReport(created=[], updated=[], errors=errors)
    # Files with keys first, so a key allocated for a keyless file can never be one a
    # later file claims.
    parsed.sort(key=lambda item: item[1].key is None)
    async with db.transaction() as session:
        explicit = [_key_number(f.key) for _, f in parsed if f.key]
        await _raise_counter(session, "KB", max(explicit, default=0))
        claimed: dict[int, str] = {}
        for filename, fields in parsed:
            article = await _find(session, fields)
            if article is not None and article.id in claimed:
                report.errors.append(
                    f"{filename}: same article ({article.key}) as {claimed[article.id]}"
                )
                continue
            if article is None:
                key = fields.key or await next_key(session, "KB")
                article = KbArticle(key=key, created_at=now, updated_at=now, **fields.columns())
                session.add(article)
                await session.flush()
                report.created.append(key)
            else:
                changed = False
                for column, value in fields.columns().items():
                    if getattr(article, column) != value:
                        setattr(article, column, value)
                        changed = True
                if changed:
                    article.updated_at = now
                    report.updated.append(article.key)
                else:
                    report.unchanged.append(article.key)
            claimed[article.id] = filename
    return report


def _write_all(
    directory: Path, files: list[tuple[str, str, str]], removed: list[str]
) -> list[Path]:
    """Write the files and delete other ``<key>-*.md`` files of the same or discarded
    keys: a renamed or discarded article must not come back on the next import."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for key, name, content in files:
        for stale in directory.glob(f"{key}-*.md"):
            if stale.name != name:
                stale.unlink()
        path = directory / name
        path.write_text(content, encoding="utf-8", newline="\n")
        written.append(path)
    for key in removed:
        for stale in directory.glob(f"{key}-*.md"):
            stale.unlink()
    return written


async def export_dir(db: Database, directory: Path) -> list[Path]:
    """Write every article that is not discarded as ``<key>-<slug>.md``, in key order."""
    async with db.read() as session:
        articles = list((await session.scalars(select(KbArticle))).all())
    articles.sort(key=lambda a: _key_number(a.key))
    files = [(a.key, file_name(a), render_markdown(a)) for a in articles if a.status != "discarded"]
    removed = [a.key for a in articles if a.status == "discarded"]
    return await asyncio.to_thread(_write_all, directory, files, removed)


async def count_articles(db: Database) -> int:
    """How many articles the knowledge base holds (any status)."""
    from sqlalchemy import func, select

    async with db.read() as s:
        return int((await s.execute(select(func.count()).select_from(KbArticle))).scalar_one())
