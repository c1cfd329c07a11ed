"""``casebot kb search``, ``kb eval`` and ``kb index``: the knowledge search a customer
gets, from the command line, so a team can script it and score it on its own cases.

Every command reads the configuration (``search:``) and the database like the bot does
and asks :func:`storage.search.search_articles` with the same settings, so the hits
printed are exactly the suggestions a customer would be shown.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import IO

from bot.config import Config
from bot.search import Question, Scores, read_questions, score, settings_for
from storage.db import Database
from storage.search import Hit, search_articles

LIMIT = 3


def hit_json(hit: Hit) -> dict[str, object]:
    return {"key": hit.key, "score": round(hit.score, 3), "title": hit.title}


async def answer(db: Database, config: Config, query: str, limit: int = LIMIT) -> list[Hit]:
    async with db.read() as session:
        return await search_articles(session, query, limit=limit, settings=settings_for(config))


async def search_lines(
    db: Database, config: Config, queries: Iterable[str], out: IO[str], limit: int = LIMIT
) -> int:
    """One JSON line per query, written and flushed as soon as it is answered; blank
    lines are skipped. Returns how many queries were answered."""
    n = 0
    for line in queries:
        query = line.rstrip("\n")
        if not query.strip():
            continue
        hits = await answer(db, config, query, limit)
        out.write(json.dumps({"query": query, "hits": [hit_json(h) for h in hits]}) + "\n")
        out.flush()
        n += 1
    return n


def human(query: str, hits: list[Hit]) -> str:
    if not hits:
        return f"No article answers '{query}' with enough confidence to suggest it."
    return "\n".join(f"{h.key}  {h.score:.2f}  {h.title}" for h in hits)


async def evaluate(db: Database, config: Config, questions: list[Question]) -> Scores:
    shown = [[h.key for h in await answer(db, config, q.query)] for q in questions]
    return score(questions, shown)


def report(scores: Scores, verbose: bool = False) -> str:
    d = scores.as_dict()
    lines = [
        f"questions: {d['answerable']} answerable, {d['unanswerable']} unanswerable",
        f"R@1 {d['R@1']:.3f}  R@3 {d['R@3']:.3f}  MRR {d['MRR']:.3f}",
        f"false suggestions on unanswerable: {d['false_suggestion_rate']:.1%}",
        f"wrong first suggestion on answerable: {d['wrong_first_rate']:.1%}",
    ]
    if verbose:
        for m in scores.misses:
            lines.append(f"miss: {m['query']!r} expected {m['expected']} shown {m['shown']}")
    return "\n".join(lines)


async def search_command(
    url: str, config: Config, query: str | None, as_json: bool, limit: int
) -> None:
    """``kb search``: one query (``query``), or every line of standard input."""
    db = Database(url)
    try:
        await db.migrate()
        if query is None:
            await search_lines(db, config, stdin_lines(), sys.stdout, limit)
            return
        hits = await answer(db, config, query, limit)
        if as_json:
            print(json.dumps({"query": query, "hits": [hit_json(h) for h in hits]}), flush=True)
        else:
            print(human(query, hits), flush=True)
    finally:
        await db.dispose()


async def eval_command(
    url: str, config: Config, questions: list[Question], as_json: bool, verbose: bool
) -> str:
    db = Database(url)
    try:
        await db.migrate()
        scores = await evaluate(db, config, questions)
    finally:
        await db.dispose()
    return json.dumps(scores.as_dict()) if as_json else report(scores, verbose)


async def index_command(url: str, config: Config) -> str:
    semantic = settings_for(config).semantic
    if semantic is None:
        return "Semantic search is off (search.semantic.enabled): nothing to index."
    from storage.semantic import index_articles

    db = Database(url)
    try:
        await db.migrate()
        async with db.transaction() as s:
            count = await index_articles(s, semantic)
    finally:
        await db.dispose()
    return f"indexed {count} articles with {semantic.name}"


def stdin_lines() -> Iterable[str]:
    # Line by line, so a pipe gets each answer before the next question arrives.
    while line := sys.stdin.readline():
        yield line


__all__ = ["evaluate", "read_questions", "report", "search_lines", "stdin_lines"]
