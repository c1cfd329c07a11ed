"""What lexical scoring knows about a whole index: how many documents hold each stem (for
inverse document frequency) and which words exist (for typo correction).

The figures are read from the database once per process and kept while the table's
fingerprint (highest id, latest ``updated_at``, both one index probe) stays the same,
so adding, publishing or editing an article refreshes them within a second
(:data:`FRESH_FOR`).
"""

from __future__ import annotations

import math
import time
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.search_text import STOP_WORDS, Concept, Vocabulary, stem, words

# The figures are re-checked against the table at most this often (seconds): a database
# round trip saved on most queries. Candidates always come from the live table; only
# the rarity weights and the typo vocabulary can lag a just-published article this long.
FRESH_FOR = 1.0
# A concept matched only through a typo correction counts this much of a sure match.
TYPO_CREDIT = 0.75


@dataclass(frozen=True)
class Corpus:
    """A searchable table: its text fields with the weight a match in each carries
    (title and symptoms are what customers describe) and which rows are searchable."""

    table: str
    fields: dict[str, float]
    where: str


KB = Corpus(
    "kb_articles",
    {"title": 1.0, "symptoms": 0.9, "tags": 0.9, "cause": 0.5, "resolution": 0.5},
    "status = 'published'",
)
ENG = Corpus("eng_issues", {"title": 1.0}, "status IN ('open', 'in_progress')")


@dataclass
class IndexStats:
    documents: int = 0
    df: dict[str, int] = field(default_factory=dict)
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    fingerprint: tuple[Any, ...] = ()
    checked: float = 0.0
    # stem -> its idf, filled as titles are scored (the figures are fixed per index).
    _stem_idf: dict[str, float] = field(default_factory=dict, repr=False)

    def idf(self, stems: frozenset[str]) -> float:
        """The rarest stem of a concept decides its weight (a synonym or correction the
        index holds counts; a word nobody wrote gets the weight of a word written once)."""
        n = self.documents
        best = max((self.df.get(s, 0) for s in stems), default=0)
        return math.log(1 + (n + 1) / (max(best, 1) + 0.5))

    def stem_idf(self, stem_: str) -> float:
        """:meth:`idf` of one stem, remembered: every candidate's title asks again."""
        found = self._stem_idf.get(stem_)
        if found is None:
            found = self._stem_idf[stem_] = self.idf(frozenset((stem_,)))
        return found

    def common(self, word: str, share: float) -> bool:
        """A word in more than ``share`` of the documents: no use for finding candidates."""
        return self.documents >= 50 and self.df.get(stem(word), 0) > share * self.documents


_CACHE: weakref.WeakKeyDictionary[Any, dict[str, IndexStats]] = weakref.WeakKeyDictionary()


def field_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value or "")


async def fingerprint(session: AsyncSession, corpus: Corpus) -> tuple[Any, ...]:
    # Two single-aggregate subqueries, so each is one index probe (a count would scan).
    t = corpus.table
    row = (
        await session.execute(
            text(f"SELECT (SELECT max(id) FROM {t}), (SELECT max(updated_at) FROM {t})")
        )
    ).one()
    return tuple(row)


async def stats(session: AsyncSession, corpus: Corpus) -> IndexStats:
    """The current figures for ``corpus``, rebuilt when the table has changed."""
    engine = session.get_bind()
    per_engine = _CACHE.setdefault(engine, {})
    cached = per_engine.get(corpus.table)
    now = time.monotonic()
    if cached is not None and now - cached.checked < FRESH_FOR:
        return cached
    fp = await fingerprint(session, corpus)
    if cached is not None and cached.fingerprint == fp:
        cached.checked = now
        return cached
    cols = ", ".join(corpus.fields)
    rows = await session.execute(
        text(f"SELECT {cols} FROM {corpus.table} WHERE {corpus.where}")  # noqa: S608
    )
    df: Counter[str] = Counter()
    vocabulary: set[str] = set()
    documents = 0
    for row in rows:
        documents += 1
        doc_words = {w for value in row for w in words(field_text(value)) if w not in STOP_WORDS}
        vocabulary |= doc_words
        df.update({stem(w) for w in doc_words})
    built = IndexStats(documents, dict(df), Vocabulary(vocabulary), fp, now)
    per_engine[corpus.table] = built
    return built


_DOCS: dict[tuple[str, ...], dict[str, set[str]]] = {}
DOC_CACHE = 50_000


def document_stems(corpus: Corpus, row: Any) -> dict[str, set[str]]:
    """Each field's stems, remembered by the fields' text: candidates repeat, and hashing
    text is far cheaper than stemming it."""
    key = tuple(field_text(getattr(row, name)) for name in corpus.fields)
    found = _DOCS.get(key)
    if found is None:
        if len(_DOCS) >= DOC_CACHE:
            _DOCS.clear()
        found = _DOCS[key] = {
            name: {stem(w) for w in words(field_text(getattr(row, name)))} for name in corpus.fields
        }
    return found


def coverage(
    concepts: Sequence[Concept],
    weights: Sequence[float],
    corpus: Corpus,
    doc: dict[str, set[str]],
) -> float:
    """How much of the query the document answers, 0..1: each concept's weight times the
    weight of the best field that holds one of its stems, over all concepts' weights."""
    total = sum(weights)
    if total <= 0:
        return 0.0
    got = 0.0
    for concept, weight in zip(concepts, weights, strict=True):
        best = 0.0
        for name, w in corpus.fields.items():
            found = concept.stems & doc[name]
            if found:
                best = max(best, w if found - concept.guessed else w * TYPO_CREDIT)
        got += weight * best
    return got / total


def title_coverage(concepts: Sequence[Concept], title: set[str], index: IndexStats) -> float:
    """How much of the document's title the query speaks of, 0..1 (each title stem by
    its rarity): a long case description covers a right article's title even when the
    article covers little of the description."""
    sure = {s for c in concepts for s in c.stems - c.guessed}
    guessed = {s for c in concepts for s in c.guessed}
    weights = {s: index.stem_idf(s) for s in title if s not in STOP_STEMS}
    total = sum(weights.values())
    got = sum(
        w if s in sure else w * TYPO_CREDIT for s, w in weights.items() if s in sure | guessed
    )
    return got / total if total else 0.0


STOP_STEMS = frozenset(stem(w) for w in STOP_WORDS)
