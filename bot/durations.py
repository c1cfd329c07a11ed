"""Durations as support teams write them in the configuration: ``30m``, ``2h``, ``1bd``.

A plain ``timedelta`` cannot express business days, whose length depends on the day of
the week and the support team's time zone, so a :class:`Duration` keeps its unit and is
turned into a point in time only with :meth:`Duration.after`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

Unit = Literal["s", "m", "h", "d", "bd"]

UNITS: tuple[Unit, ...] = get_args(Unit)

# "bd" is listed first so that "1bd" is not read as "1b" + "d".
_DURATION_RE = re.compile(r"(\d+)(bd|s|m|h|d)")
_PATTERN = r"^\s*\d+(bd|s|m|h|d)\s*$"
_HINT = "use a whole number followed by s, m, h, d or bd (e.g. 30m, 2h, 1bd)"
_SECONDS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "bd": 86400}


def _refusal(value: object) -> str:
    """The one wording for every bad duration, so errors read the same wherever they arise."""
    return f"{value!r} does not parse as a duration: {_HINT}"


@dataclass(frozen=True)
class Duration:
    """A whole number of seconds, minutes, hours, days or business days.

    ``text`` is what the user wrote, kept so messages and ``str()`` echo it back verbatim;
    it does not take part in equality.
    """

    amount: int
    unit: Unit
    text: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Built in code as well as parsed, so guard the invariants here, once.
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValueError(f"duration amount must be a whole number >= 0, got {self.amount!r}")
        if self.unit not in UNITS:
            raise ValueError(f"duration unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if not self.text:
            object.__setattr__(self, "text", f"{self.amount}{self.unit}")

    def __str__(self) -> str:
        return self.text

    def approx(self) -> timedelta:
        """A rough length for display and sorting; a business day counts as one day."""
        return timedelta(seconds=self.amount * _SECONDS[self.unit])

    def after(self, start: datetime, tz: ZoneInfo) -> datetime:
        """The moment this long after ``start``, as an aware UTC datetime.

        ``s``/``m``/``h``/``d`` add exact elapsed time. ``bd`` counts Monday–Friday in
        ``tz`` and keeps the local time of day, so a reminder due "1 business day" after
        Friday 10:00 fires Monday 10:00 even across a daylight-saving change; a start on a
        weekend counts from the following Monday 00:00.
        """
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("Duration.after needs a timezone-aware start")
        if self.unit != "bd":
            # In UTC: adding to a zone-aware datetime would add wall-clock time, not elapsed.
            return start.astimezone(UTC) + self.approx()
        local = start.astimezone(tz)
        day: date = local.date()
        wall: time = local.time()  # naive time of day, re-attached to the zone below
        if day.weekday() >= 5:
            day += timedelta(days=7 - day.weekday())
            wall = time(0, 0)
        for _ in range(self.amount):
            day += timedelta(days=1)
            while day.weekday() >= 5:
                day += timedelta(days=1)
        return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)

    @classmethod
    def _validate(cls, value: Any) -> Duration:
        if isinstance(value, Duration):
            return value
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as exc:
                # A custom error keeps pydantic from prefixing "Value error, ".
                raise PydanticCustomError("duration_parsing", str(exc)) from None
        raise PydanticCustomError("duration_parsing", _refusal(value))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Lets models declare ``x: Duration`` and accept the YAML string form."""
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            # Dumps give back the text, so a dumped config validates again.
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Describes the string form, for editors that validate the YAML."""
        return {"type": "string", "pattern": _PATTERN, "examples": ["30m", "2h", "1bd"]}


def parse_duration(text: str) -> Duration:
    """Parse ``"30m"``-style text; anything else raises ValueError with a usable hint."""
    if not isinstance(text, str):
        raise ValueError(_refusal(text))
    stripped = text.strip()
    match = _DURATION_RE.fullmatch(stripped)
    if match is None:
        raise ValueError(_refusal(text))
    unit: Unit = match.group(2)  # type: ignore[assignment]
    return Duration(int(match.group(1)), unit, stripped)


def business_seconds(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Whole seconds (floored) from ``start`` to ``end`` that fall on Monday–Friday in
    ``tz``: the time ``bd`` durations count (:meth:`Duration.after`), so a reply sent on
    Monday 09:00 to a case opened on Friday 17:00 took 16 business hours. A naive time
    is taken as UTC; ``end`` before ``start`` counts as 0."""
    a, b = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end))
    if b <= a:
        return 0
    total = b - a
    local = a.astimezone(tz)
    # The Saturday starting the weekend that holds `a`, or the last one before it.
    saturday = local.date() - timedelta(days=(local.weekday() - 5) % 7)
    while True:
        weekend_from = datetime.combine(saturday, time(0, 0), tzinfo=tz)
        if weekend_from >= b:
            break
        weekend_to = datetime.combine(saturday + timedelta(days=2), time(0, 0), tzinfo=tz)
        overlap = min(b, weekend_to) - max(a, weekend_from)
        if overlap > timedelta(0):
            total -= overlap
        saturday += timedelta(days=7)
    return int(total.total_seconds() // 1)
