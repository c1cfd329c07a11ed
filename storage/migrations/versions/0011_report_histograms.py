"""report histograms and indexes that hold the account

Per-day histogram buckets of both durations in ``report_days`` (``fr_b<i>``,
``res_b<i>``), so a percentile sorts only the facts of the bucket holding it; and the
fact indexes end with the account, so a filter by account or tier reads the index
alone. The rollup is rebuilt from the cases to fill the buckets (``storage.rollup``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BUCKETS = 40
NAMES = [f"{m}_b{i}" for m in ("fr", "res") for i in range(BUCKETS)]
SUMS = (
    *("opened", "resolved", "closed", "deflected", "fr_ok", "fr_breached", "res_ok"),
    *("res_breached", "answered", "rated_1", "rated_2", "rated_3", "rated_4", "rated_5"),
    *NAMES,
)
OLD_INDEXES = {
    "ix_report_facts_opened": ["opened_us", "fr_secs"],
    "ix_report_facts_resolved": ["resolved_us", "res_secs", "assignee_id"],
    "ix_report_facts_closed": ["closed_us"],
    "ix_report_facts_answer": ["answer_us", "rating"],
    "ix_report_facts_state": ["state", "opened_us", "assignee_id"],
    "ix_report_facts_deflected": ["deflected", "opened_us", "kb_article_key"],
}


def _indexes(account: bool) -> None:
    for name, columns in OLD_INDEXES.items():
        op.drop_index(name, "report_facts")
        op.create_index(name, "report_facts", columns + (["account_key"] if account else []))


def upgrade() -> None:
    for name in NAMES:
        op.add_column(
            "report_days", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )
    _indexes(account=True)
    # Fills the buckets for the cases already there (the code `casebot reports rebuild`
    # runs), with the sums this revision has.
    from storage.rollup import rebuild_sync

    rebuild_sync(op.get_bind(), SUMS)


def downgrade() -> None:
    _indexes(account=False)
    with op.batch_alter_table("report_days") as batch:
        for name in NAMES:
            batch.drop_column(name)
