"""Four eyes on content: nobody approves a version they authored or edited; an edit keeps the author."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from services.content import catalogue, review
from services.content.catalogue import Actor
from services.runtime.db import alembic_config, make_engine, migrate
from services.runtime.errors import Forbidden
from tests.content.conftest import texts
from tests.support.databases import DATABASE_KINDS, fresh_database_url

AUTHOR = Actor(operator_id="op-ann", role="reviewer")
EDITOR = Actor(operator_id="op-ed", role="reviewer")
THIRD = Actor(operator_id="op-tess", role="reviewer")
SZ_AUTHOR = Actor(operator_id="op-sz-ann", role="reviewer", branch="shenzhen")
SZ_EDITOR = Actor(operator_id="op-sz-ed", role="reviewer", branch="shenzhen")
SZ_THIRD = Actor(operator_id="op-sz-tess", role="reviewer", branch="shenzhen")


def _refused(engine: Engine, actor: Actor, item_id: str) -> None:
    with pytest.raises(Forbidden) as err:
        review.approve_item(engine=engine, actor=actor, item_id=item_id, overrides={})
    assert err.value.reason == "own_work"


@pytest.mark.parametrize(
    ("author", "editor", "third"), [(AUTHOR, EDITOR, THIRD), (SZ_AUTHOR, SZ_EDITOR, SZ_THIRD)]
)
def test_neither_author_nor_editor_approves_every_version(
    engine: Engine, author: Actor, editor: Actor, third: Actor
) -> None:
    item_id = f"notice-{author.branch or 'hq'}"
    catalogue.create_item(
        engine=engine,
        actor=author,
        item_id=item_id,
        type="notice",
        product_category="",
        standard_fallback=True,
        variants={"standard": texts("Branch hours")},
    )
    _, versions = catalogue.edit_item(
        engine=engine, actor=editor, item_id=item_id, variants={"standard": texts("Branch hours v2")}
    )
    assert (versions[0].author_id, versions[0].editor_ids) == (author.operator_id, [editor.operator_id])
    review.submit_item(engine=engine, actor=author, item_id=item_id)
    _refused(engine, author, item_id)
    _refused(engine, editor, item_id)
    review.reject_item(engine=engine, actor=third, item_id=item_id, reason="typo")
    catalogue.edit_item(engine=engine, actor=author, item_id=item_id, variants={"standard": texts("Hours")})
    review.submit_item(engine=engine, actor=editor, item_id=item_id)
    _refused(engine, editor, item_id)
    _refused(engine, author, item_id)
    item, versions = review.approve_item(engine=engine, actor=third, item_id=item_id, overrides={})
    assert (versions[0].reviewer_id, versions[0].editor_ids) == (third.operator_id, [editor.operator_id])
    review.publish_item(engine=engine, actor=author, item_id=item_id)

    # The next version is the editor's own work; the first version's author edits it too.
    catalogue.edit_item(engine=engine, actor=editor, item_id=item_id, variants={"standard": texts("Hours 2")})
    _, versions = catalogue.edit_item(
        engine=engine, actor=author, item_id=item_id, variants={"standard": texts("Hours 3")}
    )
    assert (versions[1].author_id, versions[1].editor_ids) == (editor.operator_id, [author.operator_id])
    review.submit_item(engine=engine, actor=third, item_id=item_id)
    _refused(engine, author, item_id)
    _refused(engine, editor, item_id)
    review.approve_item(engine=engine, actor=third, item_id=item_id, overrides={})


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_migration_recovers_editors_from_the_audit_trail(kind: str, tmp_path: Path) -> None:
    with fresh_database_url(kind, tmp_path) as url:
        _recovers_editors(make_engine(url))


def _recovers_editors(engine: Engine) -> None:
    try:
        with engine.begin() as conn:
            cfg = alembic_config("content")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "aabe2b6c8de4")
            conn.execute(
                sa.text(
                    "INSERT INTO content_item (item_id, type, product_category, standard_fallback,"
                    " owner_branch, published_version, status, created_by, created_at, updated_at) VALUES"
                    " ('old', 'notice', '', :yes, '', 0, 'active', 'op-ann', '2026-01-01', '2026-01-01')"
                ),
                {"yes": True},
            )
            # Before the fix the editor's edit had replaced the author.
            conn.execute(
                sa.text(
                    "INSERT INTO item_version (item_id, version, status, variants, author_id, reviewer_id,"
                    " created_at, updated_at) VALUES ('old', 1, 'in_review', '{}', 'op-ed', '',"
                    " '2026-01-01', '2026-01-01')"
                )
            )
            for action, actor in (("created", "op-ann"), ("edited", "op-ed"), ("edited", "op-ann")):
                conn.execute(
                    sa.text(
                        "INSERT INTO content_audit (entity, entity_id, version, action, actor_id,"
                        " actor_role, actor_branch, reason, details, at) VALUES"
                        " ('item', 'old', 1, :a, :o, 'operator', '', '', '{}', '2026-01-01')"
                    ),
                    {"a": action, "o": actor},
                )
        migrate(engine, "content")
        with pytest.raises(Forbidden):
            review.approve_item(engine=engine, actor=AUTHOR, item_id="old", overrides={})
        with pytest.raises(Forbidden):
            review.approve_item(engine=engine, actor=EDITOR, item_id="old", overrides={})
        review.approve_item(engine=engine, actor=THIRD, item_id="old", overrides={})
    finally:
        engine.dispose()
