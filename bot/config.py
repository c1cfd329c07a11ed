"""The casebot configuration: one YAML file, validated at start with clear errors.

Support leads write this file by hand, so every mistake is reported at once, each as
``key.path: reason`` (``people[2] (chiara).skills.bilin: unknown product area ...``), and
keys casebot does not know are warned about rather than refused, so a typo never goes
unnoticed and a newer file still loads. Secrets never live here: they come from the
environment.
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from bot.durations import Duration, parse_duration

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "Account",
    "ChaseStep",
    "Config",
    "ConfigError",
    "Escalation",
    "Impact",
    "Person",
    "Priority",
    "ProductArea",
    "Role",
    "Severity",
    "Shift",
    "Sla",
    "Support",
    "Survey",
    "Team",
    "check_config",
    "config_path_from_env",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH = "examples/casebot.yml"

Severity = Literal["S1", "S2", "S3", "S4"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
Role = Literal["customer", "engineer", "csm", "lead"]

# Identities and channels that are not chat platforms (never "in use" as an adapter).
NON_PLATFORMS = frozenset({"email", "phone"})

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
    role: Role
    team: Id | None = None
    skills: dict[str, int] = Field(default_factory=dict)  # product area -> level 1..5
    capacity: int = 5  # active cases before auto-assignment skips this person
    shift: Shift | None = None
    identities: dict[str, Id] = Field(default_factory=dict)  # platform -> user id
    account: Id | None = None  # customers only

    @property
    def is_staff(self) -> bool:
        return self.role in ("engineer", "csm", "lead")

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


def _default_impacts() -> dict[str, Impact]:
    return {
        "production_down": Impact(label="Production is down", severity="S1"),
        "degraded": Impact(label="Production is degraded", severity="S2"),
        "blocked": Impact(label="A task is blocked", severity="S3"),
        "question": Impact(label="A question", severity="S4"),
    }


def _default_case_types() -> dict[str, str]:
    return {
        "functionality": "How should this work?",
        "broken": "Something is broken",
        "api": "A public API call fails",
        "install": "Installation, upgrade or configuration",
    }


def _keyword_pattern(keyword: str) -> re.Pattern[str] | None:
    """Whole words only, any run of spaces inside a phrase: "rate  limit" hits "rate limit"."""
    words = keyword.split()
    if not words:
        return None
    body = r"\s+".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def _identity_key(platform: str, ident: str | int) -> tuple[str, str]:
    platform = platform.strip().lower()
    value = str(ident).strip()
    return platform, value.lower() if platform == "email" else value


class Config(_Model):
    """The whole configuration, with the lookups the rest of the bot needs."""

    support: Support
    impacts: dict[str, Impact] = Field(default_factory=_default_impacts)
    case_types: dict[str, str] = Field(default_factory=_default_case_types)
    priority: Priority = Field(default_factory=Priority)
    teams: list[Team]
    product_areas: list[ProductArea]
    people: list[Person]
    accounts: list[Account]
    chase: list[ChaseStep] = Field(default_factory=list)
    sla: Sla = Field(default_factory=Sla)
    escalation: Escalation = Field(default_factory=Escalation)
    survey: Survey = Field(default_factory=Survey)

    _source: str = PrivateAttr(default="<code>")
    _warnings: list[str] = PrivateAttr(default_factory=list)
    _people: dict[str, Person] = PrivateAttr(default_factory=dict)
    _identities: dict[tuple[str, str], Person] = PrivateAttr(default_factory=dict)
    _accounts: dict[str, Account] = PrivateAttr(default_factory=dict)
    _teams: dict[str, Team] = PrivateAttr(default_factory=dict)
    _areas: dict[str, ProductArea] = PrivateAttr(default_factory=dict)
    _channel_accounts: dict[tuple[str, str], Account] = PrivateAttr(default_factory=dict)
    _area_patterns: list[tuple[ProductArea, list[re.Pattern[str]]]] = PrivateAttr(
        default_factory=list
    )

    def model_post_init(self, context: Any, /) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the lookup tables; call after changing the lists in code (tests do).

        The first of duplicated ids wins, matching what parse_config reports as an error.
        """
        self._people = {}
        self._identities = {}
        for person in self.people:
            self._people.setdefault(person.id, person)
            for platform, ident in person.identities.items():
                self._identities.setdefault(_identity_key(platform, ident), person)
        self._accounts = {}
        self._channel_accounts = {}
        for account in self.accounts:
            self._accounts.setdefault(account.key, account)
            for platform, channel in account.channels.items():
                self._channel_accounts.setdefault(_identity_key(platform, channel), account)
        self._teams = {}
        for team in self.teams:
            self._teams.setdefault(team.key, team)
        self._areas = {}
        self._area_patterns = []
        for area in self.product_areas:
            self._areas.setdefault(area.key, area)
            patterns = [p for p in map(_keyword_pattern, area.keywords) if p is not None]
            self._area_patterns.append((area, patterns))

    # ---------------------------------------------------------------- metadata

    @property
    def source(self) -> str:
        """Where this configuration came from (a path, or ``<string>``), for messages."""
        return self._source

    @property
    def warnings(self) -> list[str]:
        """Unknown keys and other things worth a look that did not stop the load."""
        return self._warnings

    # ---------------------------------------------------------------- lookups

    def person(self, person_id: str) -> Person | None:
        return self._people.get(str(person_id))

    def person_by_identity(self, platform: str, ident: str | int) -> Person | None:
        """Who a platform user is. The console has no user ids: people type their own id."""
        if platform.strip().lower() == "console":
            return self.person(str(ident).strip())
        return self._identities.get(_identity_key(platform, ident))

    def account(self, key: str) -> Account | None:
        return self._accounts.get(key)

    def team(self, key: str) -> Team | None:
        return self._teams.get(key)

    def area(self, key: str) -> ProductArea | None:
        return self._areas.get(key)

    def team_for_area(self, area_key: str) -> Team | None:
        area = self.area(area_key)
        return None if area is None else self.team(area.team)

    def engineers(self) -> list[Person]:
        return [p for p in self.people if p.role == "engineer"]

    def leads(self) -> list[Person]:
        return [p for p in self.people if p.role == "lead"]

    def csms(self) -> list[Person]:
        return [p for p in self.people if p.role == "csm"]

    def customers(self) -> list[Person]:
        return [p for p in self.people if p.role == "customer"]

    def csm_for(self, account_key: str) -> Person | None:
        account = self.account(account_key)
        if account is None or account.csm is None:
            return None
        return self.person(account.csm)

    def engineering_team(self) -> Team | None:
        """Where engineering issues are announced.

        Explicit ``support.engineering_team`` first; else a team keyed ``engineering``;
        else the first team that owns no product area (support teams own areas).
        """
        if self.support.engineering_team:
            return self.team(self.support.engineering_team)
        if (team := self.team("engineering")) is not None:
            return team
        owners = {area.team for area in self.product_areas}
        return next((t for t in self.teams if t.key not in owners), None)

    def account_for_channel(self, platform: str, channel_id: str | int) -> Account | None:
        return self._channel_accounts.get(_identity_key(platform, channel_id))

    def account_for_roles(self, role_ids: Iterable[str | int]) -> Account | None:
        """The first account (in file order) whose Discord role the member holds."""
        roles = {str(r) for r in role_ids}
        return next((a for a in self.accounts if a.discord_role in roles), None)

    def suggest_area(self, text: str) -> ProductArea | None:
        """The area whose keywords occur most often in ``text``; ties go to the earlier area."""
        best: ProductArea | None = None
        best_hits = 0
        for area, patterns in self._area_patterns:
            hits = sum(len(p.findall(text)) for p in patterns)
            if hits > best_hits:
                best, best_hits = area, hits
        return best

    def severity_for(self, impact_key: str, tier: str) -> Severity:
        """The impact's severity, one level more urgent for the top tier.

        The top tier is the one with the highest ``priority.tier_weight``, only when at
        least two tiers are weighted differently. S4 (a question) is never raised, and
        nothing goes above S1. Raises KeyError for an unknown impact.
        """
        impact = self.impacts.get(impact_key)
        if impact is None:
            known = ", ".join(self.impacts)
            raise KeyError(f"unknown impact '{impact_key}' (known: {known})")
        severity = impact.severity
        weights = self.priority.tier_weight
        if severity in ("S2", "S3") and len(weights) >= 2 and tier in weights:
            top = max(weights.values())
            if weights[tier] == top and top > min(weights.values()):
                return SEVERITIES[SEVERITIES.index(severity) - 1]
        return severity

    def platforms_in_use(self) -> set[str]:
        """Chat platforms the file configures; tells the launcher which adapters to start."""
        names: set[str] = set()
        for team in self.teams:
            names.update(team.channels)
        for person in self.people:
            names.update(person.identities)
        for account in self.accounts:
            names.update(account.channels)
            if account.discord_role:
                names.add("discord")
        return {n.strip().lower() for n in names} - NON_PLATFORMS

    def summary(self) -> str:
        """A few lines for the startup log and ``casebot check``."""

        def count(n: int, word: str, plural: str | None = None) -> str:
            return f"{n} {word if n == 1 else plural or word + 's'}"

        roles = [p.role for p in self.people]
        chase = ", ".join(f"{s.action} after {s.after}" for s in self.chase) or "none"
        if self.sla.first_response or self.sla.resolution:
            sla = (
                f"first response {_targets(self.sla.first_response)}; "
                f"resolution {_targets(self.sla.resolution)}"
            )
        else:
            sla = "not set"
        return "\n".join(
            [
                f"{self.support.name} (time zone {self.support.timezone})",
                f"{count(len(self.teams), 'team')}, "
                f"{count(len(self.product_areas), 'product area')}, "
                f"{count(len(self.accounts), 'account')}",
                f"{count(roles.count('engineer'), 'engineer')}, "
                f"{count(roles.count('csm'), 'CSM')}, "
                f"{count(roles.count('lead'), 'lead')}, "
                f"{count(roles.count('customer'), 'customer')}",
                f"chase: {chase}",
                f"SLA: {sla}",
            ]
        )


