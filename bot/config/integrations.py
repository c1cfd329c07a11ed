"""Configuration sections for the integrations: the engineering tracker (``tracker:``)
and knowledge search (``search:``). Kept apart from :mod:`bot.config.sections` so each
module stays readable; they share its base model and error helper."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bot.config.sections import Id, _invalid, _Model
from bot.durations import Duration, parse_duration

# The casebot statuses a tracker's own states may map to (bot.terms.EngStatus).
EngStatusWord = Literal["open", "in_progress", "fixed", "released", "wont_fix"]


def _jira_statuses() -> dict[str, EngStatusWord]:
    return {"To Do": "open", "In Progress": "in_progress", "Done": "fixed"}


class Tracker(_Model):
    """The team's issue tracker that ENG issues are mirrored in (``tracker:``).

    ``{kind: github, repo: owner/name}`` or ``{kind: jira, url: https://….atlassian.net,
    project: KEY, issue_type: Bug}``; secrets come from the environment only.
    ``statuses`` maps the tracker's words to casebot's statuses: Jira status names, or
    GitHub labels (closing and reopening need no mapping)."""

    kind: Literal["github", "jira"]
    repo: str | None = None
    url: str | None = None
    project: str | None = None
    issue_type: str = "Bug"
    statuses: dict[str, EngStatusWord] = Field(default_factory=dict)
    share_customer_text: bool = False
    # Post GitHub issue comments / Jira comments to the engineering team's channel.
    comments: bool = False
    # Push priority by impact as labels (impact:12, customers:3); Jira may use a field.
    impact_labels: bool = True
    impact_field: str | None = None
    impact_every: Duration = parse_duration("1m")
    reconcile_every: Duration = parse_duration("15m")

    @field_validator("repo")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\w.-]+/[\w.-]+", value.strip()):
            raise _invalid(f"'{value}' is not a GitHub repository (write it owner/name)")
        return value.strip() if value else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", value.strip()):
            raise _invalid(f"'{value}' is not a URL (e.g. https://yourteam.atlassian.net)")
        return value.strip().rstrip("/") if value else value

    @field_validator("project")
    @classmethod
    def _project(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Z][A-Z0-9_]+", value.strip()):
            raise _invalid(f"'{value}' is not a Jira project key (capitals, e.g. ENGX)")
        return value.strip() if value else value

    @model_validator(mode="after")
    def _complete(self) -> Tracker:
        if self.kind == "github" and not self.repo:
            raise _invalid("a GitHub tracker needs 'repo: owner/name'")
        if self.kind == "jira" and not (self.url and self.project):
            raise _invalid("a Jira tracker needs 'url: https://….atlassian.net' and 'project: KEY'")
        if self.kind == "jira" and not self.statuses:
            self.statuses = _jira_statuses()
        return self


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
