"""The `/case` command set: parsing, permissions and dispatch into the core."""

from __future__ import annotations

from typing import Any

__all__ = ["CaseCommands"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing commands.api never pulls in the whole core.
    if name == "CaseCommands":
        from commands.router import CaseCommands

        return CaseCommands
    raise AttributeError(name)
