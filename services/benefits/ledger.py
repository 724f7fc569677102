"""The double-entry ledger: balanced journal entries, stored balances, and the proof that they agree.

Amounts are signed integers, debits positive. Funder accounts go negative (what they put in);
budget, grant (customer lot) and hold accounts may never go negative; redeemed and expired accounts
are sinks. Balance updates are conditional (`balance + delta >= 0`) and applied in account order,
so concurrent entries never overspend and always lock rows in the same order.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from services.benefits.models import LedgerAccount, LedgerEntry, LedgerPosting
from services.runtime.clock import utcnow
from services.runtime.db import insert_ignore, read_session
from services.runtime.errors import DomainError, Rejected

Row = TypeVar("Row")


def funder_account(funder: str) -> str:
    return f"funder:{funder}"


def budget_account(benefit_id: str) -> str:
    return f"budget:{benefit_id}"


def grant_account(grant_id: str) -> str:
    return f"grant:{grant_id}"


def hold_account(redemption_id: str) -> str:
    return f"hold:{redemption_id}"


def redeemed_account(benefit_id: str) -> str:
    return f"redeemed:{benefit_id}"


def expired_account(benefit_id: str) -> str:
    return f"expired:{benefit_id}"


def open_account(session: Session, account_id: str, *, may_go_negative: bool = False) -> None:
    insert_ignore(session, LedgerAccount, account_id=account_id, balance=0, may_go_negative=may_go_negative)


def post_entry(
    session: Session,
    *,
    kind: str,
    reference: str,
    lines: list[tuple[str, int]],
    refusals: dict[str, DomainError] | None = None,
    now: datetime | None = None,
) -> str:
    """Record one balanced entry and apply it to the stored balances; refuse what would overdraw."""
    merged: dict[str, int] = defaultdict(int)
    for account_id, amount in lines:
        merged[account_id] += amount
    deltas = {a: v for a, v in merged.items() if v != 0}
    if sum(deltas.values()) != 0:
        raise ValueError(f"unbalanced entry {kind} {reference}: {deltas}")
    if not deltas:
        return ""
    now = now or utcnow()
    entry_id = uuid.uuid4().hex
    for account_id in sorted(deltas):
        delta = deltas[account_id]
        result = session.exec(
            update(LedgerAccount)
            .where(col(LedgerAccount.account_id) == account_id)
            .where(or_(col(LedgerAccount.may_go_negative), col(LedgerAccount.balance) + delta >= 0))
            .values(balance=col(LedgerAccount.balance) + delta)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise (refusals or {}).get(account_id) or Rejected(
                "insufficient_balance", f"{account_id} too low"
            )
    session.add(LedgerEntry(entry_id=entry_id, kind=kind, reference=reference, created_at=now))
    session.add_all(
        LedgerPosting(entry_id=entry_id, account_id=a, amount=v, created_at=now) for a, v in deltas.items()
    )
    return entry_id


def locked(session: Session, model: type[Row], key: object) -> Row | None:
    """Read a row for update (a row lock on PostgreSQL; SQLite's write lock is already held)."""
    return session.get(model, key, with_for_update=True, populate_existing=True)


def balance_of(session: Session, account_id: str) -> int:
    account = session.get(LedgerAccount, account_id, populate_existing=True)
    return account.balance if account else 0


def balances_of(session: Session, account_ids: list[str]) -> dict[str, int]:
    if not account_ids:
        return {}
    rows = session.exec(select(LedgerAccount).where(col(LedgerAccount.account_id).in_(account_ids)))
    return {a.account_id: a.balance for a in rows}


def balances_as_of(session: Session, as_of: datetime | None = None) -> dict[str, int]:
    """Every account's balance recomputed from postings (up to `as_of`)."""
    stmt = select(LedgerPosting.account_id, func.sum(LedgerPosting.amount)).group_by(LedgerPosting.account_id)
    if as_of is not None:
        stmt = stmt.where(col(LedgerPosting.created_at) <= as_of)
    return {a: int(total) for a, total in session.exec(stmt)}


@dataclass
class LedgerReport:
    """What `check_ledger` found; `balanced` is the verdict."""

    total_debits: int = 0
    total_credits: int = 0
    entries: int = 0
    postings: int = 0
    unbalanced_entries: list[str] = field(default_factory=list)
    mismatches: list[tuple[str, int, int]] = field(default_factory=list)
    negative_accounts: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return (
            self.total_debits == self.total_credits
            and not self.unbalanced_entries
            and not self.mismatches
            and not self.negative_accounts
        )


def check_ledger(*, engine: Engine, as_of: datetime | None = None) -> LedgerReport:
    """Prove the ledger: entries sum to zero, debits = credits, stored balances = postings."""
    report = LedgerReport()
    with read_session(engine) as session:
        window = [] if as_of is None else [col(LedgerPosting.created_at) <= as_of]
        debits = session.exec(
            select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(LedgerPosting.amount > 0, *window)
        ).one()
        credits = session.exec(
            select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(LedgerPosting.amount < 0, *window)
        ).one()
        report.total_debits, report.total_credits = int(debits), -int(credits)
        report.postings = session.exec(select(func.count()).select_from(LedgerPosting).where(*window)).one()
        entry_window = [] if as_of is None else [col(LedgerEntry.created_at) <= as_of]
        report.entries = session.exec(
            select(func.count()).select_from(LedgerEntry).where(*entry_window)
        ).one()
        unbalanced = session.exec(
            select(LedgerPosting.entry_id)
            .where(*window)
            .group_by(LedgerPosting.entry_id)
            .having(func.sum(LedgerPosting.amount) != 0)
        )
        report.unbalanced_entries = list(unbalanced)
        derived = balances_as_of(session, as_of)
        accounts = {a.account_id: a for a in session.exec(select(LedgerAccount))}
        if as_of is None:
            for account_id in sorted(set(accounts) | set(derived)):
                stored = accounts[account_id].balance if account_id in accounts else 0
                if stored != derived.get(account_id, 0) or account_id not in accounts:
                    report.mismatches.append((account_id, stored, derived.get(account_id, 0)))
        for account_id, value in sorted(derived.items()):
            account = accounts.get(account_id)
            if value < 0 and not (account and account.may_go_negative):
                report.negative_accounts.append(account_id)
    return report
