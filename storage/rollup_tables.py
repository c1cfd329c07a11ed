"""The report rollup's two tables (kept by ``storage.rollup``, read by
``storage.report_fast``).

``report_facts`` holds one narrow row per case: what the reports count of it (its
dimensions, state, the instants as epoch microseconds, the durations in whole seconds,
breaches, rating). It is what the rollup last counted for the case, so a change is
applied as "take the old row out, put the new one in", and it answers percentiles and
the backlog without reading the wide case rows.

``report_days`` holds per-day sums by one dimension (``all``, ``team``, ``area``,
``account``, ``engineer``) and severity: a report over whole days reads a few rows per
day instead of every case. Days are UTC days since 1970-01-01. Its ``fr_b<i>`` and
``res_b<i>`` sums are histograms of the two durations (first response, counted on the
day opened; resolution, on the day resolved) over :data:`BUCKET_EDGES`: a percentile
sums them to find the bucket holding the k-th value, then sorts only the facts inside
it, so it stays exact.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

# Histogram buckets of a duration in whole seconds: bucket i holds
# BUCKET_EDGES[i - 1] <= x < BUCKET_EDGES[i] (bucket 0 everything under a minute, the
# last everything from about a year); steps of a factor of about 1.41.
BUCKET_EDGES = tuple(sorted({round(60 * 2 ** (i / 2)) for i in range(39)}))
BUCKETS = len(BUCKET_EDGES) + 1
FR_BUCKETS = tuple(f"fr_b{i}" for i in range(BUCKETS))
RES_BUCKETS = tuple(f"res_b{i}" for i in range(BUCKETS))

# The sums of a report_days row, in the order storage.rollup counts them.
COUNT_SUMS = (
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
DAY_SUMS = COUNT_SUMS + FR_BUCKETS + RES_BUCKETS


# Each ends with the account, so a filter by account or tier reads the index alone.
FACT_INDEXES = {
    "ix_report_facts_opened": ("opened_us", "fr_secs", "account_key"),
    "ix_report_facts_resolved": ("resolved_us", "res_secs", "assignee_id", "account_key"),
    "ix_report_facts_closed": ("closed_us", "account_key"),
    "ix_report_facts_answer": ("answer_us", "rating", "account_key"),
    "ix_report_facts_state": ("state", "opened_us", "assignee_id", "account_key"),
    "ix_report_facts_deflected": ("deflected", "opened_us", "kb_article_key", "account_key"),
}


class ReportFact(Base):
    __tablename__ = "report_facts"
    __table_args__ = (*(Index(name, *cols) for name, cols in FACT_INDEXES.items()),)
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
    # The histogram buckets (read by name: ``ReportDay.__table__.c["fr_b3"]``).
    for _name in FR_BUCKETS + RES_BUCKETS:
        locals()[_name] = mapped_column(_name, Integer, default=0, nullable=False)
    del _name
