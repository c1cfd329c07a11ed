"""Relevance search over knowledge-base articles and open engineering issues.

A query is never passed to the database as typed. :mod:`storage.search_text` reduces it
to concepts (meaningful words, with their synonyms and typo corrections); each lookup word
is quoted and the words OR-ed, so user text can never inject FTS syntax. The database
finds candidates with its own stemming and column weights — SQLite FTS5 ``bm25()`` over a
``porter unicode61`` index, PostgreSQL ``ts_rank_cd`` over the ``english`` configuration
with ``setweight`` (migration 0002) — and each candidate is then scored by how much of the
query it covers (:func:`storage.search_index.coverage`). That score is comparable across
queries, which is what lets one confidence threshold decide whether a customer is shown a
suggestion at all: no suggestion is better than a wrong one.

With the semantic extra (:mod:`storage.semantic`) the lexical and the embedding rankings
are fused by reciprocal rank, and the confidence blends both scores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.search_index import (
    ENG,
    KB,
    Corpus,
    IndexStats,
    coverage,
    document_stems,
    stats,
    title_coverage,
)
from storage.search_sql import fetch
from storage.search_text import (
    MAX_TERM_LENGTH,
    MAX_TERMS,
    STOP_WORDS,
    Concept,
    Synonyms,
    analyse,
    meaningful_terms,
    stem,
)

if TYPE_CHECKING:
    from storage.semantic import SemanticIndex

__all__ = [
    "MAX_TERMS",
    "MAX_TERM_LENGTH",
    "STOP_WORDS",
    "Hit",
    "SearchSettings",
    "meaningful_terms",
    "search_articles",
    "search_eng_issues",
]

# Multiplies the confidence of an article in the case's product area: a boost, not a
# filter, because customers often pick the wrong area.
AREA_BOOST = 1.1
SNIPPET_LENGTH = 200
# How many candidates the database hands to the scorer.
CANDIDATES = 30
# Words in more than this share of the documents find no candidates (they still count
# in the coverage): they would make the database rank half the table.
COMMON_SHARE = 0.05
MAX_LOOKUP = 8
# A query word the index has never seen weighs this much of a word written once:
# customers add names, dates and feelings that no article holds.
UNKNOWN_WEIGHT = 0.5
# Reciprocal-rank fusion constant (Cormack et al. use 60; short lists favour smaller).
RRF_K = 20
# The lexical confidence: this share from how much of the query the document covers, the
# rest from how much of the document's title the query speaks of.
QUERY_SHARE = 0.5

# FTS5 column weights, in the column order of kb_articles_fts (migration 0002):
# title, symptoms, cause, resolution, tags. Title and symptoms are what customers type.
_BM25_KB = "bm25(kb_articles_fts, 10.0, 5.0, 1.0, 2.0, 3.0)"

# PostgreSQL ranks the stored, GIN-indexed column ``search_fts`` (migration 0007): the
# english configuration, weighted A title, B symptoms and tags, C resolution, D cause.

OPEN_ENG_STATUSES = ("open", "in_progress")


@dataclass
class SearchSettings:
    """How a search ranks and when it stays silent (configuration ``search``)."""

    synonyms: Synonyms = field(default_factory=Synonyms)
    # A hit below this confidence is never shown (calibrated on bench/kb, see
    # docs/knowledge-search.md); 0 shows everything that shares a word.
    min_confidence: float = 0.35
    semantic: SemanticIndex | None = None
    # The semantic ranking's own threshold, on the blended confidence.
    semantic_min_confidence: float = 0.5


DEFAULT_SETTINGS = SearchSettings()


@dataclass
class Hit:
    """One search result; ``score`` is the confidence, 0..1, comparable across queries."""

    key: str
    title: str
    score: float
    snippet: str


@dataclass
class Scored:
    row: Any
    lexical: float
    semantic: float = 0.0
    fused: float = 0.0
    confidence: float = 0.0


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def fts5_query(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: every term a quoted string, OR-ed."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def pg_tsquery(terms: Sequence[str]) -> str:
    """A ``to_tsquery`` expression: every term a quoted lexeme, OR-ed."""
    return " | ".join("'" + t.replace("'", "''").replace("\\", "") + "'" for t in terms)


def lookup_words(concepts: Sequence[Concept], index: IndexStats) -> list[str]:
    """The words that find candidates: the rarest spellings the index holds, at most
    :data:`MAX_LOOKUP`, less the very common. Rare words are what tell articles apart,
    and every row a word matches is a row the database must rank."""
    every = list(dict.fromkeys(w for c in concepts for w in c.lookup))
    if index.documents < 50:
        return every
    held = sorted((w for w in every if index.df.get(stem(w), 0)), key=lambda w: index.df[stem(w)])
    rare = [w for w in held if not index.common(w, COMMON_SHARE)]
    return (rare or held[:3])[:MAX_LOOKUP] or every


def concept_weights(concepts: Sequence[Concept], index: IndexStats) -> list[float]:
    return [
        index.idf(c.stems) * (1.0 if any(s in index.df for s in c.stems) else UNKNOWN_WEIGHT)
        for c in concepts
    ]


def lexical_score(
    concepts: Sequence[Concept],
    weights: Sequence[float],
    corpus: Corpus,
    row: Any,
    index: IndexStats,
) -> float:
    doc = document_stems(corpus, row)
    query = coverage(concepts, weights, corpus, doc)
    return QUERY_SHARE * query + (1 - QUERY_SHARE) * title_coverage(concepts, doc["title"], index)


async def _candidates(
    session: AsyncSession, corpus: Corpus, words_: list[str], limit: int
) -> list[Any]:
    sqlite = _dialect(session) == "sqlite"
    params: dict[str, Any] = {"limit": limit}
    params["q"] = fts5_query(words_) if sqlite else pg_tsquery(words_)
    cols = ", ".join(f"d.{c}" for c in corpus.fields)
    if corpus is KB:
        extra = "d.area"
        rank = f"-{_BM25_KB}" if sqlite else "ts_rank_cd(d.search_fts, q.query)"
    else:
        extra = "d.kind, d.status"
        rank = "-bm25(eng_issues_fts)" if sqlite else "ts_rank_cd(d.search_fts, q.query)"
    where = corpus.where.replace("status", "d.status")
    if sqlite:
        sql = f"""
            SELECT d.id, d.key, d.updated_at, {cols}, {extra}, {rank} AS rank
            FROM {corpus.table}_fts JOIN {corpus.table} d ON d.id = {corpus.table}_fts.rowid
            WHERE {corpus.table}_fts MATCH :q AND {where}
            ORDER BY rank DESC, d.id LIMIT :limit
        """
    else:
        sql = f"""
            SELECT d.id, d.key, d.updated_at, {cols}, {extra}, {rank} AS rank
            FROM {corpus.table} d, to_tsquery('english'::regconfig, :q) AS q(query)
            WHERE d.search_fts @@ q.query AND {where}
            ORDER BY rank DESC, d.id LIMIT :limit
        """
    columns = ["id", "key", "updated_at", *corpus.fields, *extra.replace("d.", "").split(", ")]
    return await fetch(session, sql, params, [*columns, "rank"])


async def rank(
    session: AsyncSession,
    corpus: Corpus,
    query: str,
    settings: SearchSettings,
    *,
    area: str | None = None,
    semantic: SemanticIndex | None = None,
) -> tuple[list[Concept], list[Scored]]:
    """Every candidate for ``query`` with its scores, best first (no threshold)."""
    index = await stats(session, corpus)
    concepts = analyse(query, settings.synonyms, index.vocabulary)
    if not concepts:
        return concepts, []
    weights = concept_weights(concepts, index)
    rows = await _candidates(session, corpus, lookup_words(concepts, index), CANDIDATES)
    scored: dict[int, Scored] = {}
    for row in rows:
        score = lexical_score(concepts, weights, corpus, row, index)
        if area and getattr(row, "area", None) == area:
            score *= AREA_BOOST  # ranks above its twin; the confidence is capped at 1
        scored[row.id] = Scored(row, score)
    lexical = sorted(scored.values(), key=lambda s: -s.lexical)
    if semantic is None:
        for s in lexical:
            s.confidence = min(1.0, s.lexical)
        return concepts, lexical
    near = await semantic.nearest(session, query, CANDIDATES)
    missing = [doc_id for doc_id, _ in near if doc_id not in scored]
    for row in await _rows(session, corpus, missing):
        scored[row.id] = Scored(row, lexical_score(concepts, weights, corpus, row, index))
    for position, s in enumerate(lexical):
        s.fused += 1 / (RRF_K + position + 1)
    for position, (doc_id, cosine) in enumerate(near):
        if doc_id in scored:
            scored[doc_id].semantic = cosine
            scored[doc_id].fused += 1 / (RRF_K + position + 1)
    for s in scored.values():
        s.confidence = semantic.blend(min(1.0, s.lexical), s.semantic)
    return concepts, sorted(scored.values(), key=lambda s: (-s.fused, -s.confidence))


async def _rows(session: AsyncSession, corpus: Corpus, ids: list[int]) -> list[Any]:
    if not ids:
        return []
    cols = ", ".join(f"d.{c}" for c in corpus.fields)
    where = corpus.where.replace("status", "d.status")
    marks = ", ".join(str(int(i)) for i in ids)
    sql = f"SELECT d.id, d.key, d.updated_at, {cols}, d.area FROM {corpus.table} d WHERE d.id IN ({marks}) AND {where}"
    columns = ["id", "key", "updated_at", *corpus.fields, "area"]
    return await fetch(session, sql, {}, columns, prepare=False)


async def search_articles(
    session: AsyncSession,
    query: str,
    *,
    limit: int = 3,
    area: str | None = None,
    settings: SearchSettings = DEFAULT_SETTINGS,
) -> list[Hit]:
    """Published articles that answer ``query`` with enough confidence, best first;
    articles of ``area`` are boosted by :data:`AREA_BOOST`. What a customer is shown."""
    if limit <= 0:
        return []
    concepts, scored = await rank(
        session, KB, query, settings, area=area, semantic=settings.semantic
    )
    floor = settings.semantic_min_confidence if settings.semantic else settings.min_confidence
    terms = [c.word for c in concepts]
    return [
        Hit(
            key=s.row.key,
            title=s.row.title,
            score=round(s.confidence, 4),
            snippet=snippet(s.row.symptoms or s.row.resolution or "", terms),
        )
        for s in scored
        if s.confidence >= floor and s.confidence > 0
    ][:limit]


async def search_eng_issues(
    session: AsyncSession,
    query: str,
    *,
    limit: int = 3,
    settings: SearchSettings = DEFAULT_SETTINGS,
) -> list[Hit]:
    """Open or in-progress engineering issues whose title is relevant to ``query``: the
    triage alert's look-alikes, ranked the same way as articles.

    The snippet says what the issue is and where it stands ("Defect, in progress"), as an
    issue has no body to excerpt.
    """
    if limit <= 0:
        return []
    _, scored = await rank(session, ENG, query, settings)
    return [
        Hit(
            key=s.row.key,
            title=s.row.title,
            score=round(s.confidence, 4),
            snippet=f"{s.row.kind.capitalize()}, {s.row.status.replace('_', ' ')}",
        )
        for s in scored
        if s.confidence >= settings.min_confidence and s.confidence > 0
    ][:limit]


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_LINE_MARKS = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s?)", re.MULTILINE)
_MD_INLINE = re.compile(r"`{1,3}|\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")


def plain_text(markdown: str) -> str:
    """Markdown reduced to one line of readable text, for chat previews."""
    text_ = _MD_LINK.sub(r"\1", markdown)
    text_ = _MD_LINE_MARKS.sub("", text_)
    text_ = _MD_INLINE.sub("", text_)
    return " ".join(text_.split())


def snippet(markdown: str, terms: list[str], length: int = SNIPPET_LENGTH) -> str:
    """At most ``length`` characters of plain text, starting at the sentence that holds the
    first query word when the beginning would not show it."""
    plain = plain_text(markdown)
    if len(plain) <= length:
        return plain
    start = 0
    lowered = plain.lower()
    # Prefix match stands in for stemming: "deliveries" finds "delivery".
    positions = [
        m.start()
        for t in terms
        if (m := re.search(r"\b" + re.escape(t[: max(4, len(t) - 2)]), lowered))
    ]
    if positions and min(positions) > length - 40:
        first = min(positions)
        sentence = max(plain.rfind(". ", 0, first), plain.rfind("; ", 0, first))
        start = sentence + 2 if sentence >= 0 and first - sentence < length - 40 else first
    prefix = "…" if start else ""
    body = plain[start:]
    budget = length - len(prefix)
    if len(body) <= budget:
        return prefix + body
    cut = body.rfind(" ", 0, budget - 1)
    return prefix + body[: cut if cut > budget // 2 else budget - 1].rstrip(" ,;:") + "…"
