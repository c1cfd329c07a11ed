"""Knowledge-base files: the shipped examples import, export and re-import unchanged, and a
bad file is reported without stopping the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.kb_files import (
    ArticleFields,
    KbFileError,
    export_dir,
    import_dir,
    parse_markdown,
    render_markdown,
    slugify,
)
from storage.db import Database
from storage.keys import next_key
from storage.models import KbArticle

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "kb"

GOOD = """---
title: Webhook retries explained
area: api
tags: [webhooks]
---
## Symptoms

Deliveries arrive twice.

## Cause

Retries.

## Resolution

Make the receiver idempotent.
"""


def write(directory: Path, name: str, content: str | bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


async def articles(db: Database) -> dict[str, KbArticle]:
    async with db.read() as s:
        return {a.key: a for a in (await s.scalars(select(KbArticle))).all()}


def without_key(fields: ArticleFields) -> ArticleFields:
    fields.key = None
    return fields


# -- parsing and rendering -------------------------------------------------------------


def test_sections_map_to_columns_and_text_before_the_first_heading_is_symptoms() -> None:
    text = """---
title: "Alerts: duplicated"
key: kb-4
area: Dashboards
tags: slack, alerts
source_case: case-12
---
# Alerts: duplicated

Two notifications per alert.

## Cause
Two integrations.

```
## Resolution (inside a code block, not a heading)
```

## Solution

