"""the report rollup

One narrow row per case of what the reports count (``report_facts``) and per-day sums by
dimension and severity (``report_days``), filled from the existing cases; from then on
the bot keeps them current in the transaction of each change (``storage.rollup``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SUMS = (
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
FACT_INDEXES = {
    "ix_report_facts_opened": ["opened_us", "fr_secs"],
    "ix_report_facts_resolved": ["resolved_us", "res_secs", "assignee_id"],
    "ix_report_facts_closed": ["closed_us"],
    "ix_report_facts_answer": ["answer_us", "rating"],
    "ix_report_facts_state": ["state", "opened_us", "assignee_id"],
    "ix_report_facts_deflected": ["deflected", "opened_us", "kb_article_key"],
}


def upgrade() -> None:
    op.create_table(
        "report_facts",
        sa.Column(
            "case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(4), nullable=False),
        sa.Column("account_key", sa.String(64), nullable=False),
        sa.Column("assignee_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("deflected", sa.Boolean(), nullable=False),
        sa.Column("kb_article_key", sa.String(32), nullable=True),
        sa.Column("opened_us", sa.BigInteger(), nullable=False),
        sa.Column("fr_secs", sa.BigInteger(), nullable=True),
        sa.Column("fr_breached", sa.Boolean(), nullable=False),
        sa.Column("resolved_us", sa.BigInteger(), nullable=True),
        sa.Column("res_secs", sa.BigInteger(), nullable=True),
        sa.Column("res_breached", sa.Boolean(), nullable=False),
        sa.Column("closed_us", sa.BigInteger(), nullable=True),
        sa.Column("answer_us", sa.BigInteger(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name="pk_report_facts"),
    )
    for name, columns in FACT_INDEXES.items():
        op.create_index(name, "report_facts", columns)
    op.create_table(
        "report_days",
        sa.Column("dim", sa.String(16), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(4), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in SUMS),
        sa.PrimaryKeyConstraint("dim", "value", "day", "severity", name="pk_report_days"),
    )
    # The cases already there (the same code the bot and `casebot reports rebuild` use).
    from storage.rollup import rebuild_sync

    rebuild_sync(op.get_bind(), SUMS)  # 0011 adds more sums and fills them


def downgrade() -> None:
    op.drop_table("report_days")
    for name in FACT_INDEXES:
        op.drop_index(name, "report_facts")
    op.drop_table("report_facts")
