"""What customers are shown: the one owner of the customer's view of a case and of an
engineering issue, and of the words they read for an engineering status.

Staff see every field as it is stored. Customers see their case's state, severity,
area, impact and engineer, and an engineering issue's status in their own words; they
never see an account tier, an engineering priority score, a service-level target or
breach, or an engineer's ``eng status`` note unless the engineer marked it public.
Templates and views ask :func:`shown_to_customers` and :func:`eng_status_words` instead
of deciding for themselves.
"""

from __future__ import annotations

from enum import StrEnum

from bot.terms import EngStatus


class Detail(StrEnum):
    ACCOUNT = "account"
    TIER = "tier"
    SEVERITY = "severity"
    AREA = "area"
    STATE = "state"
    ENGINEER = "engineer"
    IMPACT = "impact"
    ENG_STATUS = "eng_status"  # in the customer's words (eng_status_words)
    ENG_PRIORITY = "eng_priority"
    SLA = "sla"
    ENG_NOTE = "eng_note"  # only when the engineer marks it public


CUSTOMERS_SEE: dict[Detail, bool] = {
    Detail.ACCOUNT: True,
    Detail.TIER: False,
    Detail.SEVERITY: True,
    Detail.AREA: True,
    Detail.STATE: True,
    Detail.ENGINEER: True,
    Detail.IMPACT: True,
    Detail.ENG_STATUS: True,
    Detail.ENG_PRIORITY: False,
    Detail.SLA: False,
    Detail.ENG_NOTE: False,
}

# An engineering status as a customer reads it.
ENG_STATUS_WORDS: dict[str, str] = {
    EngStatus.OPEN: "logged with our engineers",
    EngStatus.IN_PROGRESS: "being worked on",
    EngStatus.FIXED: "fixed, waiting for release",
    EngStatus.RELEASED: "fixed and released",
    EngStatus.WONT_FIX: "not planned to change",
}


def shown_to_customers(detail: Detail) -> bool:
    return CUSTOMERS_SEE[detail]


def eng_status_words(status: str) -> str:
    """``in_progress`` as a customer reads it (``being worked on``)."""
    return ENG_STATUS_WORDS.get(status, status.replace("_", " "))


def public_note(note: str, public: bool) -> str:
    """The part of an engineer's status note customers may read: all of it when marked
    public, else nothing."""
    return note if public or shown_to_customers(Detail.ENG_NOTE) else ""
