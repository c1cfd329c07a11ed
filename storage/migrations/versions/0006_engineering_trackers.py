"""engineering trackers

Where each ENG issue lives in the team's tracker (GitHub Issues, Jira) and what casebot
last pushed to it: ``eng_tracker_links``.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eng_tracker_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("eng_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("remote_state", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.String(length=200), nullable=False),
        sa.Column("labels_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("labels_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["eng_id"], ["eng_issues.id"], name="fk_eng_tracker_links_eng_id_eng_issues"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_eng_tracker_links"),
        sa.UniqueConstraint("eng_id", name="uq_eng_tracker_links_eng_id"),
        sa.UniqueConstraint("ref", name="uq_eng_tracker_links_ref"),
    )


def downgrade() -> None:
    op.drop_table("eng_tracker_links")
