"""The words of the domain that are not states or roles: severities, the statuses of an
engineering issue and of an article. One owner; everything else asks it."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    S1 = "S1"  # the highest
    S2 = "S2"
    S3 = "S3"
    S4 = "S4"


SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
HIGHEST = Severity.S1


def raise_severity(severity: str) -> str:
    """One level up (S3 → S2); S1 stays S1."""
    i = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES) - 1
    return SEVERITIES[max(i - 1, 0)]


class EngStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    FIXED = "fixed"
    RELEASED = "released"
    WONT_FIX = "wont_fix"


ENG_STATUSES: tuple[str, ...] = tuple(s.value for s in EngStatus)
OPEN_ENG_STATUSES: tuple[str, ...] = (EngStatus.OPEN.value, EngStatus.IN_PROGRESS.value)
DONE_ENG_STATUSES: tuple[str, ...] = (
    EngStatus.FIXED.value,
    EngStatus.RELEASED.value,
    EngStatus.WONT_FIX.value,
)


class ArticleStatus(StrEnum):
    PUBLISHED = "published"
    DRAFT = "draft"
    DISCARDED = "discarded"


ARTICLE_STATUSES: tuple[str, ...] = tuple(s.value for s in ArticleStatus)
