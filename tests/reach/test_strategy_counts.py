"""Counting a list: one COUNT of the rows the list reads, exact past the inbox's old cap of 500 a kind,
in the operator's scope (head office every branch, a branch only its own)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from services.reach import strategies
from tests.reach.conftest import AUTHOR

SPEC = {
    "name": "welcome",
    "touchpoints": [{"channel": "inbox"}],
    "content": {"title": "Welcome", "body": "Hello"},
    "trigger": {"event_type": "identity.app_account.linked"},
}
NORTH = strategies.Actor(operator_id="op-north", branch="north")
SOUTH = strategies.Actor(operator_id="op-south", branch="south")


def _listed(engine: Engine, actor: strategies.Actor, status: str) -> int:
    """The list's length, page by page as the inbox reads it."""
    seen, after = 0, ""
    while True:
        page = strategies.list_strategies(engine=engine, actor=actor, status=status, limit=101, after=after)
        seen += len(page[:100])
        after = strategies.STRATEGY_ORDER.next_token(page, 100, sort="")
        if not after:
            return seen


def test_counts_equal_the_lists_in_each_scope_past_500(reach_db: Engine) -> None:
    for i in range(510):
        strategies.create_strategy(engine=reach_db, actor=NORTH if i % 2 else AUTHOR, spec_data=SPEC)
    expected = {AUTHOR: 510, NORTH: 255, SOUTH: 0}
    for actor, n in expected.items():
        for status, waiting in (("draft", n), ("active", 0), ("", n)):
            count = strategies.count_strategies(engine=reach_db, actor=actor, status=status)
            assert count == _listed(reach_db, actor, status) == waiting, (actor, status)