def _targets(targets: dict[Severity, Duration]) -> str:
    return ", ".join(f"{sev} {d}" for sev, d in sorted(targets.items())) or "none"


# --------------------------------------------------------------------------- errors


class ConfigError(Exception):
    """The configuration cannot be used; ``errors`` holds every problem found, one per line."""

    def __init__(
        self, errors: list[str], source: str = "<string>", warnings: list[str] | None = None
    ) -> None:
        self.errors = list(errors)
        self.source = source
        self.warnings = list(warnings or [])
        super().__init__(self.__str__())

    def __str__(self) -> str:
        n = len(self.errors)
        head = f"{self.source}: {n} configuration error{'' if n == 1 else 's'}"
        return head + ":\n" + "\n".join(f"  {e}" for e in self.errors)


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """safe_load, but noting duplicated keys, which YAML would otherwise drop silently."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            if key_node.value in seen:
                self.duplicates.append(
                    f"line {key_node.start_mark.line + 1}: duplicate key '{key_node.value}' "
                    "(YAML would keep only the last one)"
                )
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str, source: str) -> tuple[Any, list[str]]:
    loader = _Loader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = exc.problem or exc.context or "syntax error"
        raise ConfigError([f"{where}not valid YAML: {what}"], source) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], source) from None
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- paths


def _ident(item: Any) -> str | None:
    """The id or key of a raw list item, shown next to its index in messages."""
    if isinstance(item, dict):
        for name in ("id", "key"):
            value = item.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                return str(value)
    return None


def _item(section: str, index: int, ident: str | None) -> str:
    return f"{section}[{index}]" + (f" ({ident})" if ident else "")


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _format_loc(loc: tuple[Any, ...], raw: Any) -> tuple[str, bool]:
    """pydantic's ``loc`` as our key path; True when the error is about a dict key."""
    path = ""
    node: Any = raw
    about_key = False
    for part in loc:
        if part == "[key]":
            about_key = True
            continue
        if isinstance(part, int) and isinstance(node, list):
            node = node[part] if 0 <= part < len(node) else None
            path = _item(path, part, _ident(node))
        else:
            path = _join(path, part)
            node = node.get(part) if isinstance(node, dict) else None
    return path, about_key


