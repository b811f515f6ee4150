"""access keys: S3 key ids with vault-sealed secrets, each acting as a child token

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_keys",
        sa.Column("id", sa.String(length=20), primary_key=True),
        sa.Column(
            "org_id", sa.String(length=36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("user_id", sa.String(length=36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_id", sa.String(length=36), sa.ForeignKey("tokens.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_access_keys_org_id", "access_keys", ["org_id"])
    op.create_index("ix_access_keys_user_id", "access_keys", ["user_id"])
    op.create_index("ix_access_keys_token_id", "access_keys", ["token_id"])


def downgrade() -> None:
    op.drop_index("ix_access_keys_token_id", table_name="access_keys")
    op.drop_index("ix_access_keys_user_id", table_name="access_keys")
    op.drop_index("ix_access_keys_org_id", table_name="access_keys")
    op.drop_table("access_keys")
