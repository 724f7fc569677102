"""The review workflow: draft -> in review -> approved -> published -> archived, with rollback."""

from __future__ import annotations

from typing import Any

from lattice.content.v1 import events_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.content.audit import record_audit
from services.content.catalogue import Actor, get_item_in, versions_of, working_version
from services.content.models import ContentItem, ItemVersion
from services.runtime.clock import to_timestamp, utcnow
from services.runtime.compliance import Finding, Passage, check_passages, unresolved
from services.runtime.db import transaction
from services.runtime.errors import Conflict, Forbidden, InvalidInput, NotFound, Rejected
from services.runtime.outbox import record_event

ITEM_PUBLISHED = "content.item.published"
FIELDS = ("title", "body")
ITEM_ARCHIVED = "content.item.archived"
Result = tuple[ContentItem, list[ItemVersion]]


class ComplianceBlocked(Rejected):
    """An approval refused: `findings` are the blocking hits that no override resolves."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("compliance_violation", "; ".join(f.describe() for f in findings))
        self.findings = findings


def _open(session: Session, actor: Actor, item_id: str, role: str) -> tuple[ContentItem, list[ItemVersion]]:
    actor.require(role)
    item = get_item_in(session, item_id, for_update=True)
    actor.require_visible(item.owner_branch, "item", item_id)
    if item.status == "archived":
        raise Conflict("item_archived", f"item {item_id} is archived")
    return item, versions_of(session, item_id)


def _working(versions: list[ItemVersion], status: str) -> ItemVersion:
    version = working_version(versions)
    if version is None or version.status != status:
        found = version.status if version else "nothing to review"
        raise Conflict("invalid_state", f"expected a version {status}, found {found}")
    return version


def _touch(session: Session, item: ContentItem, *versions: ItemVersion) -> None:
    now = utcnow()
    item.updated_at = now
    session.add(item)
    for v in versions:
        v.updated_at = now
        session.add(v)


def check_content(*, item_type: str, product_category: str, variants: dict[str, Any]) -> list[Finding]:
    """Every compliance finding in every title and body of every variant."""
    passages = (
        Passage(path=f"variants.{edition}.{locale}", locale=locale, fields={f: t.get(f, "") for f in FIELDS})
        for edition, variant in sorted(variants.items())
        for locale, t in sorted(variant.get("texts", {}).items())
    )
    return check_passages(passages, item_type=item_type, product_category=product_category)


def findings_of(item: ContentItem, version: ItemVersion) -> list[Finding]:
    return check_content(
        item_type=item.type, product_category=item.product_category, variants=version.variants
    )


def submit_item(
    *, engine: Engine, actor: Actor, item_id: str, reason: str = ""
) -> tuple[Result, list[Finding]]:
    """Send the draft to review; the compliance findings come back so the author can fix them first."""
    with transaction(engine) as session:
        item, versions = _open(session, actor, item_id, "operator")
        draft = _working(versions, "draft")
        draft.status = "in_review"
        findings = findings_of(item, draft)
        _touch(session, item, draft)
        record_audit(
            session,
            actor=actor,
            entity="item",
            entity_id=item_id,
            version=draft.version,
            action="submitted",
            reason=reason,
            details={"findings": [f.rule_id for f in findings]},
        )
    return (item, versions), findings


def approve_item(*, engine: Engine, actor: Actor, item_id: str, overrides: dict[str, str]) -> Result:
    """Approve the version in review: never by its author or an editor, never with an unresolved hit."""
    with transaction(engine) as session:
        item, versions = _open(session, actor, item_id, "reviewer")
        version = _working(versions, "in_review")
        if version.worked_on_by(actor.operator_id):
            raise Forbidden("own_work", "nobody approves a version they authored or edited")
        findings = findings_of(item, version)
        blocking = unresolved(findings, overrides)
        if blocking:
            raise ComplianceBlocked(blocking)
        used = {f.rule_id: overrides[f.rule_id] for f in findings if f.rule_id in overrides and f.overridable}
        version.status, version.reviewer_id = "approved", actor.operator_id
        _touch(session, item, version)
        record_audit(
            session,
            actor=actor,
            entity="item",
            entity_id=item_id,
            version=version.version,
            action="approved",
            reason="; ".join(f"{k}: {v}" for k, v in used.items()),
            details={"overrides": used, "findings": [f.rule_id for f in findings]},
        )
    return item, versions


def reject_item(*, engine: Engine, actor: Actor, item_id: str, reason: str) -> Result:
    """Send the version in review back to its author as a draft."""
    if not reason.strip():
        raise InvalidInput("reason_required", "say why the version is rejected")
    with transaction(engine) as session:
        item, versions = _open(session, actor, item_id, "reviewer")
        version = _working(versions, "in_review")
        version.status = "draft"
        _touch(session, item, version)
        record_audit(
            session,
            actor=actor,
            entity="item",
            entity_id=item_id,
            version=version.version,
            action="rejected",
            reason=reason,
        )
    return item, versions


def _serve_version(
    session: Session, item: ContentItem, versions: list[ItemVersion], target: ItemVersion
) -> int:
    """Make `target` the served version; the one served before is superseded. Returns the previous."""
    previous = item.published_version
    for v in versions:
        if v.status == "published" and v is not target:
            v.status = "superseded"
            session.add(v)
    target.status = "published"
    item.published_version = target.version
    _touch(session, item, target)
    record_event(
        session,
        ITEM_PUBLISHED,
        events_pb2.ItemPublished(
            item_id=item.item_id,
            version=target.version,
            type=item.type,
            editions=sorted(target.variants),
            locales=sorted({loc for var in target.variants.values() for loc in var.get("texts", {})}),
            owner_branch=item.owner_branch,
            previous_version=previous,
            occurred_at=to_timestamp(utcnow()),
        ),
    )
    return previous


def publish_item(*, engine: Engine, actor: Actor, item_id: str, reason: str = "") -> Result:
    """Serve the approved version from now on."""
    with transaction(engine) as session:
        item, versions = _open(session, actor, item_id, "operator")
        version = _working(versions, "approved")
        previous = _serve_version(session, item, versions, version)
        record_audit(
            session,
            actor=actor,
            entity="item",
            entity_id=item_id,
            version=version.version,
            action="published",
            reason=reason,
            details={"previous_version": previous},
        )
    return item, versions


def rollback_item(*, engine: Engine, actor: Actor, item_id: str, version: int, reason: str) -> Result:
    """Serve an earlier, once published version again."""
    if not reason.strip():
        raise InvalidInput("reason_required", "say why the item is rolled back")
    with transaction(engine) as session:
        item, versions = _open(session, actor, item_id, "reviewer")
        target = next((v for v in versions if v.version == version), None)
        if target is None:
            raise NotFound("version_not_found", f"item {item_id} has no version {version}")
        if target.status != "superseded":
            raise Conflict(
                "not_rollbackable", f"version {version} is {target.status}; only superseded versions"
            )
        previous = _serve_version(session, item, versions, target)
        record_audit(
            session,
            actor=actor,
            entity="item",
            entity_id=item_id,
            version=version,
            action="rolled_back",
            reason=reason,
            details={"previous_version": previous},
        )
    return item, versions


def archive_item(*, engine: Engine, actor: Actor, item_id: str, reason: str) -> Result:
    """Stop serving the item everywhere; archived items stay for the audit trail."""
    if not reason.strip():
        raise InvalidInput("reason_required", "say why the item is archived")
    with transaction(engine) as session:
        item, versions = _open(session, actor, item_id, "operator")
        served = next((v for v in versions if v.status == "published"), None)
        if served is not None:
            served.status = "archived"
        item.status = "archived"
        _touch(session, item, *([served] if served else []))
        record_event(
            session,
            ITEM_ARCHIVED,
            events_pb2.ItemArchived(
                item_id=item_id, version=item.published_version, occurred_at=to_timestamp(utcnow())
            ),
        )
        record_audit(
            session,
            actor=actor,
            entity="item",
            entity_id=item_id,
            version=item.published_version,
            action="archived",
            reason=reason,
        )
    return item, versions
