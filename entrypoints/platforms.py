"""The platforms casebot can run, by name. Each is a package under ``adapters/`` with
``configured(env) -> bool`` (its credentials are set) and
``from_env(env, options) -> Platform`` (raising :class:`~bot.ports.PlatformError` with a
one-line reason). The CLI and the worker loop over this table; a new platform is one
entry here and one package there."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Protocol, cast

from bot.ports import Platform, PlatformError, PlatformOptions

# In the order they are started; the console is the fallback when nothing is configured.
PLATFORMS: dict[str, str] = {
    "slack": "adapters.slack",
    "discord": "adapters.discord",
    "email": "adapters.email",
    "console": "adapters.console",
}
FALLBACK = "console"


class PlatformModule(Protocol):
    def configured(self, env: Mapping[str, str]) -> bool: ...

    def from_env(self, env: Mapping[str, str], options: PlatformOptions) -> Platform: ...


def module(name: str) -> PlatformModule:
    if name not in PLATFORMS:
        known = ", ".join(PLATFORMS)
        raise PlatformError(f"unknown platform '{name}' (known: {known})")
    return cast(PlatformModule, importlib.import_module(PLATFORMS[name]))


def wanted(names: Iterable[str], env: Mapping[str, str], *, receive: bool = True) -> list[str]:
    """The platforms asked for, else every configured one (else the console, when
    receiving: a worker with no credentials only fires timers)."""
    asked = [n.strip().lower() for n in names if n.strip()]
    for n in asked:
        module(n)  # refuses an unknown name
    if asked:
        return [n for n in PLATFORMS if n in asked]
    found = [n for n in PLATFORMS if n != FALLBACK and module(n).configured(env)]
    if not found and receive:
        found = [FALLBACK]
    return found


def build(name: str, env: Mapping[str, str], options: PlatformOptions) -> Platform:
    return module(name).from_env(env, options)
