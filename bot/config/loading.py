"""Reading the casebot configuration: YAML (noting duplicated keys), validation into a
:class:`~bot.config.schema.Config`, and where the file is found.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config.checks import (
    _article,
    _cross_check,
    _Parts,
    _pydantic_errors,
    _unknown_keys,
)
from bot.config.coverage import coverage_warnings
from bot.config.safety import safety_checks
from bot.config.schema import Config

DEFAULT_CONFIG_PATH = "examples/casebot.yml"


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
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise ConfigError([_unreadable(text, exc)], source) from None
    try:
        return loader.get_single_data(), loader.duplicates
    except yaml.reader.ReaderError as exc:
        raise ConfigError([_unreadable(text, exc)], source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = exc.problem or exc.context or "syntax error"
        raise ConfigError([f"{where}not valid YAML: {what}"], source) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], source) from None
    finally:
        loader.dispose()


def _unreadable(text: str, exc: yaml.reader.ReaderError) -> str:
    """A character YAML may not hold (NUL, a control character), by line and column."""
    before = text[: max(exc.position, 0)]
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, str) else chr(int(exc.character or 0))
    return (
        f"line {line}, column {column}: the character {ord(char):#04x} is not allowed in a "
        "configuration file (a control character or NUL; remove it)"
    )


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
    safety_errors, safety_warnings = safety_checks(config)
    cross_errors += safety_errors
    warnings += cross_warnings + safety_warnings + coverage_warnings(config)
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
