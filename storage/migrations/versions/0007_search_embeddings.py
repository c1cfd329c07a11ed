"""knowledge search: embeddings per article section, fingerprint indexes

``kb_chunks`` holds sentence embeddings of article sections (semantic extra). Indexes on
``updated_at`` let search read a table's fingerprint (max id, latest change) without a
scan. On PostgreSQL the weighted ``tsvector`` becomes a stored generated column
(``search_fts``, GIN-indexed) in place of 0002's expression indexes: ranking a candidate
then reads the vector instead of parsing the article again.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# Copied from 0002 on purpose (a migration must not change when application code does).
PG_KB_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(symptoms, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(tags::text, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(resolution, '')), 'C') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(cause, '')), 'D')"
)
PG_ENG_VECTOR = "to_tsvector('english'::regconfig, coalesce(title, ''))"


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
    if op.get_bind().dialect.name == "postgresql":
        for table, vector in (("kb_articles", PG_KB_VECTOR), ("eng_issues", PG_ENG_VECTOR)):
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_fts")
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN search_fts tsvector "
                f"GENERATED ALWAYS AS ({vector}) STORED"
            )
            # No pending list: articles change rarely, searches must never scan one.
            op.execute(
                f"CREATE INDEX ix_{table}_search_fts ON {table} USING gin (search_fts) "
                "WITH (fastupdate = off)"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, vector in (("kb_articles", PG_KB_VECTOR), ("eng_issues", PG_ENG_VECTOR)):
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_fts")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_fts")
            op.execute(f"CREATE INDEX ix_{table}_fts ON {table} USING gin (({vector}))")
    op.drop_index("ix_eng_issues_updated_at", "eng_issues")
    op.drop_index("ix_kb_articles_updated_at", "kb_articles")
    op.drop_index("ix_kb_chunks_model_article", "kb_chunks")
    op.drop_table("kb_chunks")
