"""reports and the dashboard

Indexes the reports select cases by (opened, resolved, closed) and the spent
nonces of the dashboard's single-use links.

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# name -> columns: the first column selects by time, the rest let the unfiltered report
# figures come from the index alone (storage/reports.py).
CASE_INDEXES = {
    "ix_cases_created_at": [
        "created_at",
        "first_response_at",
        "resolved_at",
        "severity",
        "close_reason",
        "kb_article_key",
    ],
    "ix_cases_resolved_at": ["resolved_at", "created_at", "assignee_id"],
    "ix_cases_closed_at": ["closed_at"],
    "ix_cases_state_created_at": ["state", "created_at", "assignee_id"],
}


def upgrade() -> None:
    for name, columns in CASE_INDEXES.items():
        op.create_index(name, "cases", columns)
    op.create_table(
        "spent_links",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name="pk_spent_links"),
    )
    op.create_index("ix_spent_links_at", "spent_links", ["at"])


def downgrade() -> None:
    op.drop_index("ix_spent_links_at", "spent_links")
    op.drop_table("spent_links")
    for name in CASE_INDEXES:
        op.drop_index(name, "cases")
