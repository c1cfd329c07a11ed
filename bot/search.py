"""Knowledge search as the bot uses it: the settings the configuration asks for, and the
scoring of a knowledge base against questions whose answers are known (``kb eval``).

The ranking itself lives in :mod:`storage.search`; this module is the one place that
turns ``search:`` in the configuration into :class:`storage.search.SearchSettings`, so
case opening, ``/case kb search``, ``casebot kb search`` and ``casebot kb eval`` all see
what a customer would see.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.config import Config
from storage.db import Database
from storage.search import SearchSettings
from storage.search_text import Synonyms

_SETTINGS: dict[int, tuple[Config, SearchSettings]] = {}


class SearchSetupError(RuntimeError):
    """The configuration asks for semantic search that cannot run here."""


def look_alike_settings(config: Config) -> SearchSettings:
    """The ranking of :func:`settings_for`, with the threshold halved: the triage card's
    look-alike engineering issues are read by staff, who lose a glance on a weak match,
    while a customer shown a wrong article loses trust in the step."""
    base = settings_for(config)
    return replace(base, min_confidence=base.min_confidence / 2)


def settings_for(config: Config) -> SearchSettings:
    """The search settings of ``config`` (built once per configuration object; the
    embedding model, when semantic search is on, loads once per process)."""
    cached = _SETTINGS.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    s = config.search
    semantic = None
    if s.semantic.enabled != "off":
        from storage import semantic as sem

        if sem.available():
            semantic = sem.SemanticIndex.for_model(s.semantic.model)
        elif s.semantic.enabled == "on":
            raise SearchSetupError(
                "search.semantic.enabled is on, but the semantic extra is not installed: "
                "pip install 'casebot[semantic]' (or set it to auto or off)."
            )
    built = SearchSettings(
        synonyms=Synonyms(s.synonyms),
        min_confidence=s.min_confidence,
        semantic=semantic,
        semantic_min_confidence=s.semantic.min_confidence,
    )
    _SETTINGS[id(config)] = (config, built)
    return built


async def warm_up(db: Database, config: Config) -> None:
    """Before the first case opens: load the embedding model and embed what ``kb index``
    did not store, so no case waits for it inside its transaction."""
    semantic = settings_for(config).semantic
    if semantic is not None:
        async with db.read() as session:
            await semantic.nearest(session, "warm up", 1)


# ------------------------------------------------------------------- evaluation


@dataclass
class Question:
    query: str
    expected: list[str]


@dataclass
class Scores:
    """Retrieval figures over a set of questions; unanswerable questions (no expected
    key) count only in the false-suggestion rate."""

    answerable: int = 0
    unanswerable: int = 0
    r1: float = 0.0
    r3: float = 0.0
    mrr: float = 0.0
    # Unanswerable questions that still got a suggestion.
    false_suggestions: float = 0.0
    # Answerable questions whose first suggestion was a wrong article.
    wrong_first: float = 0.0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "R@1": round(self.r1, 3),
            "R@3": round(self.r3, 3),
            "MRR": round(self.mrr, 3),
            "false_suggestion_rate": round(self.false_suggestions, 3),
            "wrong_first_rate": round(self.wrong_first, 3),
        }


def read_questions(lines: Iterable[str], source: str = "<input>") -> list[Question]:
    """``{"query": ..., "expected": [keys]}`` per line; blank lines and ``#`` comments
    are skipped. A bad line raises ValueError naming its line number."""
    out: list[Question] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
            query, expected = row["query"], row.get("expected", [])
            if not isinstance(query, str) or not isinstance(expected, list):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError(
                f'{source}:{n}: expected {{"query": "...", "expected": ["KB-1"]}}'
            ) from None
        out.append(Question(query, [str(k).upper() for k in expected]))
    return out


def score(questions: Sequence[Question], answers: Sequence[Sequence[str]]) -> Scores:
    """Figures for ``answers`` (the keys shown for each question, best first)."""
    s = Scores()
    for q, shown in zip(questions, answers, strict=True):
        if not q.expected:
            s.unanswerable += 1
            s.false_suggestions += bool(shown)
            continue
        s.answerable += 1
        ranks = [i for i, key in enumerate(shown) if key in q.expected]
        first = ranks[0] if ranks else None
        s.r1 += first == 0
        s.r3 += first is not None and first < 3
        s.mrr += 1 / (first + 1) if first is not None else 0.0
        s.wrong_first += bool(shown) and first != 0
        if first != 0:
            s.misses.append({"query": q.query, "expected": q.expected, "shown": list(shown)})
    if s.answerable:
        s.r1, s.r3, s.mrr = s.r1 / s.answerable, s.r3 / s.answerable, s.mrr / s.answerable
        s.wrong_first /= s.answerable
    if s.unanswerable:
        s.false_suggestions /= s.unanswerable
    return s
