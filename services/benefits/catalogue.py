"""The catalogue: benefit definitions drafted by one operator and approved by another, then funded."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from services.benefits import ledger
from services.benefits.audit import record, visible_benefit
from services.benefits.models import KINDS, Benefit
from services.benefits.principals import Principal, require_operator
from services.benefits.rules import check_scopes
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.editions import EDITIONS
from services.runtime.errors import AlreadyExists, Conflict, Forbidden, InvalidInput
from services.runtime.paging import count_rows
from services.runtime.sorting import Sortable

_ID = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
_FUNDER = re.compile(r"^(dept|partner):[a-z][a-z0-9_-]{1,39}$")
MAX_AMOUNT = 10**12


def _require(ok: bool, reason: str, detail: str) -> None:
    if not ok:
        raise InvalidInput(reason, detail)


def validate(benefit: Benefit) -> None:
    """Refuse a definition that could not be honoured."""
    _require(bool(_ID.match(benefit.benefit_id)), "invalid_benefit_id", "benefit_id: 2-40 lowercase chars")
    _require(benefit.kind in KINDS, "invalid_kind", f"kind must be one of {', '.join(KINDS)}")
    _require(bool(_FUNDER.match(benefit.funder)), "invalid_funder", "funder: dept:<name> or partner:<id>")
    _require(bool(benefit.name.strip()), "invalid_name", "name must not be empty")
    _require(0 < benefit.face_value <= MAX_AMOUNT, "invalid_face_value", "face_value must be positive")
    _require(0 < benefit.total_budget <= MAX_AMOUNT, "invalid_budget", "total_budget must be positive")
    _require(0 <= benefit.daily_budget <= benefit.total_budget, "invalid_budget", "daily_budget within total")
    _require(benefit.per_customer_limit >= 0, "invalid_limit", "per_customer_limit must not be negative")
    if benefit.kind == "discount_coupon":
        _require(0 < benefit.discount_bps <= 10_000, "invalid_discount", "discount_bps in 1..10000")
    if benefit.kind == "rate_coupon":
        _require(0 < benefit.rate_bps <= 5_000, "invalid_rate", "rate_bps in 1..5000")
    _require(benefit.valid_days >= 0 and benefit.pending_days >= 0, "invalid_validity", "days must be >= 0")
    _require(bool(benefit.valid_until or benefit.valid_days), "invalid_validity", "valid_until or valid_days")
    if benefit.valid_from and benefit.valid_until:
        _require(
            benefit.valid_from < benefit.valid_until, "invalid_validity", "valid_from before valid_until"
        )
    _require(benefit.pending_days == 0 or benefit.kind == "points", "invalid_validity", "only points pend")
    _require(0 <= benefit.min_assurance_level <= 3, "invalid_assurance", "min_assurance_level in 0..3")
    unknown = set(benefit.eligible_editions) - set(EDITIONS)
    _require(not unknown, "invalid_edition", f"eligible_editions must be among {', '.join(EDITIONS)}")
    check_scopes(benefit.usable_scopes)


def create_benefit(*, engine: Engine, benefit: Benefit, by: Principal) -> Benefit:
    """Draft a benefit definition (in the operator's branch); it does nothing until a reviewer approves it."""
    require_operator(by)
    if not by.head_office:
        benefit.branch = benefit.branch or by.scope_id
    if not by.sees_branch(benefit.branch):
        raise Forbidden("branch_scope", "operators act only within their branch")
    benefit.drafted_by = by.actor_id
    validate(benefit)
    benefit.status, benefit.reviewed_by, benefit.review_note = "draft", "", ""
    with transaction(engine) as session:
        if session.get(Benefit, benefit.benefit_id) is not None:
            raise AlreadyExists("benefit_exists", f"benefit {benefit.benefit_id} exists")
        session.add(benefit)
        record(session, benefit_id=benefit.benefit_id, action="drafted", by=by)
    return benefit


def review_benefit(*, engine: Engine, benefit_id: str, by: Principal, approve: bool, note: str) -> Benefit:
    """Approve (and fund the budget) or reject a draft; nobody reviews their own draft."""
    with transaction(engine) as session:
        benefit = visible_benefit(session, benefit_id, by, lock=True)
        if benefit.status != "draft":
            raise Conflict("not_a_draft", f"benefit {benefit_id} is {benefit.status}")
        if by.actor_id == benefit.drafted_by:
            raise Forbidden("self_approval", "a draft must be reviewed by another operator")
        benefit.status = "approved" if approve else "rejected"
        benefit.reviewed_by, benefit.review_note, benefit.reviewed_at = by.actor_id, note, utcnow()
        record(session, benefit_id=benefit_id, action=benefit.status, by=by, reason=note)
        if approve:
            ledger.open_account(session, ledger.funder_account(benefit.funder), may_go_negative=True)
            for account in (ledger.budget_account, ledger.redeemed_account, ledger.expired_account):
                ledger.open_account(session, account(benefit_id))
            ledger.post_entry(
                session,
                kind="fund",
                reference=benefit_id,
                lines=[
                    (ledger.funder_account(benefit.funder), -benefit.total_budget),
                    (ledger.budget_account(benefit_id), benefit.total_budget),
                ],
            )
        session.add(benefit)
    return benefit


def get_benefit(*, engine: Engine, benefit_id: str, by: Principal) -> tuple[Benefit, int]:
    """A definition and what is left of its budget, if the operator's branch may see it."""
    with read_session(engine) as session:
        benefit = visible_benefit(session, benefit_id, by)
        return benefit, ledger.balance_of(session, ledger.budget_account(benefit_id))


BENEFIT_ORDER = Sortable.of(Benefit, "benefit_id", "name", "kind", "status", "created_at")


def list_benefits(
    *,
    engine: Engine,
    by: Principal,
    status: str,
    branch: str,
    limit: int,
    after: str,
    sort: str = "",
    start: tuple[datetime, str] | None = None,
) -> list[tuple[Benefit, int]]:
    """A page of the catalogue by id or by `sort` (BENEFIT_ORDER) after the token or the `start`
    position; a branch operator lists only its own."""
    listed = _listed(by, status, branch)
    with read_session(engine) as session:
        stmt = BENEFIT_ORDER.apply(listed, sort=sort, token=after, start=start)
        return _with_budgets(session, list(session.exec(stmt.limit(limit))))


def benefits_of(*, engine: Engine, by: Principal, benefit_ids: Collection[str]) -> list[tuple[Benefit, int]]:
    """The benefits of these ids in the operator's scope with their remaining budgets, in one read (the
    benefits a page of changes belongs to)."""
    listed = _listed(by, "", "").where(col(Benefit.benefit_id).in_(benefit_ids))
    with read_session(engine) as session:
        return _with_budgets(session, list(session.exec(listed)))


def _with_budgets(session: Session, benefits: list[Benefit]) -> list[tuple[Benefit, int]]:
    budgets = ledger.balances_of(session, [ledger.budget_account(b.benefit_id) for b in benefits])
    return [(b, budgets.get(ledger.budget_account(b.benefit_id), 0)) for b in benefits]


def count_benefits(*, engine: Engine, by: Principal, status: str, branch: str) -> int:
    """How many benefits `list_benefits` holds with these filters: one COUNT of the same rows."""
    listed = _listed(by, status, branch)
    with read_session(engine) as session:
        return count_rows(session, listed)


def _listed(by: Principal, status: str, branch: str) -> SelectOfScalar[Benefit]:
    require_operator(by)
    branch = branch if by.head_office else by.scope_id
    stmt = select(Benefit)
    if status:
        stmt = stmt.where(Benefit.status == status)
    if branch:
        stmt = stmt.where(Benefit.branch == branch)
    return stmt
