"""The casebot configuration as a whole: :class:`Config`, with the lookups the rest of the
bot needs. The section models it is made of live in :mod:`bot.config.sections` and are
re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import Field, PrivateAttr

from bot.actors import Role
from bot.config.integrations import Search, Tracker
from bot.config.sections import (
    SEVERITIES,
    Account,
    ChaseStep,
    Email,
    Escalation,
    Id,
    Impact,
    Person,
    PersonRole,
    Priority,
    ProductArea,
    Severity,
    Shift,
    Sla,
    Support,
    Survey,
    Team,
    _Model,
)
from bot.durations import Duration

__all__ = [
    "NON_PLATFORMS",
    "SEVERITIES",
    "Account",
    "ChaseStep",
    "Config",
    "Email",
    "Escalation",
    "Id",
    "Impact",
    "Person",
    "Priority",
    "ProductArea",
    "PersonRole",
    "Severity",
    "Shift",
    "Sla",
    "Support",
    "Survey",
    "Team",
    "Tracker",
]

# Identities and channels that are not chat platforms (never "in use" as an adapter).
NON_PLATFORMS = frozenset({"email", "phone"})


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
    email: Email | None = None
    tracker: Tracker | None = None
    search: Search = Field(default_factory=Search)

    _source: str = PrivateAttr(default="<code>")
    _warnings: list[str] = PrivateAttr(default_factory=list)
    _people: dict[str, Person] = PrivateAttr(default_factory=dict)
    _identities: dict[tuple[str, str], Person] = PrivateAttr(default_factory=dict)
    _accounts: dict[str, Account] = PrivateAttr(default_factory=dict)
    _teams: dict[str, Team] = PrivateAttr(default_factory=dict)
    _areas: dict[str, ProductArea] = PrivateAttr(default_factory=dict)
    _channel_accounts: dict[tuple[str, str], Account] = PrivateAttr(default_factory=dict)
    _domain_accounts: dict[str, Account] = PrivateAttr(default_factory=dict)
    _area_patterns: list[tuple[ProductArea, list[re.Pattern[str]]]] = PrivateAttr(
        default_factory=list
    )
    _impact_patterns: list[tuple[str, list[re.Pattern[str]]]] = PrivateAttr(default_factory=list)

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
            for domain in account.email_domains:
                self._domain_accounts.setdefault(domain.lower(), account)
        self._teams = {}
        for team in self.teams:
            self._teams.setdefault(team.key, team)
        self._areas = {}
        self._area_patterns = []
        for area in self.product_areas:
            self._areas.setdefault(area.key, area)
            patterns = [p for p in map(_keyword_pattern, area.keywords) if p is not None]
            self._area_patterns.append((area, patterns))
        self._impact_patterns = [
            (key, [p for p in map(_keyword_pattern, impact.words) if p is not None])
            for key, impact in self.impacts.items()
        ]

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
        return [p for p in self.people if p.role == Role.ENGINEER]

    def leads(self) -> list[Person]:
        return [p for p in self.people if p.role == Role.LEAD]

    def csms(self) -> list[Person]:
        return [p for p in self.people if p.role == Role.CSM]

    def customers(self) -> list[Person]:
        return [p for p in self.people if p.role == Role.CUSTOMER]

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

    def account_for_email(self, address: str) -> Account | None:
        """The account whose ``email_domains`` has the address's domain."""
        domain = address.strip().lower().rpartition("@")[2]
        return self._domain_accounts.get(domain) if domain else None

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

    def suggest_impact(self, text: str) -> str | None:
        """The impact whose keywords occur most often in ``text`` (ties: the more severe),
        or None when no keyword occurs ("URGENT production down" is not a question)."""
        best: tuple[int, int, str] | None = None
        for key, patterns in self._impact_patterns:
            hits = sum(len(p.findall(text)) for p in patterns)
            if not hits:
                continue
            rank = (hits, -SEVERITIES.index(self.impacts[key].severity), key)
            if best is None or rank[:2] > best[:2]:
                best = rank
        return best[2] if best else None

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
