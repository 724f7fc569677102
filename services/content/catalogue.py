"""The content catalogue: items, their versions and variants, and who may touch them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from services.content.audit import record_audit
from services.content.models import ContentItem, ItemVersion
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.editions import EDITIONS
from services.runtime.errors import AlreadyExists, Conflict, Forbidden, InvalidInput, NotFound
from services.runtime.paging import count_rows
from services.runtime.sorting import Sortable

TYPES = ("article", "product_card", "banner", "notice")
PRODUCT_CATEGORIES = ("wealth", "deposit", "loan", "insurance", "card", "fund")
LOCALES = ("zh-Hans", "zh-Hant", "en")
REQUIRED_LOCALES = ("zh-Hans", "en")
ROLES = ("viewer", "operator", "reviewer", "admin")
WORKING = ("draft", "in_review", "approved")
MAX_TITLE, MAX_BODY, MAX_MEDIA, MAX_URI = 200, 5000, 10, 500
_ID = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
_LINK = re.compile(r"^(?!(?:javascript|data|vbscript|file):)[a-z][a-z0-9+.-]{1,20}://[^\s<>\"']{1,480}$")


@dataclass(frozen=True)
class Actor:
    """An operator as the gateway authenticated them; branch '' is head office."""

    operator_id: str
    role: str
    branch: str = ""

    def require(self, role: str) -> None:
        if self.role not in ROLES or ROLES.index(self.role) < ROLES.index(role):
            raise Forbidden("role_required", f"this action needs the {role} role")

    def sees(self, owner_branch: str) -> bool:
        """Head office reads everything; a branch operator only its own branch's objects."""
        return not self.branch or self.branch == owner_branch

    def require_visible(self, owner_branch: str, what: str, object_id: str) -> None:
        """Outside the operator's scope an object is absent, as if it never existed (ids do not leak)."""
        if not self.sees(owner_branch):
            raise NotFound(f"{what}_not_found", f"no {what} {object_id}")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def check_id(value: str, what: str) -> None:
    if not _ID.match(value):
        raise InvalidInput(f"invalid_{what}", f"{what} must be 2-40 lowercase letters, digits, '-' or '_'")


def validate_variants(variants: dict[str, Any]) -> None:
    """Every variant has zh-Hans and en texts, bounded sizes, safe deep links and media references."""
    if "standard" not in variants:
        raise InvalidInput("standard_variant_required", "every item needs a standard variant")
    for edition, variant in variants.items():
        if edition not in EDITIONS:
            raise InvalidInput("invalid_edition", f"unknown edition {edition}")
        texts = variant.get("texts", {})
        if unknown := set(texts) - set(LOCALES):
            raise InvalidInput("invalid_locale", f"unknown locales: {', '.join(sorted(unknown))}")
        if missing := [loc for loc in REQUIRED_LOCALES if loc not in texts]:
            raise InvalidInput("locale_required", f"variant {edition} lacks texts in {', '.join(missing)}")
        for locale, text in texts.items():
            if (
                not 1 <= len(text.get("title", "").strip()) <= MAX_TITLE
                or len(text.get("body", "")) > MAX_BODY
            ):
                raise InvalidInput(
                    "invalid_text", f"variant {edition}/{locale}: title 1-{MAX_TITLE}, body <= {MAX_BODY}"
                )
        link = variant.get("deep_link", "")
        if link and not _LINK.match(link):
            raise InvalidInput("invalid_deep_link", f"variant {edition}: deep link must be scheme://target")
        media = variant.get("media", [])
        if len(media) > MAX_MEDIA:
            raise InvalidInput("too_many_media", f"at most {MAX_MEDIA} media references per variant")
        for ref in media:
            if ref.get("kind") not in ("image", "video") or not _LINK.match(ref.get("uri", "")):
                raise InvalidInput(
                    "invalid_media", f"variant {edition}: media needs kind image|video and a uri"
                )


def get_item_in(session: Session, item_id: str, *, for_update: bool = False) -> ContentItem:
    stmt = select(ContentItem).where(ContentItem.item_id == item_id)
    item = session.exec(stmt.with_for_update() if for_update else stmt).first()
    if item is None:
        raise NotFound("item_not_found", f"no item {item_id}")
    return item


def versions_of(session: Session, item_id: str) -> list[ItemVersion]:
    stmt = select(ItemVersion).where(ItemVersion.item_id == item_id).order_by(col(ItemVersion.version))
    return list(session.exec(stmt))


def working_version(versions: list[ItemVersion]) -> ItemVersion | None:
    """The one version being drafted, reviewed or waiting to be published, if any."""
    return next((v for v in versions if v.status in WORKING), None)