_SHAPES = {
    "model_type": "expected a mapping (key: value lines, or {key: value})",
    "model_attributes_type": "expected a mapping (key: value lines, or {key: value})",
    "dict_type": "expected a mapping (key: value lines, or {key: value})",
    "list_type": "expected a list (- item lines, or [a, b])",
}


def _reason(error: Any) -> str:
    kind: str = error["type"]
    message: str = error["msg"]
    if kind == "missing":
        return "required but missing"
    if kind in _OWN_ERRORS:
        return message
    if kind in _SHAPES:
        # pydantic would name Python classes here; say it in YAML terms instead.
        message = _SHAPES[kind]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    value = error.get("input")
    if value is None:
        message += " (got an empty value)"
    elif isinstance(value, str | int | float | bool):
        message += f" (got {value!r})"
    return message


def _pydantic_errors(exc: ValidationError, raw: Any) -> list[str]:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        path, about_key = _format_loc(tuple(error["loc"]), raw)
        reason = _reason(error)
        if about_key:
            reason = f"not a valid key: {reason}"
        line = f"{path}: {reason}" if path else reason
        if line not in lines:
            lines.append(line)
    return lines


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in get_args(annotation):
            if (found := _model_in(arg)) is not None:
                return found
    return None


def _unknown_keys(model: type[BaseModel], raw: Any, path: str, out: list[str]) -> None:
    """Walk the raw YAML alongside the models and note every key no model declares."""
    if not isinstance(raw, dict):
        return
    for key, value in raw.items():
        sub = _join(path, key)
        info = model.model_fields.get(key) if isinstance(key, str) else None
        if info is None:
            out.append(f"{sub}: unknown key, ignored")
        else:
            _unknown_in(info.annotation, value, sub, out)


