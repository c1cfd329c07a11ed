"""Relevance search over knowledge-base articles and open engineering issues.

Cases are described in natural language, so a query is never passed to the database as
typed: it is reduced to its meaningful words (stop words and punctuation dropped), each
word quoted, and the words OR-ed together. User text therefore can never inject FTS
syntax, and a hit always shares at least one meaningful word with the query, which is
the minimum relevance that keeps unrelated articles out of the suggestions.

SQLite ranks with FTS5 ``bm25()`` (see migration 0002 for the tables and triggers);
PostgreSQL with ``ts_rank_cd`` over GIN-indexed ``to_tsvector`` expressions. Scores are
only comparable within one result list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Multiplies the score of an article in the case's product area: a boost, not a filter,
# because customers often pick the wrong area.
AREA_BOOST = 1.5
# Bounds the query a whole case description produces; the first words (the title) win.
MAX_TERMS = 40
MAX_TERM_LENGTH = 40
SNIPPET_LENGTH = 200

# FTS5 column weights, in the column order of kb_articles_fts (migration 0002):
# title, symptoms, cause, resolution, tags. Title and symptoms are what customers type.
_BM25_KB = "bm25(kb_articles_fts, 10.0, 5.0, 1.0, 2.0, 3.0)"

# Byte-identical to the GIN index expressions of migration 0002, or PostgreSQL will not
# use the indexes. Weights: A title, B symptoms and tags, C resolution, D cause.
PG_KB_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(symptoms, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(tags::text, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(resolution, '')), 'C') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(cause, '')), 'D')"
)
PG_ENG_VECTOR = "to_tsvector('english'::regconfig, coalesce(title, ''))"

OPEN_ENG_STATUSES = ("open", "in_progress")

STOP_WORDS = frozenset(
    """
    a about above after again against all almost also am an and any anyone anything are
    aren as at be because been before being below between both but by can cannot could
    couldn did didn do does doesn doing don down during each either else even ever every
    few for from further get gets getting got had hadn has hasn have haven having he her
    here hers herself him himself his how however i if in into is isn it its itself just
    let lets like may me might more most much must mustn my myself near neither no nor not
    now of off on once one only or other ought our ours ourselves out over own per please
    quite rather really same seem seems shall shan she should shouldn since so some
    someone something still such than that the their theirs them themselves then there
    these they this those though through thus to too under until up upon us very via was
    wasn we were weren what when where whether which while who whom whose why will with
    within without won would wouldn yet you your yours yourself yourselves
    hi hello hey thanks thank thx regards cheers dear team guys folks anybody somebody
    help question issue issues problem problems happen happens happened happening
    see seeing seen saw try tried trying need needs want wants know let today yesterday
    able unable currently suddenly anymore already show shows showing shown use uses using
    used work works working worked
    """.split()
)

_WORD = re.compile(r"[^\W_]+")


@dataclass
class Hit:
    """One search result; ``score`` is higher for more relevant hits."""

    key: str
    title: str
    score: float
    snippet: str


def meaningful_terms(query: str) -> list[str]:
    """The distinct lower-case words of ``query`` worth searching for, in order.

    Only letters and digits survive, so quotes, ``*``, ``:``, ``-``, parentheses never
    reach the database; operator words (AND, OR, NOT, NEAR) are stop words.
    """
    terms: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall(query.lower()):
        if len(word) < 2 or len(word) > MAX_TERM_LENGTH or word in STOP_WORDS or word in seen:
            continue
        seen.add(word)
        terms.append(word)
        if len(terms) == MAX_TERMS:
            break
    return terms


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: every term a quoted string, OR-ed."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def pg_tsquery(terms: list[str]) -> str:
    """A ``to_tsquery`` expression: every term a quoted lexeme, OR-ed."""
    return " | ".join("'" + t.replace("'", "''").replace("\\", "") + "'" for t in terms)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def search_articles(
    session: AsyncSession, query: str, *, limit: int = 3, area: str | None = None
) -> list[Hit]:
    """Published articles most relevant to ``query``, best first; articles of ``area``
    are boosted by :data:`AREA_BOOST`."""
    terms = meaningful_terms(query)
    if not terms or limit <= 0:
        return []
    params: dict[str, Any] = {"area": area, "boost": AREA_BOOST, "limit": limit}
    boost = "(CASE WHEN a.area = :area THEN :boost ELSE 1.0 END)"
    if _dialect(session) == "sqlite":
        params["q"] = fts5_query(terms)
        sql = f"""
            SELECT a.key, a.title, a.symptoms, a.resolution, -{_BM25_KB} * {boost} AS score
            FROM kb_articles_fts JOIN kb_articles a ON a.id = kb_articles_fts.rowid
            WHERE kb_articles_fts MATCH :q AND a.status = 'published'
            ORDER BY score DESC, a.id
            LIMIT :limit
        """
    else:
        params["q"] = pg_tsquery(terms)
        sql = f"""
            SELECT a.key, a.title, a.symptoms, a.resolution,
                   ts_rank_cd({PG_KB_VECTOR}, q.query) * {boost} AS score
            FROM kb_articles a, to_tsquery('english'::regconfig, :q) AS q(query)
            WHERE ({PG_KB_VECTOR}) @@ q.query AND a.status = 'published'
            ORDER BY score DESC, a.id
            LIMIT :limit
        """
    rows = (await session.execute(text(sql), params)).all()
    return [
        Hit(
            key=row.key,
            title=row.title,
            score=float(row.score),
            snippet=snippet(row.symptoms or row.resolution or "", terms),
        )
        for row in rows
    ]


async def search_eng_issues(session: AsyncSession, query: str, *, limit: int = 3) -> list[Hit]:
    """Open or in-progress engineering issues whose title is relevant to ``query``.

    The snippet says what the issue is and where it stands ("Defect, in progress"), as an
    issue has no body to excerpt.
    """
    terms = meaningful_terms(query)
    if not terms or limit <= 0:
        return []
    params: dict[str, Any] = {"limit": limit}
    statuses = "e.status IN (" + ", ".join(f"'{s}'" for s in OPEN_ENG_STATUSES) + ")"
    if _dialect(session) == "sqlite":
        params["q"] = fts5_query(terms)
        sql = f"""
            SELECT e.key, e.title, e.kind, e.status, -bm25(eng_issues_fts) AS score
            FROM eng_issues_fts JOIN eng_issues e ON e.id = eng_issues_fts.rowid
            WHERE eng_issues_fts MATCH :q AND {statuses}
            ORDER BY score DESC, e.id
            LIMIT :limit
        """
    else:
        params["q"] = pg_tsquery(terms)
        sql = f"""
            SELECT e.key, e.title, e.kind, e.status,
                   ts_rank_cd({PG_ENG_VECTOR}, q.query) AS score
            FROM eng_issues e, to_tsquery('english'::regconfig, :q) AS q(query)
            WHERE ({PG_ENG_VECTOR}) @@ q.query AND {statuses}
            ORDER BY score DESC, e.id
            LIMIT :limit
        """
    rows = (await session.execute(text(sql), params)).all()
    return [
        Hit(
            key=row.key,
            title=row.title,
            score=float(row.score),
            snippet=f"{row.kind.capitalize()}, {row.status.replace('_', ' ')}",
        )
        for row in rows
    ]


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
