"""The sections of the casebot configuration: one pydantic model per YAML section, the
small parsers they need (days, hours, time zones) and the severity and role literals.

:mod:`bot.config.schema` assembles them into :class:`~bot.config.schema.Config`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator
from pydantic_core import PydanticCustomError

from bot.actors import STAFF
from bot.durations import Duration, parse_duration

Severity = Literal["S1", "S2", "S3", "S4"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
# The YAML spellings of bot.actors.Role (less the system) and bot.terms.Severity; a
# test holds them equal, so these Literals only give pydantic its error messages.
PersonRole = Literal["customer", "engineer", "csm", "lead"]


# The error type our own validators raise; its messages are shown without an "(got ...)".
_OWN_ERROR = "casebot_config"
_OWN_ERRORS = frozenset({_OWN_ERROR, "duration_parsing"})


def _coerce_id(value: Any) -> Any:
    """Discord snowflakes written unquoted arrive from YAML as ints; ids are always text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Id = Annotated[str, BeforeValidator(_coerce_id)]


def _invalid(message: str) -> PydanticCustomError:
    """A validation error whose text is shown exactly as written (no "Value error, ")."""
    return PydanticCustomError(_OWN_ERROR, message)


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _invalid(
            f"unknown time zone '{name}': use an IANA name such as UTC, Europe/Rome "
            "or America/New_York"
        ) from None
    return name


class _Model(BaseModel):
    # Unknown keys are reported as warnings by parse_config (it sees the raw YAML), so
    # the models themselves simply ignore them.
    model_config = ConfigDict(extra="ignore")


# --------------------------------------------------------------------------- sections


class Support(_Model):
    """Who we are, and the defaults the rest of the file relies on."""

    name: str
    timezone: str = "UTC"
    reopen_window: Duration = parse_duration("7d")
    # How long auto-assignment waits for the customer to look at KB suggestions.
    knowledge_wait: Duration = parse_duration("15m")
    engineering_team: Id | None = None

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        return _check_zone(value)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Impact(_Model):
    label: str
    severity: Severity


def _severity_weights() -> dict[Severity, int]:
    return {"S1": 8, "S2": 4, "S3": 2, "S4": 1}


class Priority(_Model):
    """Weights that rank engineering issues by their impact on the customer base."""

    severity_weight: dict[Severity, int] = Field(default_factory=_severity_weights)
    tier_weight: dict[str, int] = Field(default_factory=dict)


class Team(_Model):
    key: Id
    name: str
    channels: dict[str, Id] = Field(default_factory=dict)
    # A staff-only channel per platform for the case staff threads (internal notes), where
    # the team channel is also seen by customers (Discord: the parent of their threads).
    staff_channels: dict[str, Id] = Field(default_factory=dict)


class ProductArea(_Model):
    key: Id
    name: str
    team: Id
    keywords: list[str] = Field(default_factory=list)


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def _parse_days(text: str) -> frozenset[int]:
    """``mon-fri``, ``mon,wed,fri``, ``sat-sun``, ``fri-mon`` -> weekday numbers (Mon=0)."""
    bad = (
        f"'{text}' is not a list of days: write e.g. mon-fri, mon,wed,fri or sat-sun "
        "(days: mon tue wed thu fri sat sun)"
    )

    def index(token: str) -> int:
        token = token.strip().lower()
        for i, (short, full) in enumerate(zip(_DAY_NAMES, _FULL_DAY_NAMES, strict=True)):
            if token in (short, full):
                return i
        raise ValueError(bad)

    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            i, end = index(first), index(last)
            days.add(i)
            while i != end:  # a range may wrap past Sunday (fri-mon)
                i = (i + 1) % 7
                days.add(i)
        else:
            days.add(index(part))
    return frozenset(days)


def _parse_hours(text: str) -> tuple[int, int]:
    """``08:00-18:00`` -> (start, end) in minutes; end < start means overnight."""
    match = _HOURS_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"'{text}' is not a range of hours: write HH:MM-HH:MM, e.g. 08:00-18:00, "
            "or 22:00-06:00 for a night shift"
        )
    sh, sm, eh, em = (int(g) for g in match.groups())
    start, end = sh * 60 + sm, eh * 60 + em
    if sm > 59 or em > 59 or start >= 24 * 60 or end > 24 * 60:
        raise ValueError(f"'{text}': hours run from 00:00 to 24:00")
    if start == end:
        raise ValueError(f"'{text}' starts and ends at the same time: for all day use 00:00-24:00")
    return start, end


