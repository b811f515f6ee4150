"""change stamps: per-organization change counters and row versions of sources and secrets

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_stamps",
        sa.Column("org_id", sa.String(length=36), primary_key=True),
        sa.Column("auth", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("data", sa.BigInteger(), nullable=False, server_default="0"),
    )
    for table in ("sources", "secrets"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    for table in ("sources", "secrets"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
    op.drop_table("org_stamps")
