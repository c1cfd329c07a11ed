"""How search reads text: words, stems, synonyms and typos.

One tokenizer and one stemmer serve both the query and the documents, so a query word and
an article word match exactly when their Snowball (English) stems are equal, whichever
database ranked the candidates. A query becomes a list of :class:`Concept`: one per
meaningful word the customer typed, holding every stem that counts as that word — its
own, its configured synonyms', and, for a word the index has never seen, the stems of the
nearest indexed words (rapidfuzz edit distance). An article is then scored by how much
of the query's concepts it covers (see :mod:`storage.search_score`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

MAX_TERMS = 40
MAX_TERM_LENGTH = 40
# Words shorter than this are never typo-corrected: "api" → "app" would be a guess.
MIN_TYPO_LENGTH = 4

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
    ll ve re im ive dont cant doesnt isnt wont didnt arent anyway pls plz ok okay
    """.split()
)

_WORD = re.compile(r"[^\W_]+")
_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball English stem of a lower-case word (memoized: vocabularies repeat)."""
    return str(_STEMMER.stemWord(word))


def words(text: str) -> list[str]:
    """Every lower-case word of ``text``, in order (letters and digits only)."""
    return _WORD.findall(text.lower())


def meaningful_terms(query: str) -> list[str]:
    """The distinct lower-case words of ``query`` worth searching for, in order.

    Only letters and digits survive, so quotes, ``*``, ``:``, ``-``, parentheses never
    reach the database; operator words (AND, OR, NOT, NEAR) are stop words.
    """
    terms: list[str] = []
    seen: set[str] = set()
    for word in words(query):
        if len(word) < 2 or len(word) > MAX_TERM_LENGTH or word in STOP_WORDS or word in seen:
            continue
        seen.add(word)
        terms.append(word)
        if len(terms) == MAX_TERMS:
            break
    return terms


def stems_of(text: str) -> set[str]:
    """The stems of the meaningful words of a document field."""
    return {stem(w) for w in words(text) if w not in STOP_WORDS and len(w) <= MAX_TERM_LENGTH}


class Synonyms:
    """Groups of words or phrases that mean the same to customers (configuration
    ``search.synonyms``): any member in a query brings in the stems of every other.

    A phrase ("sign in") matches when its words follow each other in the query; its
    stems join the concept of its first word, so a phrase counts once.
    """

    def __init__(self, groups: Iterable[Sequence[str]] = ()) -> None:
        # first stem of a member -> [(member's stems, the whole group's words)]
        self._by_first: dict[str, list[tuple[tuple[str, ...], frozenset[str]]]] = {}
        self.groups = 0
        for group in groups:
            members = [tuple(stem(w) for w in meaningful_terms(m)) for m in group]
            # A phrase is recognised in the query, but only one-word members stand for
            # the group in a document: "missing data" must not make every "data" a gap.
            every = frozenset(w for m in group if len(t := meaningful_terms(m)) == 1 for w in t)
            self.groups += 1
            for m in members:
                if m:
                    self._by_first.setdefault(m[0], []).append((m, every))

    def expand(self, query_stems: Sequence[str], at: int) -> frozenset[str]:
        """The words of every group whose member starts at ``query_stems[at]``."""
        found: set[str] = set()
        for member, every in self._by_first.get(query_stems[at], ()):
            if tuple(query_stems[at : at + len(member)]) == member:
                found |= every
        return frozenset(found)


@dataclass(frozen=True)
class Concept:
    """One meaningful query word and the stems that count as it."""

    word: str
    stems: frozenset[str]
    # The words sent to the database to find candidates (the typed word, corrections).
    lookup: tuple[str, ...] = field(default=())
    # The stems that come only from a typo correction: a guess, so worth less.
    guessed: frozenset[str] = field(default=frozenset())


class Vocabulary:
    """The index's words, for typo correction: for each query-word length, the indexed
    words that could be within its edit limit, built once per index so a lookup hands
    rapidfuzz a ready list instead of gathering one per word."""

    def __init__(self, vocabulary: Iterable[str] = ()) -> None:
        self.words: frozenset[str] = frozenset(vocabulary)
        self._by_length: dict[int, list[str]] = {}
        for w in self.words:
            self._by_length.setdefault(len(w), []).append(w)
        # (length, has a digit) -> candidates. A word of letters only is more than
        # ``limit`` edits from any word holding more than ``limit`` digits (each must be
        # replaced or dropped), so the numbers an index is full of (ids, ports, years)
        # are only compared with query words that hold digits themselves.
        self._windows: dict[tuple[int, bool], list[str]] = {}

    def _window(self, length: int, limit: int, digits: bool) -> list[str]:
        key = (length, digits)
        found = self._windows.get(key)
        if found is None:
            found = self._windows[key] = [
                w
                for n in range(length - limit, length + limit + 1)
                for w in self._by_length.get(n, ())
                if digits or sum(c.isdigit() for c in w) <= limit
            ]
        return found

    def corrections(self, word: str) -> list[str]:
        """Indexed words nearest to an unknown ``word``: one edit for words up to 7
        letters, two beyond (Damerau would be kinder to swaps; Levenshtein counts a swap
        as two, which is why two edits are allowed only for longer words)."""
        if word in self.words or len(word) < MIN_TYPO_LENGTH or word.isdigit():
            return []
        limit = 1 if len(word) <= 7 else 2
        candidates = self._window(len(word), limit, any(c.isdigit() for c in word))
        found = process.extract(
            word, candidates, scorer=Levenshtein.distance, score_cutoff=limit, limit=5
        )
        if not found:
            return []
        best = min(score for _, score, _ in found)
        return sorted(w for w, score, _ in found if score == best)[:3]


def analyse(query: str, synonyms: Synonyms, vocabulary: Vocabulary) -> list[Concept]:
    """The concepts of ``query``: its meaningful words with their synonyms and, for words
    the index does not hold, their likely intended spellings."""
    terms = meaningful_terms(query)
    query_stems = [stem(t) for t in terms]
    concepts: list[Concept] = []
    for i, term in enumerate(terms):
        fixes = vocabulary.corrections(term) if vocabulary.words else []
        meant = {term, *synonyms.expand(query_stems, i)}
        guesses = set(fixes)
        for fix in fixes:
            guesses |= synonyms.expand([stem(fix)], 0)
        ordered = (term, *sorted((meant | guesses) - {term}))
        sure = {stem(w) for w in meant}
        every = frozenset(stem(w) for w in ordered)
        concepts.append(Concept(term, every, ordered, every - sure))
    return concepts


def plain_words(text: str) -> list[str]:
    """The words of Markdown text with its marks dropped, case kept (for embedding)."""
    return re.findall(r"[^\s`*#>|\[\]()]+", text)
