"""The report rollup's two tables (kept by ``storage.rollup``, read by
``storage.report_fast``).

``report_facts`` holds one narrow row per case: what the reports count of it (its
dimensions, state, the instants as epoch microseconds, the durations in whole seconds,
breaches, rating). It is what the rollup last counted for the case, so a change is
applied as "take the old row out, put the new one in", and it answers percentiles and
the backlog without reading the wide case rows.

``report_days`` holds per-day sums by one dimension (``all``, ``team``, ``area``,
``account``, ``engineer``) and severity: a report over whole days reads a few rows per
day instead of every case. Days are UTC days since 1970-01-01.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

# The sums of a report_days row, in the order storage.rollup counts them.
DAY_SUMS = (
    "opened",
    "resolved",
    "closed",
    "deflected",
    "fr_ok",
    "fr_breached",
    "res_ok",
    "res_breached",
    "answered",
    "rated_1",
    "rated_2",
    "rated_3",
    "rated_4",
    "rated_5",
)


class ReportFact(Base):
    __tablename__ = "report_facts"
    __table_args__ = (
        Index("ix_report_facts_opened", "opened_us", "fr_secs"),
        Index("ix_report_facts_resolved", "resolved_us", "res_secs", "assignee_id"),
        Index("ix_report_facts_closed", "closed_us"),
        Index("ix_report_facts_answer", "answer_us", "rating"),
        Index("ix_report_facts_state", "state", "opened_us", "assignee_id"),
        Index("ix_report_facts_deflected", "deflected", "opened_us", "kb_article_key"),
    )
    # The rowid itself on SQLite (INTEGER PRIMARY KEY), so a filtered read that leaves
    # an index reaches the row in one step.
    case_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    team: Mapped[str] = mapped_column(String(64), default="")
    area: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(4))
    account_key: Mapped[str] = mapped_column(String(64))
    assignee_id: Mapped[str] = mapped_column(String(128), default="")
    state: Mapped[str] = mapped_column(String(32))
    deflected: Mapped[bool] = mapped_column(Boolean, default=False)
    kb_article_key: Mapped[str | None] = mapped_column(String(32))
    opened_us: Mapped[int] = mapped_column(BigInteger)
    fr_secs: Mapped[int | None] = mapped_column(BigInteger)
    fr_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_us: Mapped[int | None] = mapped_column(BigInteger)
    res_secs: Mapped[int | None] = mapped_column(BigInteger)
    res_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_us: Mapped[int | None] = mapped_column(BigInteger)
    answer_us: Mapped[int | None] = mapped_column(BigInteger)
    rating: Mapped[int | None] = mapped_column(Integer)


class ReportDay(Base):
    __tablename__ = "report_days"
    dim: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    severity: Mapped[str] = mapped_column(String(4), primary_key=True)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    deflected: Mapped[int] = mapped_column(Integer, default=0)
    fr_ok: Mapped[int] = mapped_column(Integer, default=0)
    fr_breached: Mapped[int] = mapped_column(Integer, default=0)
    res_ok: Mapped[int] = mapped_column(Integer, default=0)
    res_breached: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    rated_1: Mapped[int] = mapped_column(Integer, default=0)
    rated_2: Mapped[int] = mapped_column(Integer, default=0)
    rated_3: Mapped[int] = mapped_column(Integer, default=0)
    rated_4: Mapped[int] = mapped_column(Integer, default=0)
    rated_5: Mapped[int] = mapped_column(Integer, default=0)
