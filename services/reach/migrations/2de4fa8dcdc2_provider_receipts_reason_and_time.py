"""provider receipts: reason and time

Revision ID: 2de4fa8dcdc2
Revises: cbcea0a5c868
Create Date: 2026-11-28 21:47:57.735959
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "2de4fa8dcdc2"
down_revision: str | None = "cbcea0a5c868"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("provider_delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "receipt_reason",
                sqlmodel.sql.sqltypes.AutoString(length=60),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("receipt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provider_delivery", schema=None) as batch_op:
        batch_op.drop_column("receipt_at")
        batch_op.drop_column("receipt_reason")