def create_item(
    *,
    engine: Engine,
    actor: Actor,
    item_id: str,
    type: str,
    product_category: str,
    standard_fallback: bool,
    variants: dict[str, Any],
) -> tuple[ContentItem, list[ItemVersion]]:
    """Create an item with a first draft version; a branch operator's item belongs to its branch."""
    actor.require("operator")
    item_id = item_id or new_id("item")
    check_id(item_id, "item_id")
    if type not in TYPES:
        raise InvalidInput("invalid_type", f"type must be one of {', '.join(TYPES)}")
    if product_category and (type != "product_card" or product_category not in PRODUCT_CATEGORIES):
        raise InvalidInput("invalid_product_category", "only product cards have a product category")
    validate_variants(variants)
    item = ContentItem(
        item_id=item_id,
        type=type,
        product_category=product_category,
        standard_fallback=standard_fallback,
        owner_branch=actor.branch,
        created_by=actor.operator_id,
    )
    draft = ItemVersion(
        item_id=item_id, version=1, status="draft", variants=variants, author_id=actor.operator_id
    )
    with transaction(engine) as session:
        if session.get(ContentItem, item_id) is not None:
            raise AlreadyExists("item_exists", f"item {item_id} exists")
        session.add(item)
        session.flush()
        session.add(draft)
        record_audit(session, actor=actor, entity="item", entity_id=item_id, version=1, action="created")
    return item, [draft]


def edit_item(
    *, engine: Engine, actor: Actor, item_id: str, variants: dict[str, Any], reason: str = ""
) -> tuple[ContentItem, list[ItemVersion]]:
    """Change the draft; on a published item open a new draft while the published one stays served."""
    actor.require("operator")
    validate_variants(variants)
    with transaction(engine) as session:
        item = get_item_in(session, item_id, for_update=True)
        actor.require_visible(item.owner_branch, "item", item_id)
        if item.status == "archived":
            raise Conflict("item_archived", "an archived item cannot be edited")
        versions = versions_of(session, item_id)
        draft = working_version(versions)
        if draft is not None and draft.status != "draft":
            raise Conflict("not_editable", f"version {draft.version} is {draft.status}; reject it to edit")
        if draft is None:
            draft = ItemVersion(
                item_id=item_id,
                version=versions[-1].version + 1,
                status="draft",
                variants=variants,
                author_id=actor.operator_id,
            )
            versions.append(draft)
        if not draft.worked_on_by(actor.operator_id):
            draft.editor_ids = [*draft.editor_ids, actor.operator_id]
        draft.variants, draft.updated_at = variants, utcnow()
        session.add(draft)
        item.updated_at = utcnow()
        session.add(item)
        record_audit(
            session,
            actor=actor,
            entity="item",
            entity_id=item_id,
            version=draft.version,
            action="edited",
            reason=reason,
        )
    return item, versions


def get_item(*, engine: Engine, actor: Actor, item_id: str) -> tuple[ContentItem, list[ItemVersion]]:
    """One item with its versions; another branch's item is absent (404), not forbidden."""
    actor.require("viewer")
    with read_session(engine) as session:
        item = get_item_in(session, item_id)
        actor.require_visible(item.owner_branch, "item", item_id)
        return item, versions_of(session, item_id)


ITEM_ORDER = Sortable.of(ContentItem, "item_id", "type", "status", "created_at", "updated_at")


def list_items(
    *,
    engine: Engine,
    actor: Actor,
    limit: int,
    after: str = "",
    status: str = "",
    stage: str = "",
    sort: str = "",
) -> list[ContentItem]:
    """A page of the items the operator may see, by id or by `sort` (ITEM_ORDER); `stage` filters."""
    actor.require("viewer")
    if stage and stage not in WORKING:
        raise InvalidInput("invalid_stage", f"stage is one of {', '.join(WORKING)}")
    with read_session(engine) as session:
        stmt = ITEM_ORDER.apply(select(ContentItem), sort=sort, token=after)
        if actor.branch:
            stmt = stmt.where(ContentItem.owner_branch == actor.branch)
        if status:
            stmt = stmt.where(ContentItem.status == status)
        if stage:
            staged = select(ItemVersion.item_id).where(ItemVersion.status == stage)
            stmt = stmt.where(col(ContentItem.item_id).in_(staged))
        return list(session.exec(stmt.limit(limit)))


# the review queue: by item id, or by submitted_at, when the version in review was written
REVIEW_ORDER = Sortable(key=col(ItemVersion.item_id), fields={"submitted_at": col(ItemVersion.created_at)})


def review_queue(
    *,
    engine: Engine,
    actor: Actor,
    limit: int,
    after: str = "",
    sort: str = "",
    start: tuple[datetime, str] | None = None,
) -> list[tuple[ContentItem, ItemVersion]]:
    """Items in the operator's scope with a version in review, each with that version: one read, by
    item id or by `sort` (REVIEW_ORDER) after the token or the `start` position."""
    with read_session(engine) as session:
        stmt = REVIEW_ORDER.apply(_in_review(actor), sort=sort, token=after, start=start)
        return list(session.exec(stmt.limit(limit)))


def review_queue_length(*, engine: Engine, actor: Actor) -> int:
    """How many entries `review_queue` holds for the operator: one COUNT of the same rows."""
    with read_session(engine) as session:
        return count_rows(session, _in_review(actor))


def _in_review(actor: Actor) -> Select[ContentItem, ItemVersion]:
    actor.require("viewer")
    stmt = (
        select(ContentItem, ItemVersion)
        .join(ItemVersion, col(ItemVersion.item_id) == col(ContentItem.item_id))
        .where(ItemVersion.status == "in_review")
    )
    if actor.branch:
        stmt = stmt.where(ContentItem.owner_branch == actor.branch)
    return stmt
