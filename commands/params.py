"""Typed parameters of the ``/case`` commands: what a parameter is, how it is written in
a usage line, and how a value (typed text, a Discord option, a button's argument, a
form field) becomes the value a handler gets. One grammar for every door."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot import identity
from bot.config import Config
from bot.errors import Refusal
from bot.exchange import PersonRef
from bot.keys import normalize_key


class Kind(StrEnum):
    CASE = "case"  # CASE-12 (autocompleted on Discord)
    ENG = "eng"  # ENG-3
    KB = "kb"  # KB-7
    TEXT = "text"  # free text
    CHOICE = "choice"  # one of fixed words (checked by the use case, listed to platforms)
    AREA = "area"  # a configured product area
    RATING = "rating"  # a whole number from 1 to 5
    PERSON = "person"  # a configured person: id, name, mention or a platform user
    IMPACT = "impact"  # a configured business impact (checked by the use case)
    FLAG = "flag"  # a switch: typed ``--public``, a true/false option on Discord


# Control characters (NUL and the C0/C1 set) have no meaning in what people type and
# PostgreSQL refuses NUL in text: they are dropped on the way in. Newlines and tabs stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """User text as the core keeps it: without control characters."""
    return _CONTROL.sub("", text)


KEY_PREFIX = {Kind.CASE: "CASE", Kind.ENG: "ENG", Kind.KB: "KB"}


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind
    describe: str  # one line for people (Discord shows it under the option)
    required: bool = True
    # The rest of a typed line, spacing kept. A missing required rest is "" and the use
    # case answers with its own words ("Nothing to send: …").
    rest: bool = False
    choices: tuple[str, ...] = ()
    placeholder: str = ""  # how the usage line writes it, when not the default
    max_length: int = 3000
    # Typed as ``--name value`` (``--name`` for a flag) anywhere after the command,
    # rather than by position; other platforms give it as a named option.
    option: bool = False

    @property
    def usage(self) -> str:
        if self.option:
            if self.kind == Kind.FLAG:
                return f"[--{self.name}]"
            return f"[--{self.name} <{self.placeholder or self.name}>]"
        if self.placeholder:
            word = self.placeholder
        elif self.kind in KEY_PREFIX:
            return f"{KEY_PREFIX[self.kind]}-n"
        elif self.kind == Kind.CHOICE:
            word = "|".join(self.choices)
        elif self.kind == Kind.RATING:
            word = "1-5"
        else:
            word = self.name
        return f"<{word}>" if self.required else f"[{word}]"

    def coerce(self, value: Any, config: Config, platform: str) -> Any:
        """The value a handler gets; a :class:`Refusal` when it can't be one."""
        if self.kind == Kind.FLAG:
            if value is None or isinstance(value, bool):
                return bool(value)
            return str(value).strip().lower() in ("", "true", "yes", "on", "1")
        if value is None:
            return "" if self.kind in (Kind.TEXT, Kind.CHOICE, Kind.AREA, Kind.IMPACT) else None
        if self.kind == Kind.IMPACT:
            return clean(str(value)).strip().lower()
        if self.kind in KEY_PREFIX:
            return normalize_key(str(value), KEY_PREFIX[self.kind])
        if self.kind == Kind.RATING:
            if isinstance(value, int):
                return value
            text = str(value).strip()
            if not text.lstrip("-").isdigit():
                raise ValueError(text)
            return int(text)
        if self.kind == Kind.PERSON:
            if isinstance(value, PersonRef):
                person = config.person_by_identity(value.platform, value.user_id)
                if person is None:
                    raise Refusal(
                        f"That {value.platform.title()} user isn't anyone casebot knows: "
                        "pick an engineer from the configuration."
                    )
                return person.id
            return identity.resolve_person(config, str(value), platform)
        return clean(str(value)) if self.rest else clean(str(value)).strip()
