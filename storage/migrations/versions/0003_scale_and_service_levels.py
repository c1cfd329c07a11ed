"""scale out and service levels

Service-level clocks on cases (``sla_paused_at``, ``sla_basis``), a restartable retry
horizon on the outbox (``requeued_at``), and partial indexes that keep claiming due
work as cheap with a million rows as with ten: pending timers by due time, running
timers and sending notifications by lease, pending notifications by next attempt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (name, table, columns, where): partial indexes, the same on SQLite and PostgreSQL.
INDEXES = (
    ("ix_timers_pending_due", "timers", ["due_at", "id"], "state = 'pending'"),
    ("ix_timers_running_lease", "timers", ["lease_until"], "state = 'running'"),
    ("ix_outbox_pending_due", "outbox", ["next_attempt_at", "id"], "state = 'pending'"),
    ("ix_outbox_sending_lease", "outbox", ["lease_until"], "state = 'sending'"),
)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("sla_paused_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sla_basis", sa.String(length=64), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("requeued_at", sa.DateTime(timezone=True), nullable=True))
    for name, table, columns, where in INDEXES:
        op.create_index(
            name, table, columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
        )


def downgrade() -> None:
    for name, table, _, _ in INDEXES:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("requeued_at")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("sla_basis")
        batch.drop_column("sla_paused_at")
