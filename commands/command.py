"""One ``/case`` subcommand as the command table (:mod:`commands.table`) lists it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.policy import Deed
from commands.handlers import Handler
from commands.params import Param


@dataclass(frozen=True)
class Command:
    name: str  # "claim", or "group sub" ("eng status")
    deed: Deed
    does: str  # the help line
    params: tuple[Param, ...]
    handler: Handler
    reads_only: bool = False  # no de-duplication, no case lock
    hidden: bool = False  # reached by buttons and forms only (not in help, not typed)
    section: str | None = None  # the group a platform with limits files it under

    @property
    def group(self) -> str | None:
        return self.name.split(" ", 1)[0] if " " in self.name else None

    @property
    def word(self) -> str:
        """The last word of the name: the subcommand within its group."""
        return self.name.rsplit(" ", 1)[-1]

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(p.usage for p in self.params)])

    def path(self, sectioned: bool = False) -> str:
        """The words after ``/case`` that name it: ``defect`` typed, ``eng defect`` on a
        platform that files commands under their section (Discord's command tree)."""
        if sectioned and self.group is None and self.section is not None:
            return f"{self.section} {self.name}"
        return self.name

    def usage_as(self, sectioned: bool = False) -> str:
        """The usage line as people on that platform type it."""
        return " ".join([self.path(sectioned), *(p.usage for p in self.params)])

    @property
    def fixed(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.rest and not p.option)

    @property
    def options(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.option)

    @property
    def rest(self) -> Param | None:
        return next((p for p in self.params if p.rest), None)
