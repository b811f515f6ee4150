"""job templates of organizations; jobs remember their template and the dataSource objects as sent

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_templates",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("app_params", sa.JSON(), nullable=False),
        sa.Column("partitioner", sa.String(length=32), nullable=False),
        sa.Column("partitioner_params", sa.JSON(), nullable=False),
        sa.Column("assembler", sa.String(length=32), nullable=False),
        sa.Column("assembler_params", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("template_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("sent_objects", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("sent_objects")
        batch.drop_column("template_id")
    op.drop_table("job_templates")