def _unknown_in(annotation: Any, value: Any, path: str, out: list[str]) -> None:
    model = _model_in(annotation)
    if model is not None:
        _unknown_keys(model, value, path, out)
        return
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and isinstance(value, list):
        for i, item in enumerate(value):
            _unknown_in(args[0], item, _item(path, i, _ident(item)), out)
    elif origin is dict and isinstance(value, dict):
        for key, item in value.items():
            _unknown_in(args[1], item, _join(path, key), out)


# --------------------------------------------------------------------------- cross-checks

M = TypeVar("M", bound=BaseModel)


@dataclass
class _Known:
    """The keys of one section; ``complete`` False when some of them could not be read,
    so a reference to an unreadable entry is not reported a second time."""

    keys: list[str] = field(default_factory=list)
    complete: bool = True

    def lacks(self, key: str) -> bool:
        return self.complete and key not in self.keys

    def listing(self) -> str:
        return ", ".join(self.keys) if self.keys else "none configured"


@dataclass
class _Parts:
    """What the cross-checks look at: the valid entries with their original indexes."""

    engineering_team: str | None
    tier_weight: dict[str, int]
    teams: list[tuple[int, Team]]
    areas: list[tuple[int, ProductArea]]
    people: list[tuple[int, Person]]
    accounts: list[tuple[int, Account]]
    chase: list[tuple[int, ChaseStep]]
    chase_len: int
    known: dict[str, _Known]

    @classmethod
    def of(cls, config: Config) -> _Parts:
        def known(keys: Iterable[str]) -> _Known:
            return _Known(list(dict.fromkeys(keys)))

        return cls(
            engineering_team=config.support.engineering_team,
            tier_weight=config.priority.tier_weight,
            teams=list(enumerate(config.teams)),
            areas=list(enumerate(config.product_areas)),
            people=list(enumerate(config.people)),
            accounts=list(enumerate(config.accounts)),
            chase=list(enumerate(config.chase)),
            chase_len=len(config.chase),
            known={
                "teams": known(t.key for t in config.teams),
                "areas": known(a.key for a in config.product_areas),
                "people": known(p.id for p in config.people),
                "accounts": known(a.key for a in config.accounts),
            },
        )

    @classmethod
    def salvage(cls, raw: dict[Any, Any]) -> _Parts:
        """The entries that do validate, when the file as a whole does not, so one run
        reports the cross-check errors alongside the type errors."""

        def setting(section: str, model: type[BaseModel], name: str) -> Any:
            # One field on its own, so a bad neighbour does not hide it.
            info = model.model_fields[name]
            values = raw.get(section)
            if not isinstance(values, dict) or name not in values:
                return info.get_default(call_default_factory=True)
            try:
                return TypeAdapter(info.rebuild_annotation()).validate_python(values[name])
            except ValidationError:
                return None

        def items(name: str, model: type[M]) -> tuple[list[tuple[int, M]], _Known]:
            value = raw.get(name)
            if not isinstance(value, list):
                return [], _Known(complete=False)
            good: list[tuple[int, M]] = []
            known = _Known()
            for i, item in enumerate(value):
                try:
                    good.append((i, model.model_validate(item)))
                except ValidationError:
                    pass
                key = _ident(item)
                if key is None:
                    known.complete = False
                elif key not in known.keys:
                    known.keys.append(key)
            return good, known

        teams, known_teams = items("teams", Team)
        areas, known_areas = items("product_areas", ProductArea)
        people, known_people = items("people", Person)
        accounts, known_accounts = items("accounts", Account)
        chase, _ = items("chase", ChaseStep)
        raw_chase = raw.get("chase")
        return cls(
            engineering_team=setting("support", Support, "engineering_team"),
            tier_weight=setting("priority", Priority, "tier_weight") or {},
            teams=teams,
            areas=areas,
            people=people,
            accounts=accounts,
            chase=chase,
            chase_len=len(raw_chase) if isinstance(raw_chase, list) else 0,
            known={
                "teams": known_teams,
                "areas": known_areas,
                "people": known_people,
                "accounts": known_accounts,
            },
        )


