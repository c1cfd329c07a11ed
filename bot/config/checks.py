"""Everything the configuration models cannot see on their own: the cross-checks between
sections (references, duplicates, ranges), the unknown-key walk, and pydantic's errors
rewritten as ``key.path: reason`` lines.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from bot.actors import Role
from bot.config.schema import Config, _identity_key
from bot.config.sections import (
    _OWN_ERRORS,
    Account,
    ChaseStep,
    Person,
    Priority,
    ProductArea,
    Support,
    Team,
)

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
        if person.role == Role.CUSTOMER:
            if person.account is None:
                errors.append(
                    f"{at}.account: a customer needs an account (known: {accounts.listing()})"
                )
            elif accounts.lacks(person.account):
                errors.append(
                    f"{at}.account: unknown account '{person.account}' "
                    f"(known: {accounts.listing()})"
                )
        if person.role == Role.ENGINEER and not person.skills:
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
    domain_owner: dict[str, str] = {}
    for i, account in parts.accounts:
        at = _item("accounts", i, account.key)
        if account.csm is not None:
            csm = by_id.get(account.csm)
            if csm is None and people.lacks(account.csm):
                staff = [p.id for _, p in parts.people if p.role in (Role.CSM, Role.LEAD)]
                errors.append(
                    f"{at}.csm: unknown person '{account.csm}' "
                    f"(CSMs and leads: {', '.join(staff) or 'none configured'})"
                )
            elif csm is not None and csm.role not in (Role.CSM, Role.LEAD):
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
        for domain in account.email_domains:
            if domain in domain_owner:
                errors.append(
                    f"{at}.email_domains: '{domain}' is already used by {domain_owner[domain]} "
                    "(mail from it would belong to two accounts)"
                )
            else:
                domain_owner[domain] = at

    for i, step in parts.chase:
        if step.action == "close_unresponsive" and i != parts.chase_len - 1:
            errors.append(
                f"chase[{i}].action: close_unresponsive must be the last step (it ends the chase)"
            )
    return errors, warnings


def check_config(config: Config) -> list[str]:
    """The cross-section errors of an already-built Config (parse_config runs this)."""
    return _cross_check(_Parts.of(config))[0]
