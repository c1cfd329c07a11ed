"""email attachments and held mail

The attachments casebot keeps of inbound mail, and the mail of unknown senders held
for the lead (``email.unknown_senders: queue``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "email_attachments",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("mail_key", sa.String(length=200), nullable=False),
        sa.Column("case_key", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_email_attachments"),
    )
    op.create_index("ix_email_attachments_mail_key", "email_attachments", ["mail_key"])
    op.create_index("ix_email_attachments_case_key", "email_attachments", ["case_key"])
    op.create_table(
        "email_held",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("mail_key", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("account_key", sa.String(length=64), nullable=True),
        sa.Column("case_key", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_email_held"),
        sa.UniqueConstraint("mail_key", name="uq_email_held_mail_key"),
    )
    op.create_index("ix_email_held_sender", "email_held", ["sender"])


def downgrade() -> None:
    op.drop_table("email_held")
    op.drop_table("email_attachments")
