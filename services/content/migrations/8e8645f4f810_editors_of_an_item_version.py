"""editors of an item version

Revision ID: 8e8645f4f810
Revises: aabe2b6c8de4
Create Date: 2026-11-28 20:52:21.659250
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8e8645f4f810"
down_revision: str | None = "aabe2b6c8de4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("editor_ids", sa.JSON(), server_default="[]", nullable=False))
    # Before this revision an edit overwrote the author; the audit trail still knows who touched what.
    bind = op.get_bind()
    versions = sa.table(
        "item_version", sa.column("item_id"), sa.column("version"), sa.column("editor_ids", sa.JSON)
    )
    touched: dict[tuple[str, int], list[str]] = {}
    for entity_id, version, actor_id in bind.execute(
        sa.text(
            "SELECT entity_id, version, actor_id FROM content_audit "
            "WHERE entity = 'item' AND action IN ('created', 'edited') ORDER BY id"
        )
    ):
        actors = touched.setdefault((entity_id, version), [])
        if actor_id not in actors:
            actors.append(actor_id)
    for item_id, version, author_id in bind.execute(
        sa.text("SELECT item_id, version, author_id FROM item_version")
    ).all():
        editors = [a for a in touched.get((item_id, version), []) if a != author_id]
        if editors:
            bind.execute(
                versions.update()
                .where(versions.c.item_id == item_id, versions.c.version == version)
                .values(editor_ids=editors)
            )


def downgrade() -> None:
    with op.batch_alter_table("item_version", schema=None) as batch_op:
        batch_op.drop_column("editor_ids")
