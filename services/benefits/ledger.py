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
from typing import TypeVar, cast

from sqlalchemy import Table, bindparam, func, insert, or_
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


Lines = list[tuple[str, int]]


@dataclass(frozen=True)
class Entry:
    """One journal entry to post: its kind, what it refers to, and its (account, amount) lines."""

    kind: str
    reference: str
    lines: Lines


def table_of(model: type) -> Table:
    """A table model's Core table, for Core statements on the hot paths (no ORM unit of work)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]  # set on table models; SQLModel does not declare it


_ACCOUNTS = table_of(LedgerAccount)
_ENTRIES = table_of(LedgerEntry)
_POSTINGS = table_of(LedgerPosting)
# Core statements (compiled once, cached): one conditional balance update, one executemany per table.
_APPLY = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.account_id == bindparam("account"))
    .where(or_(_ACCOUNTS.c.may_go_negative, _ACCOUNTS.c.balance + bindparam("delta") >= 0))
    .values(balance=_ACCOUNTS.c.balance + bindparam("delta"))
)
_INSERT_ACCOUNT = insert(_ACCOUNTS)
_INSERT_ENTRY = insert(_ENTRIES)
_INSERT_POSTING = insert(_POSTINGS)


def open_new_account(session: Session, account_id: str) -> None:
    """Open an account whose id is new (a hold's, named after a fresh redemption id): a plain insert."""
    session.exec(_INSERT_ACCOUNT, params={"account_id": account_id, "balance": 0, "may_go_negative": False})


def _deltas(entry: Entry) -> dict[str, int]:
    merged: dict[str, int] = defaultdict(int)
    for account_id, amount in entry.lines:
        merged[account_id] += amount
    deltas = {a: v for a, v in merged.items() if v != 0}
    if sum(deltas.values()) != 0:
        raise ValueError(f"unbalanced entry {entry.kind} {entry.reference}: {deltas}")
    return deltas


def post_entries(
    session: Session,
    entries: list[Entry],
    *,
    refusals: dict[str, DomainError] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Record balanced entries and apply them to the stored balances; refuse what would overdraw.

    The entries and their postings are written with one executemany per table; then the entries'
    effects, summed per account, update each account once, in account order (so concurrent
    transactions lock rows in the same order), on the condition that the balance stays >= 0 after
    all of them. Returns the entry ids ("" for an entry whose lines cancel out)."""
    now = now or utcnow()
    entry_ids: list[str] = []
    entry_rows: list[dict[str, object]] = []
    posting_rows: list[dict[str, object]] = []
    totals: dict[str, int] = defaultdict(int)
    for entry in entries:
        deltas = _deltas(entry)
        if not deltas:
            entry_ids.append("")
            continue
        entry_id = uuid.uuid4().hex
        entry_ids.append(entry_id)
        entry_rows.append(
            {"entry_id": entry_id, "kind": entry.kind, "reference": entry.reference, "created_at": now}
        )
        for account_id, amount in deltas.items():
            posting_rows.append(
                {"entry_id": entry_id, "account_id": account_id, "amount": amount, "created_at": now}
            )
            totals[account_id] += amount
    if entry_rows:
        session.exec(_INSERT_ENTRY, params=entry_rows)
        session.exec(_INSERT_POSTING, params=posting_rows)
    # The balance updates last: on PostgreSQL a shared account's row (a hot budget's, a benefit's
    # redeemed account) stays locked from its update to the commit, so as little as possible follows.
    for account_id in sorted(totals):
        delta = totals[account_id]
        if delta == 0:
            continue
        result = session.exec(_APPLY, params={"account": account_id, "delta": delta})
        if result.rowcount != 1:  # the caller's transaction (or savepoint) is rolled back: nothing kept
            raise (refusals or {}).get(account_id) or Rejected(
                "insufficient_balance", f"{account_id} too low"
            )
    return entry_ids


def post_entry(
    session: Session,
    *,
    kind: str,
    reference: str,
    lines: Lines,
    refusals: dict[str, DomainError] | None = None,
    now: datetime | None = None,
) -> str:
    """Record one balanced entry and apply it to the stored balances; refuse what would overdraw."""
    return post_entries(session, [Entry(kind, reference, lines)], refusals=refusals, now=now)[0]


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
