"""Audit paging across services: records at one instant in several trails are each seen once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lattice.audit.v1 import audit_pb2 as pb

from gateway.routes.audit import cursor, merge
from services.runtime.audit_trail import AuditRecord, _query, page_of, stable_id
from services.runtime.clock import to_timestamp

NOW = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)


def _trail(service: str, count: int) -> list[AuditRecord]:
    # half of them at the very same instant as the other trails' records, the rest a second apart
    return [
        AuditRecord(
            record_id=stable_id(service, i),
            at=NOW if i % 2 else NOW - timedelta(seconds=i),
            operator_id="hq-operator",
            operator_branch="",
            action="created",
            entity="item",
            entity_id=f"{service}-{i}",
            branch="shanghai" if i % 3 else "",
        )
        for i in range(count)
    ]


TRAILS = {"benefits": _trail("benefits", 7), "content": _trail("content", 9), "reach": _trail("reach", 4)}


def _search(
    *, branch: str, limit: int, token: str, oldest_first: bool = False
) -> tuple[list[pb.AuditRecord], str]:
    """What the gateway does with every service's answer, the services answering with page_of."""
    request = pb.SearchAuditRequest(
        actor=pb.Actor(operator_id="hq-viewer", role="viewer", branch=branch),
        page_size=limit + 1,
        oldest_first=oldest_first,
    )
    position = cursor(token, oldest_first=oldest_first)
    if position is not None:
        (request.after if oldest_first else request.before).CopyFrom(position)
    answers = []
    for service, records in TRAILS.items():
        for r in page_of(records, _query(request, service)):
            answers.append(
                pb.AuditRecord(
                    service=service, record_id=r.record_id, at=to_timestamp(r.at), entity_id=r.entity_id
                )
            )
    return merge(answers, limit=limit, oldest_first=oldest_first)


def _walk(*, branch: str, limit: int, oldest_first: bool = False) -> list[str]:
    seen: list[str] = []
    token = ""
    for _ in range(100):
        page, token = _search(branch=branch, limit=limit, token=token, oldest_first=oldest_first)
        seen += [r.entity_id for r in page]
        if not token:
            return seen
    raise AssertionError("paging did not end")


def test_pages_of_any_size_see_every_record_once_in_one_order() -> None:
    whole = _walk(branch="", limit=100)
    assert len(whole) == sum(len(t) for t in TRAILS.values())
    for limit in (1, 2, 3, 5):
        assert _walk(branch="", limit=limit) == whole
        # oldest first is the same order the other way round, page by page as well
        assert _walk(branch="", limit=limit, oldest_first=True) == whole[::-1]


def test_a_branch_pages_through_its_own_records_only() -> None:
    mine = _walk(branch="shanghai", limit=2)
    expected = {r.entity_id for t in TRAILS.values() for r in t if r.branch == "shanghai"}
    assert sorted(mine) == sorted(expected) and len(mine) == len(expected)


def test_record_ids_of_derived_trails_are_stable() -> None:
    assert stable_id("proposed", "camp-1", 2) == stable_id("proposed", "camp-1", 2)
    assert stable_id("proposed", "camp-1", 2) != stable_id("reviewed", "camp-1", 2)
    assert 0 <= stable_id("x") < 2**63
