"""The sections of the casebot configuration: one pydantic model per YAML section, the
small parsers they need (days, hours, time zones) and the severity and role literals.

:mod:`bot.config.schema` assembles them into :class:`~bot.config.schema.Config`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
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
    # The example configuration only: an empty knowledge base gets examples/kb's made-up
    # articles at `casebot run`. A real deployment starts empty (`casebot kb import DIR`).
    seed_examples: bool = False

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        return _check_zone(value)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# Words that suggest an impact in a case's title and description, by the impact's
# severity: an impact without its own ``keywords`` uses these.
DEFAULT_IMPACT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "S1": (
        "production down",
        "prod down",
        "is down",
        "outage",
        "urgent",
        "emergency",
        "critical",
        "data loss",
        "all users",
        "nobody can",
    ),
    "S2": ("degraded", "slow", "intermittent", "intermittently", "some users", "timeouts"),
    "S3": ("blocked", "cannot", "can't", "unable", "fails", "failing", "broken", "error"),
    "S4": ("question", "how do i", "how to", "is it possible", "documentation", "wondering"),
}


class Impact(_Model):
    label: str
    severity: Severity
    # Words in a case's text that suggest this impact (None: the defaults for its severity).
    keywords: list[str] | None = None

    @property
    def words(self) -> tuple[str, ...]:
        if self.keywords is not None:
            return tuple(self.keywords)
        return DEFAULT_IMPACT_KEYWORDS.get(self.severity, ())


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
    # Mail from these domains (``globex.com``) comes from the account's people.
    email_domains: list[str] = Field(default_factory=list)

    @field_validator("email_domains")
    @classmethod
    def _valid_domains(cls, value: list[str]) -> list[str]:
        out = []
        for domain in value:
            d = domain.strip().lower().lstrip("@")
            if not _DOMAIN_RE.fullmatch(d):
                raise _invalid(f"'{domain}' is not a mail domain: write e.g. globex.com")
            out.append(d)
        return out


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


_DOMAIN_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_ADDRESS_RE = re.compile(r"[^@\s<>]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _check_address(value: str) -> str:
    v = value.strip().lower()
    if not _ADDRESS_RE.fullmatch(v):
        raise _invalid(f"'{value}' is not a mail address: write e.g. support@example.com")
    return v


class MailAttachments(_Model):
    """What casebot keeps of a mail's attachments (in the database, for staff to fetch
    through a signed link); larger ones are listed as not kept."""

    # One attachment over this many bytes is not kept (0: none are).
    max_bytes: int = Field(default=5 * 1024 * 1024, ge=0)
    # Nor is any attachment that would take one mail's kept bytes over this many.
    max_total_bytes: int = Field(default=20 * 1024 * 1024, ge=0)

    @model_validator(mode="after")
    def _total_holds_one(self) -> MailAttachments:
        if self.max_bytes > self.max_total_bytes:
            raise _invalid(
                f"max_bytes ({self.max_bytes}) is more than max_total_bytes "
                f"({self.max_total_bytes}): one attachment could never be kept whole"
            )
        return self


class Email(_Model):
    """Email as a channel (``adapters/email``; the servers come from the environment)."""

    # The support address casebot sends from and receives at.
    address: str
    # Mail to this address is feedback on casebot, not a case (``/case feedback``).
    feedback_address: str | None = None
    # The name shown with the address ("Test Support <support@…>"): support.name if unset.
    display_name: str | None = None
    # Larger mail is refused with an answer that says the limit.
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Mail from one sender beyond this many an hour is dropped (a loop, a flood).
    per_sender_per_hour: int = Field(default=20, ge=1)
    # How long the confirm / rate links in a mail keep working.
    link_days: int = Field(default=30, ge=1, le=365)
    # A sender no account knows: one polite answer (reply), or the mail is held in the
    # lead's queue until they place it in an account (queue).
    unknown_senders: Literal["reply", "queue"] = "reply"
    attachments: MailAttachments = Field(default_factory=MailAttachments)

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        return _check_address(value)

    @field_validator("feedback_address")
    @classmethod
    def _valid_feedback(cls, value: str | None) -> str | None:
        return None if value is None else _check_address(value)
