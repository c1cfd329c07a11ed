"""What a report is asked for: a period and filters, and the one grammar that reads them.

``/case stats [period]``, the dashboard's filter form and its CSV links all read a
period with :func:`parse_period` and filters with :func:`parse_filters`, so a period is
written the same way everywhere: ``7d``, ``30d``, ``90d`` (the last so many days up to
now) or ``2026-11-01..2026-11-30`` (whole days, both included, in UTC).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta

from bot.errors import Refusal

DEFAULT_DAYS = 30
PRESETS = (7, 30, 90)
MAX_DAYS = 366
PERIOD_HELP = "7d, 30d, 90d, or from..to as 2026-11-01..2026-11-30"

_DAYS = re.compile(r"^(\d{1,3})\s*d?(ays?)?$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/|to)\s*(\d{4}-\d{2}-\d{2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, and how people write it."""

    start: datetime
    end: datetime
    label: str

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start).total_seconds() / 86400))

    def day_list(self) -> list[date]:
        first = self.start.date()
        last = (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    @property
    def query(self) -> str:
        """The period as a filter value (for links)."""
        return self.label if not self.label.startswith("last ") else f"{self.days}d"


def last_days(days: int, now: datetime) -> Period:
    # The end is exclusive; what happened at ``now`` itself belongs in "the last days".
    end = now + timedelta(microseconds=1)
    return Period(end - timedelta(days=days), end, f"last {days} days")


def parse_period(text: str | None, now: datetime) -> Period:
    """A period as people write it; a :class:`Refusal` that says how otherwise."""
    raw = (text or "").strip()
    if not raw:
        return last_days(DEFAULT_DAYS, now)
    if m := _DAYS.match(raw):
        days = int(m.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise Refusal(f"A period is 1 to {MAX_DAYS} days, not {days}.")
        return last_days(days, now)
    if m := _RANGE.match(raw):
        try:
            first, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError:
            raise Refusal(f"'{raw}' has a date that does not exist.") from None
        if last < first:
            raise Refusal(f"'{raw}' ends before it starts.")
        if (last - first).days + 1 > MAX_DAYS:
            raise Refusal(f"A period is at most {MAX_DAYS} days.")
        start = datetime.combine(first, time(), UTC)
        end = datetime.combine(last + timedelta(days=1), time(), UTC)
        return Period(start, end, f"{first.isoformat()}..{last.isoformat()}")
    raise Refusal(f"I can't read the period '{raw[:40]}'. Write {PERIOD_HELP}.")


@dataclass(frozen=True)
class Filters:
    """Which cases a report counts (empty: all). Values are configuration keys."""

    team: str = ""
    area: str = ""
    severity: str = ""
    account: str = ""
    tier: str = ""
    engineer: str = ""

    @property
    def active(self) -> dict[str, str]:
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name))}


FILTER_NAMES = tuple(f.name for f in fields(Filters))


def parse_filters(values: Mapping[str, str], known: Mapping[str, set[str]]) -> Filters:
    """Filters from a form; each value must be one of ``known[name]`` (the
    configuration's teams, areas, severities, accounts, tiers, engineers)."""
    out: dict[str, str] = {}
    for name in FILTER_NAMES:
        value = str(values.get(name) or "").strip()
        if not value:
            continue
        if value not in known.get(name, set()):
            raise Refusal(f"There is no {name} '{value[:40]}'.")
        out[name] = value
    return Filters(**out)
