"""inbox

The inbox of acknowledged platform requests (``inbox``: written before the ack, done
once handled and answered; pending rows by lease for the takeover), and the answer a
handled event gave (``processed_events.outcome``), so a request processed again after a
crash answers the same words; on PostgreSQL, case numbers from a sequence
(``casebot_case_numbers``), so opens in many workers no longer take turns.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("delivery", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("delivery", name=op.f("uq_inbox_delivery")),
    )
    op.create_index(op.f("ix_inbox_created_at"), "inbox", ["created_at"])
    op.create_index(
        "ix_inbox_pending_lease",
        "inbox",
        ["lease_until"],
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )
    with op.batch_alter_table("processed_events") as batch:
        batch.add_column(sa.Column("outcome", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Case numbers without a lock (storage/keys.py), carrying on from the counter.
        op.execute("CREATE SEQUENCE casebot_case_numbers OWNED BY counters.value")
        op.execute(
            "SELECT setval('casebot_case_numbers', "
            "COALESCE((SELECT value FROM counters WHERE name = 'CASE'), 0) + 1, false)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The counter carries on from the sequence.
        op.execute(
            "UPDATE counters SET value = (SELECT last_value FROM casebot_case_numbers) "
            "WHERE name = 'CASE' AND (SELECT is_called FROM casebot_case_numbers)"
        )
        op.execute("DROP SEQUENCE casebot_case_numbers")
    with op.batch_alter_table("processed_events") as batch:
        batch.drop_column("outcome")
    op.drop_index("ix_inbox_pending_lease", table_name="inbox")
    op.drop_index(op.f("ix_inbox_created_at"), table_name="inbox")
    op.drop_table("inbox")
