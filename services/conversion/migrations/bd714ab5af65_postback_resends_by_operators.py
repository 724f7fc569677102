"""postback resends by operators

Revision ID: bd714ab5af65
Revises: 335e573ad2d2
Create Date: 2026-11-28 21:52:32.593865
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "bd714ab5af65"
down_revision: str | None = "335e573ad2d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postback_resend",
        sa.Column("resend_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("campaign_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("branch", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("operator_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("previous_attempts", sa.Integer(), nullable=False),
        sa.Column("previous_status_code", sa.Integer(), nullable=False),
        sa.Column("previous_error", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resend_id"),
    )
    with op.batch_alter_table("postback_resend", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postback_resend_delivery_id"), ["delivery_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("postback_resend", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postback_resend_delivery_id"))

    op.drop_table("postback_resend")