Remove one.
## Symptoms
Since Monday.
"""
    fields = parse_markdown(text, "a.md")
    assert fields == ArticleFields(
        title="Alerts: duplicated",
        key="KB-4",
        area="dashboards",
        tags=["slack", "alerts"],
        source_case="CASE-12",
        status="published",
        symptoms="Two notifications per alert.\n\nSince Monday.",
        cause="Two integrations.\n\n```\n## Resolution (inside a code block, not a heading)\n```",
        resolution="Remove one.",
    )


def test_render_then_parse_gives_the_same_fields() -> None:
    fields = ArticleFields(
        title="Ümlaut: 'quotes', #hash and a very long title " + "x" * 150,
        key="KB-12",
        area="api",
        tags=["a b", "yes", "1.0"],
        source_case="CASE-3",
        status="draft",
        symptoms="- one\n- two  ",
        cause="",
        resolution="1. Do it.\n\n   ```\n   code\n   ```",
    )
    rendered = render_markdown(fields)
    parsed = parse_markdown(rendered, "x.md")
    assert parsed.symptoms == "- one\n- two"
    parsed.symptoms = fields.symptoms = "- one\n- two"
    assert parsed == fields
    assert render_markdown(parsed) == rendered
    assert rendered.startswith("---\nkey: KB-12\ntitle: ")


def test_slugs_are_file_name_safe() -> None:
    assert slugify("Helm upgrade fails: migration job times out!") == (
        "helm-upgrade-fails-migration-job-times-out"
    )
    assert slugify("Über café") == "uber-cafe"
    assert slugify("東京") == "article"
    assert len(slugify("word " * 40)) <= 60


def test_parse_errors_name_the_file() -> None:
    try:
        parse_markdown("---\ntitle: [unclosed\n---\nbody", "broken.md")
    except KbFileError as exc:
        assert str(exc).startswith("broken.md: invalid YAML")
    else:
        raise AssertionError("bad YAML was accepted")


# -- import and export -----------------------------------------------------------------


async def test_the_shipped_examples_round_trip(db: Database, tmp_path: Path) -> None:
    sources = sorted(p for p in EXAMPLES.glob("*.md"))
    assert 8 <= len(sources) <= 10

    report = await import_dir(db, EXAMPLES, NOW)
    assert report.errors == []
    assert report.updated == [] and report.unchanged == []
    assert sorted(report.created) == sorted(f"KB-{n}" for n in range(1, len(sources) + 1))

    first = await export_dir(db, tmp_path / "one")
    assert [p.name.split("-")[1] for p in first] == [str(n) for n in range(1, len(sources) + 1)]
    exported = {without_key(parse_markdown(p.read_text(), p.name)).title: p for p in first}
    for source in sources:
        original = parse_markdown(source.read_text(), source.name)
        assert without_key(parse_markdown(exported[original.title].read_text(), "x")) == original

    again = await import_dir(db, tmp_path / "one", LATER)
    assert again.errors == [] and again.created == [] and again.updated == []
    assert sorted(again.unchanged) == sorted(report.created)
    assert all(a.updated_at == NOW for a in (await articles(db)).values())

    second = await export_dir(db, tmp_path / "two")
    assert [p.name for p in second] == [p.name for p in first]
    assert [p.read_text() for p in second] == [p.read_text() for p in first]

    # Files without keys match by title: importing the examples again duplicates nothing.
    by_title = await import_dir(db, EXAMPLES, LATER)
    assert by_title.created == [] and by_title.updated == [] and by_title.errors == []


async def test_malformed_files_are_reported_and_the_rest_imports(
    db: Database, tmp_path: Path
) -> None:
    write(tmp_path, "good.md", GOOD)
    write(tmp_path, "no-title.md", "---\narea: api\n---\n## Symptoms\nx\n")
    write(tmp_path, "bad-yaml.md", "---\ntitle: [unclosed\n  : :\n---\nbody\n")
    write(tmp_path, "no-front-matter.md", "# Just a heading\n\nSome text.\n")
    write(tmp_path, "bad-status.md", "---\ntitle: T\nstatus: archived\n---\n")
    write(tmp_path, "bad-key.md", "---\ntitle: T\nkey: CASE-1\n---\n")
    write(tmp_path, "bad-tags.md", "---\ntitle: T\ntags: {a: 1}\n---\n")
    write(tmp_path, "title-list.md", "---\ntitle: [a, b]\n---\n")
    write(tmp_path, "latin1.md", "---\ntitle: caf\u00e9\n---\n".encode("latin-1"))
    write(tmp_path, "README.md", "How to write articles.\n")
    write(tmp_path, "notes.txt", "not an article")

    report = await import_dir(db, tmp_path, NOW)

    assert report.created == ["KB-1"]
    failed = {line.split(":", 1)[0]: line for line in report.errors}
    assert sorted(failed) == [
        "bad-key.md",
        "bad-status.md",
        "bad-tags.md",
        "bad-yaml.md",
        "latin1.md",
        "no-front-matter.md",
        "no-title.md",
        "title-list.md",
    ]
    assert "no title" in failed["no-title.md"]
    assert "YAML" in failed["bad-yaml.md"]
    assert "archived" in failed["bad-status.md"]
    assert "UTF-8" in failed["latin1.md"]
    stored = (await articles(db))["KB-1"]
    assert (stored.title, stored.area, stored.tags, stored.status) == (
        "Webhook retries explained",
        "api",
        ["webhooks"],
        "published",
    )
    assert stored.resolution == "Make the receiver idempotent."


async def test_a_key_in_a_file_updates_that_article(db: Database, tmp_path: Path) -> None:
    write(tmp_path / "a", "a.md", GOOD)
    await import_dir(db, tmp_path / "a", NOW)
    write(
        tmp_path / "b", "b.md", GOOD.replace("title:", "key: KB-1\ntitle:").replace("twice", "3x")
    )

    report = await import_dir(db, tmp_path / "b", LATER)

    assert (report.created, report.updated) == ([], ["KB-1"])
    stored = (await articles(db))["KB-1"]
    assert stored.symptoms == "Deliveries arrive 3x."
    assert (stored.created_at, stored.updated_at) == (NOW, LATER)


async def test_keys_from_files_are_never_allocated_again(db: Database, tmp_path: Path) -> None:
    # Sorted by name, the keyless file comes first; it must not take KB-1 or KB-2.
    write(tmp_path, "a-keyless.md", GOOD)
    write(tmp_path, "b-one.md", "---\nkey: KB-1\ntitle: One\n---\n")
    write(tmp_path, "c-two.md", "---\nkey: KB-2\ntitle: Two\n---\n")

    report = await import_dir(db, tmp_path, NOW)

    assert sorted(report.created) == ["KB-1", "KB-2", "KB-3"]
    assert (await articles(db))["KB-3"].title == "Webhook retries explained"
    async with db.transaction() as s:
        assert await next_key(s, "KB") == "KB-4"


async def test_two_files_for_one_article_are_reported(db: Database, tmp_path: Path) -> None:
    write(tmp_path, "a.md", "---\nkey: KB-5\ntitle: One\n---\n")
    write(tmp_path, "b.md", "---\nkey: KB-5\ntitle: Two\n---\n")
    write(tmp_path, "c.md", GOOD)
    write(tmp_path, "d.md", GOOD)

    report = await import_dir(db, tmp_path, NOW)

    assert sorted(report.created) == ["KB-5", "KB-6"]
    assert report.errors == [
        "b.md: same article (KB-5) as a.md",
        "d.md: same article (KB-6) as c.md",
    ]
    assert (await articles(db))["KB-5"].title == "One"


async def test_export_skips_discarded_and_removes_stale_files(db: Database, tmp_path: Path) -> None:
    write(tmp_path / "in", "a.md", "---\ntitle: Old title\n---\n")
    write(tmp_path / "in", "b.md", "---\ntitle: Soon discarded\nstatus: draft\n---\n")
    await import_dir(db, tmp_path / "in", NOW)
    out = tmp_path / "out"
    assert [p.name for p in await export_dir(db, out)] == [
        "KB-1-old-title.md",
        "KB-2-soon-discarded.md",
    ]
    write(out, "KB-10-unrelated.md", "---\ntitle: Hand-written\n---\n")

    async with db.transaction() as s:
        await s.execute(update(KbArticle).where(KbArticle.key == "KB-1").values(title="New"))
        await s.execute(update(KbArticle).where(KbArticle.key == "KB-2").values(status="discarded"))
    written = await export_dir(db, out)

    assert [p.name for p in written] == ["KB-1-new.md"]
    assert sorted(p.name for p in out.iterdir()) == ["KB-1-new.md", "KB-10-unrelated.md"]
