"""relevance search indexes

SQLite gets FTS5 external-content tables kept in sync by triggers (the rows live once, in
the real tables); PostgreSQL gets GIN indexes on the exact ``to_tsvector`` expressions
``storage/search.py`` queries, so the planner can use them. The expressions are copied
here on purpose: a migration must not change when application code does.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 17:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KB_COLUMNS = ("title", "symptoms", "cause", "resolution", "tags")
ENG_COLUMNS = ("title",)

# Must stay byte-identical to storage/search.py (PG_KB_VECTOR, PG_ENG_VECTOR).
PG_KB_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(symptoms, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(tags::text, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(resolution, '')), 'C') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(cause, '')), 'D')"
)
PG_ENG_VECTOR = "to_tsvector('english'::regconfig, coalesce(title, ''))"


def _sqlite_fts(table: str, columns: tuple[str, ...]) -> list[str]:
    """The standard external-content recipe: an update is a 'delete' of the old values
    followed by an insert of the new ones, so the index never holds stale tokens."""
    fts = f"{table}_fts"
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    delete_old = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    insert_new = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', "
        f"content_rowid='id', tokenize='porter unicode61')",
        f"CREATE TRIGGER {table}_fts_ai AFTER INSERT ON {table} BEGIN {insert_new} END",
        f"CREATE TRIGGER {table}_fts_ad AFTER DELETE ON {table} BEGIN {delete_old} END",
        f"CREATE TRIGGER {table}_fts_au AFTER UPDATE ON {table} BEGIN "
        f"{delete_old} {insert_new} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _sqlite_fts("kb_articles", KB_COLUMNS) + _sqlite_fts(
            "eng_issues", ENG_COLUMNS
        ):
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_kb_articles_fts ON kb_articles USING gin (({PG_KB_VECTOR}))")
        op.execute(f"CREATE INDEX ix_eng_issues_fts ON eng_issues USING gin (({PG_ENG_VECTOR}))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in ("kb_articles", "eng_issues"):
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_eng_issues_fts")
        op.execute("DROP INDEX IF EXISTS ix_kb_articles_fts")
