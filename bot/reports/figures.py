"""The figures a report holds: plain values, so every surface (the ``/case stats``
text, the dashboard's pages and charts, CSV) renders the same numbers its own way.

Durations are seconds (floats); a figure with nothing to measure is None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.reports.period import Filters, Period


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of a duration over ``count`` cases; ``business``: the
    severities whose durations count business time (their target is in business days)."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    business: tuple[str, ...] = ()


@dataclass(frozen=True)
class Day:
    day: date
    opened: int = 0
    resolved: int = 0
    closed: int = 0


@dataclass(frozen=True)
class Target:
    """One service-level target: settled within it (``met``) or ``breached``."""

    name: str  # "first_response" | "resolution"
    met: int = 0
    breached: int = 0

    @property
    def attainment(self) -> float | None:
        total = self.met + self.breached
        return self.met / total if total else None


@dataclass(frozen=True)
class Backlog:
    by_state: dict[str, int] = field(default_factory=dict)
    on_customer: int = 0  # the customer owes us an answer
    on_us: int = 0
    by_age: dict[str, int] = field(default_factory=dict)  # AGE_BUCKETS label -> count

    @property
    def total(self) -> int:
        return self.on_customer + self.on_us


@dataclass(frozen=True)
class LowScore:
    case_key: str
    rating: int
    comment: str


@dataclass(frozen=True)
class Satisfaction:
    answers: int = 0
    average: float | None = None
    distribution: dict[int, int] = field(default_factory=dict)  # 1..5 -> count
    asked: int = 0  # cases resolved in the period
    answered: int = 0  # of those, with an answer
    low: tuple[LowScore, ...] = ()

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.asked if self.asked else None


@dataclass(frozen=True)
class Deflection:
    opened: int = 0
    deflected: int = 0
    articles: tuple[tuple[str, int], ...] = ()  # (KB-n, cases) most first

    @property
    def rate(self) -> float | None:
        return self.deflected / self.opened if self.opened else None


@dataclass(frozen=True)
class EngImpact:
    key: str
    title: str
    status: str
    score: int
    cases: tuple[str, ...]


@dataclass(frozen=True)
class EngineerLoad:
    person_id: str
    active: int
    resolved: int


@dataclass(frozen=True)
class Report:
    period: Period
    filters: Filters
    days: tuple[Day, ...]
    first_response: Spread
    resolution: Spread
    targets: tuple[Target, ...]
    backlog: Backlog
    satisfaction: Satisfaction
    deflection: Deflection
    eng: tuple[EngImpact, ...]
    engineers: tuple[EngineerLoad, ...]

    @property
    def opened(self) -> int:
        return sum(d.opened for d in self.days)

    @property
    def resolved(self) -> int:
        return sum(d.resolved for d in self.days)

    @property
    def closed(self) -> int:
        return sum(d.closed for d in self.days)


# Backlog ages: (label, up to so many days old); the last has no upper bound.
AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("under 1 day", 1),
    ("1-3 days", 3),
    ("3-7 days", 7),
    ("7-30 days", 30),
    ("over 30 days", float("inf")),
)
