"""Knowledge search, measured: quality on bench/kb and speed at 10,000 articles.

For each database (SQLite, and PostgreSQL when reachable) in a scratch database:

1. imports bench/kb/articles (45 articles with near-duplicates) and scores the tuning
   and the held-out questions (R@1, R@3, MRR, false suggestions on unanswerable), with
   the configuration's synonyms and threshold (examples/casebot.yml), exactly as
   ``casebot kb eval`` does;
2. adds generated articles up to ``--articles`` (10,000) and times every held-out
   question ``--rounds`` times through :func:`storage.search.search_articles` (the call
   case opening makes), after one warm-up round: p50, p95, max per query.

``--semantic`` repeats both with the semantic extra (sentence-transformers), fused by
reciprocal rank. PostgreSQL comes from ``CASEBOT_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); the run makes its own database
there and drops it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sqlalchemy import create_engine, insert, text  # noqa: E402

from bot.config import load_config  # noqa: E402
from bot.kb_files import import_dir  # noqa: E402
from bot.search import read_questions, score  # noqa: E402
from storage.db import Database, normalize_url  # noqa: E402
from storage.models import KbArticle  # noqa: E402
from storage.search import SearchSettings, search_articles  # noqa: E402
from storage.search_text import Synonyms  # noqa: E402

KB = ROOT / "bench" / "kb"
PG_URL = os.environ.get(
    "CASEBOT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2026, 12, 1, tzinfo=UTC)

# Generated articles speak the product's language, so queries find many candidates
# among them (the realistic, slow case), but none is about the same problem.
PARTS = (
    "agent collector exporter pipeline dashboard widget monitor alert notebook query "
    "service host container cluster node pod region workspace token webhook invoice "
    "integration browser mobile synthetic trace span metric log event quota plan user"
).split()
TROUBLE = (
    "fails intermittently|reports stale values|is missing after import|shows an error "
    "banner|loses its settings|stops updating|returns a wrong total|rejects the request|"
    "is slow to respond|duplicates entries|crashes on start|times out behind a firewall"
).split("|")
CONTEXT = (
    "after an upgrade|in a new region|with many tags|for archived projects|on weekends|"
    "with a custom domain|under heavy load|after renaming a team|in read-only mode|"
    "with an expired licence|when the clock changes|for nested folders"
).split("|")
FILLER = (
    "check the settings page and the logs of the component before contacting support "
    "restart the process apply the latest version verify permissions of the account "
    "review network rules compare the configuration with the documented defaults"
).split()


def generated(n: int, start: int) -> list[dict[str, Any]]:
    rnd = random.Random(14)
    rows = []
    for i in range(n):
        a, b = rnd.sample(PARTS, 2)
        title = f"{a.capitalize()} {rnd.choice(TROUBLE)} {rnd.choice(CONTEXT)} ({b} {i})"
        body = lambda k: " ".join(rnd.choices(FILLER + PARTS, k=k)).capitalize() + "."  # noqa: E731
        rows.append(
            {
                "key": f"KB-{start + i}",
                "title": title,
                "symptoms": f"The {a} {rnd.choice(TROUBLE)}. {body(25)}",
                "cause": body(30),
                "resolution": body(40),
                "area": rnd.choice(["api", "install", "dashboards", "billing"]),
                "tags": [a, b],
                "status": "published",
                "created_at": NOW,
                "updated_at": NOW + timedelta(seconds=i),
            }
        )
    return rows


def synthetic(index: Any, rows: list[dict[str, Any]]) -> None:
    """Random unit vectors for the generated articles' sections, put where the index
    looks before running the model: what a query costs does not depend on the values,
    and embedding 40,000 sections takes half an hour on two busy cores. The 45 real
    articles are still embedded by the model."""
    import numpy as np

    from storage.semantic import chunks

    rnd = np.random.default_rng(14)
    for row in rows:
        for _, body in chunks(SimpleNamespace(**row)):
            v = rnd.standard_normal(384).astype(np.float32)
            index._memo[body] = v / np.linalg.norm(v)


def postgres_database() -> tuple[str, Any] | None:
    base = normalize_url(PG_URL)
    try:
        admin = create_engine(
            base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        name = f"casebot_bench_kb_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - no server: skip that row
        print(f"(PostgreSQL skipped: {exc.__class__.__name__} at {PG_URL})")
        return None
    return base.rsplit("/", 1)[0] + "/" + name, (admin, name)


def drop_postgres(handle: Any) -> None:
    admin, name = handle
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


async def quality(db: Database, settings: SearchSettings, name: str) -> dict[str, Any]:
    qs = read_questions((KB / f"{name}.jsonl").read_text().splitlines(), name)
    shown = []
    async with db.read() as s:
        for q in qs:
            shown.append([h.key for h in await search_articles(s, q.query, settings=settings)])
    return score(qs, shown).as_dict()


async def timing(db: Database, settings: SearchSettings, rounds: int) -> dict[str, float]:
    qs = [q.query for q in read_questions((KB / "heldout.jsonl").read_text().splitlines())]
    times: list[float] = []
    async with db.read() as s:
        for q in qs:  # warm-up: index figures, embeddings, caches
            await search_articles(s, q, settings=settings)
        for _ in range(rounds):
            for q in qs:
                t0 = time.perf_counter()
                await search_articles(s, q, settings=settings)
                times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "max": times[-1],
        "n": len(times),
    }


async def run_one(label: str, url: str, opts: argparse.Namespace) -> None:
    config = load_config(ROOT / "examples" / "casebot.yml")
    modes = [("lexical", None)]
    if opts.semantic:
        from storage.semantic import SemanticIndex

        modes.append(("semantic", SemanticIndex.for_model(config.search.semantic.model)))
    db = Database(url)
    try:
        await db.migrate()
        report = await import_dir(db, KB / "articles", NOW)
        assert not report.errors, report.errors
        for mode, semantic in modes:
            settings = SearchSettings(
                synonyms=Synonyms(config.search.synonyms),
                min_confidence=config.search.min_confidence,
                semantic=semantic,
                semantic_min_confidence=config.search.semantic.min_confidence,
            )
            for name in ("tune", "heldout"):
                print(
                    f"{label:10} {mode:8} 45 articles  {name:8} {await quality(db, settings, name)}"
                )
        extra = opts.articles - 45
        rows = generated(extra, 1000)
        if opts.synthetic_vectors and len(modes) > 1:
            synthetic(modes[1][1], rows)
        async with db.transaction() as s:
            for i in range(0, len(rows), 1000):
                await s.execute(insert(KbArticle), rows[i : i + 1000])
        if not db.is_sqlite:
            # What autovacuum does after a bulk load: statistics for the planner.
            async with db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE kb_articles"))
        for mode, semantic in modes:
            settings = SearchSettings(
                synonyms=Synonyms(config.search.synonyms),
                min_confidence=config.search.min_confidence,
                semantic=semantic,
                semantic_min_confidence=config.search.semantic.min_confidence,
            )
            t0 = time.perf_counter()
            held = await quality(db, settings, "heldout")
            warm = time.perf_counter() - t0
            if not (semantic and opts.synthetic_vectors):
                print(
                    f"{label:10} {mode:8} {opts.articles} articles heldout {held} "
                    f"(first pass {warm:.1f} s)"
                )
            t = await timing(db, settings, opts.rounds)
            print(
                f"{label:10} {mode:8} {opts.articles} articles per query: p50 {t['p50']:.2f} ms, "
                f"p95 {t['p95']:.2f} ms, max {t['max']:.2f} ms over {t['n']} queries"
            )
    finally:
        await db.dispose()


async def main(opts: argparse.Namespace) -> None:
    if not opts.only or opts.only == "sqlite":
        path = Path(f"/tmp/casebot-bench-kb-{uuid.uuid4().hex[:8]}.db")
        try:
            await run_one("SQLite", f"sqlite:///{path}", opts)
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
    if not opts.only or opts.only == "postgres":
        pg = postgres_database()
        if pg:
            try:
                await run_one("PostgreSQL", pg[0], opts)
            finally:
                drop_postgres(pg[1])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--semantic", action="store_true")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--synthetic-vectors",
        action="store_true",
        help="random vectors for the generated articles (timing only; see synthetic())",
    )
    asyncio.run(main(parser.parse_args()))