def _article(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _cross_check(parts: _Parts) -> tuple[list[str], list[str]]:
    """Everything pydantic cannot see: references between sections, duplicates, ranges."""
    errors: list[str] = []
    warnings: list[str] = []
    teams, areas = parts.known["teams"], parts.known["areas"]
    people, accounts = parts.known["people"], parts.known["accounts"]

    def duplicates(section: str, entries: list[tuple[int, Any]], attr: str) -> None:
        first: dict[str, int] = {}
        for i, entry in entries:
            key = getattr(entry, attr)
            if key in first:
                errors.append(
                    f"{_item(section, i, key)}.{attr}: duplicate {attr} '{key}' "
                    f"(also {section}[{first[key]}])"
                )
            else:
                first[key] = i

    duplicates("teams", parts.teams, "key")
    duplicates("product_areas", parts.areas, "key")
    duplicates("people", parts.people, "id")
    duplicates("accounts", parts.accounts, "key")

    if parts.engineering_team is not None and teams.lacks(parts.engineering_team):
        errors.append(
            f"support.engineering_team: unknown team '{parts.engineering_team}' "
            f"(known: {teams.listing()})"
        )

    for i, area in parts.areas:
        if teams.lacks(area.team):
            errors.append(
                f"{_item('product_areas', i, area.key)}.team: unknown team '{area.team}' "
                f"(known: {teams.listing()})"
            )

    by_id = {p.id: p for _, p in reversed(parts.people)}  # first wins, like Config
    identity_owner: dict[tuple[str, str], str] = {}
    for i, person in parts.people:
        at = _item("people", i, person.id)
        if person.team is not None and teams.lacks(person.team):
            errors.append(f"{at}.team: unknown team '{person.team}' (known: {teams.listing()})")
        for area_key, level in person.skills.items():
            if areas.lacks(area_key):
                errors.append(
                    f"{at}.skills.{area_key}: unknown product area '{area_key}' "
                    f"(known: {areas.listing()})"
                )
            if not 1 <= level <= 5:
                errors.append(f"{at}.skills.{area_key}: skill level must be 1 to 5 (got {level})")
        if person.capacity < 1:
            errors.append(f"{at}.capacity: must be at least 1 (got {person.capacity})")
        if not person.identities:
            errors.append(
                f"{at}.identities: none given: add at least one (slack, discord or email) "
                "so casebot can recognise this person"
            )
        if person.role == "customer":
            if person.account is None:
                errors.append(
                    f"{at}.account: a customer needs an account (known: {accounts.listing()})"
                )
            elif accounts.lacks(person.account):
                errors.append(
                    f"{at}.account: unknown account '{person.account}' "
                    f"(known: {accounts.listing()})"
                )
        if person.role == "engineer" and not person.skills:
            warnings.append(f"{at}.skills: none given, so this engineer is never auto-assigned")
        for platform, ident in person.identities.items():
            key = _identity_key(platform, ident)
            if key[0] == "phone":  # a shared office line is legitimate
                continue
            if key in identity_owner:
                errors.append(
                    f"{at}.identities.{platform}: '{ident}' is already used by "
                    f"{identity_owner[key]}"
                )
            else:
                identity_owner[key] = at

    tier_weight = parts.tier_weight
    channel_owner: dict[tuple[str, str], str] = {}
    role_owner: dict[str, str] = {}
    for i, account in parts.accounts:
        at = _item("accounts", i, account.key)
        if account.csm is not None:
            csm = by_id.get(account.csm)
            if csm is None and people.lacks(account.csm):
                staff = [p.id for _, p in parts.people if p.role in ("csm", "lead")]
                errors.append(
                    f"{at}.csm: unknown person '{account.csm}' "
                    f"(CSMs and leads: {', '.join(staff) or 'none configured'})"
                )
            elif csm is not None and csm.role not in ("csm", "lead"):
                errors.append(f"{at}.csm: '{csm.id}' is {_article(csm.role)}, not a csm or lead")
        if tier_weight and account.tier not in tier_weight:
            errors.append(
                f"{at}.tier: unknown tier '{account.tier}' "
                f"(priority.tier_weight has: {', '.join(tier_weight)})"
            )
        for platform, channel in account.channels.items():
            key = _identity_key(platform, channel)
            if key in channel_owner:
                errors.append(
                    f"{at}.channels.{platform}: '{channel}' is already used by {channel_owner[key]}"
                )
            else:
                channel_owner[key] = at
        if account.discord_role is not None:
            if account.discord_role in role_owner:
                errors.append(
                    f"{at}.discord_role: '{account.discord_role}' is already used by "
                    f"{role_owner[account.discord_role]}"
                )
            else:
                role_owner[account.discord_role] = at

    for i, step in parts.chase:
        if step.action == "close_unresponsive" and i != parts.chase_len - 1:
            errors.append(
                f"chase[{i}].action: close_unresponsive must be the last step (it ends the chase)"
            )
    return errors, warnings


def check_config(config: Config) -> list[str]:
    """The cross-section errors of an already-built Config (parse_config runs this)."""
    return _cross_check(_Parts.of(config))[0]


# --------------------------------------------------------------------------- loading


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate YAML text into a Config, or raise ConfigError listing every problem."""
    raw, errors = _read_yaml(text, source)
    if raw is None:
        raise ConfigError(
            [
                "the file is empty: it needs at least support, teams, "
                "product_areas, people and accounts"
            ],
            source,
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            [
                "the top level must be a mapping of sections (support, teams, product_areas, "
                f"people, accounts, ...), not {_article(type(raw).__name__)}"
            ],
            source,
        )
    # An empty section ("chase:" with nothing under it) means "use the default".
    raw = {key: value for key, value in raw.items() if value is not None}
    warnings: list[str] = []
    _unknown_keys(Config, raw, "", warnings)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        errors += _pydantic_errors(exc, raw)
        cross_errors, cross_warnings = _cross_check(_Parts.salvage(raw))
        raise ConfigError(errors + cross_errors, source, warnings + cross_warnings) from None
    cross_errors, cross_warnings = _cross_check(_Parts.of(config))
    warnings += cross_warnings
    if errors or cross_errors:
        raise ConfigError(errors + cross_errors, source, warnings)
    config._source = source
    config._warnings = warnings
    return config


def load_config(path: str | Path) -> Config:
    """Read and validate the YAML file at ``path``; ConfigError says what is wrong."""
    file = Path(path)
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [f"file not found: {file} (set CASEBOT_CONFIG to the path of your casebot.yml)"],
            source,
        ) from None
    except IsADirectoryError:
        raise ConfigError([f"{file} is a directory, not a YAML file"], source) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{file} is not a UTF-8 text file"], source) from None
    except OSError as exc:
        raise ConfigError([f"cannot read {file}: {exc.strerror or exc}"], source) from None
    return parse_config(text, source)


def config_path_from_env() -> Path:
    """``CASEBOT_CONFIG`` if set, else the bundled example, so the demo runs unconfigured."""
    return Path(os.environ.get("CASEBOT_CONFIG") or DEFAULT_CONFIG_PATH)
