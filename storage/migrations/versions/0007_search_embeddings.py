"""knowledge search: embeddings per article section, fingerprint indexes

``kb_chunks`` holds sentence embeddings of article sections (semantic extra). Indexes on
``updated_at`` let search read a table's fingerprint (count, max id, latest change)
without scanning it.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "kb_chunks",
        sa.Column("id", big, primary_key=True, autoincrement=True),
        sa.Column(
            "article_id", big, sa.ForeignKey("kb_articles.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("section", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_kb_chunks_model_article", "kb_chunks", ["model", "article_id"])
    op.create_index("ix_kb_articles_updated_at", "kb_articles", ["updated_at"])
    op.create_index("ix_eng_issues_updated_at", "eng_issues", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_eng_issues_updated_at", "eng_issues")
    op.drop_index("ix_kb_articles_updated_at", "kb_articles")
    op.drop_index("ix_kb_chunks_model_article", "kb_chunks")
    op.drop_table("kb_chunks")