class Shift(_Model):
    """When someone works. Overnight hours (22:00-06:00) belong to the day they start."""

    days: str = "mon-fri"
    hours: str = "00:00-24:00"
    timezone: str | None = None  # None: support.timezone

    _days: frozenset[int] = PrivateAttr(default=frozenset())
    _span: tuple[int, int] = PrivateAttr(default=(0, 24 * 60))

    @field_validator("days")
    @classmethod
    def _valid_days(cls, value: str) -> str:
        try:
            _parse_days(value)
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        try:
            _parse_hours(value)
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)

    def model_post_init(self, context: Any, /) -> None:
        # Parsed once here; the validators above guarantee this cannot fail.
        self._days = _parse_days(self.days)
        self._span = _parse_hours(self.hours)

    def on_shift(self, at: datetime, default_tz: ZoneInfo) -> bool:
        if at.tzinfo is None:
            raise ValueError("Shift.on_shift needs a timezone-aware time")
        local = at.astimezone(ZoneInfo(self.timezone) if self.timezone else default_tz)
        minute = local.hour * 60 + local.minute + local.second / 60
        start, end = self._span
        weekday = local.weekday()
        if start < end:
            return weekday in self._days and start <= minute < end
        # Overnight: the evening part is on a shift day, the morning part on the day after.
        return (weekday in self._days and minute >= start) or (
            (weekday - 1) % 7 in self._days and minute < end
        )


class Person(_Model):
    id: Id
    name: str
    role: PersonRole
    team: Id | None = None
    skills: dict[str, int] = Field(default_factory=dict)  # product area -> level 1..5
    capacity: int = 5  # active cases before auto-assignment skips this person
    shift: Shift | None = None
    identities: dict[str, Id] = Field(default_factory=dict)  # platform -> user id
    account: Id | None = None  # customers only

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def on_shift(self, at: datetime, default_tz: ZoneInfo) -> bool:
        """No shift configured means always available."""
        return True if self.shift is None else self.shift.on_shift(at, default_tz)


class Account(_Model):
    key: Id
    name: str
    tier: str = "standard"
    csm: Id | None = None
    phone: Id | None = None
    channels: dict[str, Id] = Field(default_factory=dict)  # shared channels, per platform
    discord_role: Id | None = None  # Discord members with this role belong to the account


class ChaseStep(_Model):
    after: Duration
    action: Literal["remind", "phone", "close_unresponsive"]


class Sla(_Model):
    first_response: dict[Severity, Duration] = Field(default_factory=dict)
    resolution: dict[Severity, Duration] = Field(default_factory=dict)
    warn_at: float = Field(default=0.8, gt=0, le=1)


class Escalation(_Model):
    acknowledge_within: Duration = parse_duration("2h")


class Survey(_Model):
    question: str = "How satisfied are you with how we handled this case?"
    low_score: int = Field(default=2, ge=1, le=5)


class SemanticSearch(_Model):
    """Sentence-embedding ranking (the ``casebot[semantic]`` extra)."""

    # auto: on when sentence-transformers is installed; off: lexical only; on: required.
    enabled: Literal["auto", "on", "off"] = "off"
    model: str = "all-MiniLM-L6-v2"
    min_confidence: float = Field(default=0.5, ge=0, le=1)

    @field_validator("enabled", mode="before")
    @classmethod
    def _yaml_switch(cls, value: Any) -> Any:
        # YAML reads a bare on/off as a boolean.
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("enabled")
    @classmethod
    def _extra_installed(cls, value: str) -> str:
        import importlib.util

        if value == "on" and importlib.util.find_spec("sentence_transformers") is None:
            raise _invalid(
                "on, but the semantic extra is not installed: pip install 'casebot[semantic]' "
                "(or set auto, or off)"
            )
        return value


class Search(_Model):
    """Knowledge search: when a suggestion is confident enough to show, and the words
    customers use for the words articles use."""

    min_confidence: float = Field(default=0.35, ge=0, le=1)
    # Groups of words or phrases that mean the same: [[chart, graph], [sign in, login]].
    synonyms: list[list[Id]] = Field(default_factory=list)
    semantic: SemanticSearch = Field(default_factory=SemanticSearch)
