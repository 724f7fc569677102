"""Reach through the real gateway and processes: events in, inbox out, operators' strategy desk."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.actors import Session, operator_headers, sign_in


def _type(name: str) -> str:
    """A fresh event type of letters only (event types allow only short digit runs)."""
    return f"{name}_{uuid.uuid4().hex[:8].translate(str.maketrans('0123456789', 'ghijklmnop'))}"


def _live(gateway: httpx.Client, spec: dict[str, Any]) -> str:
    author, reviewer = operator_headers(gateway, "hq-operator"), operator_headers(gateway, "hq-reviewer")
    created = gateway.post("/v1/ops/reach/strategies", json=spec, headers=author)
    assert created.status_code == 201, created.text
    strategy_id = created.json()["strategy_id"]
    own = gateway.post(f"/v1/ops/reach/strategies/{strategy_id}/approve", headers=author)
    assert own.status_code == 403  # needs the reviewer role, and the author may not approve anyway
    assert (
        gateway.post(f"/v1/ops/reach/strategies/{strategy_id}/approve", headers=reviewer).status_code == 200
    )
    activated = gateway.post(f"/v1/ops/reach/strategies/{strategy_id}/activate", headers=author)
    assert activated.json()["status"] == "active", activated.text
    return strategy_id


def _send(gateway: httpx.Client, session: Session, event_type: str, **properties: str) -> httpx.Response:
    event = {"event_id": uuid.uuid4().hex, "type": event_type, "properties": properties}
    return gateway.post(
        f"/v1/apps/{session.app_id}/events", json={"events": [event]}, headers=session.headers
    )


def _inbox(gateway: httpx.Client, session: Session) -> list[dict[str, Any]]:
    resp = gateway.get(f"/v1/apps/{session.app_id}/inbox", headers=session.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def _wait_for_message(gateway: httpx.Client, session: Session, title: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in _inbox(gateway, session) if m["title"] == title]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no inbox message {title!r} within {timeout}s"
        time.sleep(0.05)


def test_salary_event_reaches_the_eligible_customer_inbox_within_2s(gateway: httpx.Client) -> None:
    salary = _type("salary_credited")
    strategy_id = _live(
        gateway,
        {
            "name": "salary day (shanghai)",
            "segment": [{"field": "branch", "op": "eq", "values": ["shanghai"]}],
            "touchpoints": [{"channel": "inbox"}],
            "content": {"title": f"Salary {salary}: ${{amount}}", "body": "Grow it"},
            "trigger": {"event_type": salary},
        },
    )
    shanghai, beijing = sign_in(gateway, "mbank", "m-1001"), sign_in(gateway, "mbank", "m-1002")
    title = f"Salary {salary}: 8000"
    assert _send(gateway, beijing, salary, amount="8000").status_code == 202
    started = time.monotonic()
    assert _send(gateway, shanghai, salary, amount="8000").status_code == 202
    message = _wait_for_message(gateway, shanghai, title, timeout=2.0)
    assert time.monotonic() - started < 2.0
    # Events are matched in order, so the Beijing customer's event was handled before: nothing for them.
    assert [m for m in _inbox(gateway, beijing) if m["title"] == title] == []

    stolen = gateway.post(f"/v1/apps/mbank/inbox/{message['message_id']}/read", headers=beijing.headers)
    assert stolen.status_code == 404 and stolen.json()["code"] == "message_not_found"
    read = gateway.post(f"/v1/apps/mbank/inbox/{message['message_id']}/read", headers=shanghai.headers)
    assert read.status_code == 200 and read.json()["read_at"]

    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    review = gateway.get(
        f"/v1/ops/reach/strategies/{strategy_id}/review",
        params={"from": since},
        headers=operator_headers(gateway, "hq-viewer"),
    )
    assert review.status_code == 200, review.text
    body = review.json()
    assert (body["audience"], body["delivered"], body["opened"]) == (1, 1, 1)


def test_delayed_trigger_is_released_by_the_scheduler(gateway: httpx.Client) -> None:
    kind = _type("card_activated")
    _live(
        gateway,
        {
            "name": "card tips later",
            "touchpoints": [{"channel": "inbox"}],
            "content": {"title": f"Tips {kind}", "body": "Three things to know"},
            "trigger": {"event_type": kind, "delay_s": 2},
        },
    )
    session = sign_in(gateway, "life", "l-2001")
    assert _send(gateway, session, kind).status_code == 202
    time.sleep(1.0)
    assert [m for m in _inbox(gateway, session) if m["title"] == f"Tips {kind}"] == []
    _wait_for_message(gateway, session, f"Tips {kind}", timeout=6.0)


def test_events_are_validated_and_bound_to_the_token(gateway: httpx.Client) -> None:
    session = sign_in(gateway, "mbank", "m-1001")
    url = "/v1/apps/mbank/events"
    ok_event = {"event_id": uuid.uuid4().hex, "type": "page_viewed"}
    assert gateway.post(url, json={"events": [ok_event]}).status_code == 401
    assert gateway.post(
        "/v1/apps/life/events", json={"events": [ok_event]}, headers=session.headers
    ).status_code in (
        401,
        403,
    )
    cases = [
        {"events": []},
        {"events": [ok_event] * 101},
        {"events": [{**ok_event, "customer_id": "someone-else"}]},
        {"events": [{**ok_event, "type": "Bad Type"}]},
        {"events": [{**ok_event, "properties": {"mobile": "x"}}]},
        {"events": [{**ok_event, "properties": {"ref": "13800138001"}}]},
        {"events": [{**ok_event, "occurred_at": "2020-01-01T00:00:00Z"}]},
        {"events": [{**ok_event, "properties": {f"k{i}": "v" for i in range(21)}}]},
    ]
    for body in cases:
        resp = gateway.post(url, json=body, headers=session.headers)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    accepted = gateway.post(url, json={"events": [ok_event, ok_event]}, headers=session.headers)
    assert accepted.status_code == 202 and accepted.json() == {"accepted": 1}


def test_operator_desk_scope_dry_run_and_policy(gateway: httpx.Client) -> None:
    kind = _type("fund_viewed")
    strategy_id = _live(
        gateway,
        {
            "name": "fund follow-up",
            "segment": [{"field": "apps", "op": "contains", "values": ["mbank"]}],
            "touchpoints": [{"channel": "push"}, {"channel": "inbox"}],
            "content": {"title": "Funds", "body": "Picked for you"},
            "trigger": {"event_type": kind},
        },
    )
    dry = gateway.post(
        f"/v1/ops/reach/strategies/{strategy_id}/dry-run", headers=operator_headers(gateway, "hq-operator")
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["audience"] >= 1
    branch = operator_headers(gateway, "sh-operator")
    assert gateway.get(f"/v1/ops/reach/strategies/{strategy_id}", headers=branch).status_code == 404
    bad = gateway.post("/v1/ops/reach/strategies", json={"name": "x", "touchpoints": []}, headers=branch)
    assert bad.status_code == 422
    policy = {"channels": [{"channel": "push", "daily_cap": 2}], "daily_contact_budget": 5}
    assert gateway.put("/v1/ops/reach/policy", json=policy, headers=branch).status_code == 403
    bad_zone = gateway.put(
        "/v1/ops/reach/policy",
        json={**policy, "default_time_zone": "Mars/Olympus"},
        headers=operator_headers(gateway, "hq-admin"),
    )
    assert bad_zone.status_code == 422 and bad_zone.json()["code"] == "invalid_policy"


def test_a_reviewer_rejects_a_draft_with_a_reason_and_the_next_edit_is_a_new_draft(
    gateway: httpx.Client,
) -> None:
    spec = {
        "name": "rejected follow-up",
        "touchpoints": [{"channel": "inbox"}],
        "content": {"title": "Hello", "body": "Picked for you"},
        "trigger": {"event_type": _type("rejectable")},
    }
    author, reviewer = operator_headers(gateway, "sh-operator"), operator_headers(gateway, "hq-reviewer")
    created = gateway.post("/v1/ops/reach/strategies", json=spec, headers=author)
    assert created.status_code == 201, created.text
    path = f"/v1/ops/reach/strategies/{created.json()['strategy_id']}"
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": "ok", "extra": 1}):
        refused = gateway.post(f"{path}/reject", json=body, headers=reviewer)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith(
            "application/problem"
        )
    own = gateway.post(f"{path}/reject", json={"reason": "mine"}, headers=author)
    assert own.status_code == 403  # an operator is not a reviewer; nor may anyone reject their own work
    other_branch = gateway.post(
        f"{path}/reject", json={"reason": "no"}, headers=operator_headers(gateway, "bj-operator")
    )
    assert other_branch.status_code in (403, 404)
    rejected = gateway.post(f"{path}/reject", json={"reason": "missing unsubscribe note"}, headers=reviewer)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    again = gateway.post(f"{path}/reject", json={"reason": "twice"}, headers=reviewer)
    assert again.status_code == 409  # only a draft is rejected
    assert gateway.post(f"{path}/approve", headers=reviewer).status_code == 409
    revisions = gateway.get(f"{path}/revisions", headers=reviewer).json()["items"]
    assert [(r["rejected_by"], r["rejection_reason"]) for r in revisions] == [
        ("hq-reviewer", "missing unsubscribe note")
    ]
    trail = gateway.get(
        "/v1/ops/audit",
        params={"service": "reach", "action": "revision_rejected", "entity_id": path.rsplit("/", 1)[1]},
        headers=reviewer,
    ).json()["records"]
    assert [(r["operator_id"], r["reason"]) for r in trail] == [("hq-reviewer", "missing unsubscribe note")]
    edited = gateway.put(path, json={**spec, "name": "rejected follow-up, fixed"}, headers=author)
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "draft" and edited.json()["revision"] == 2
    approved = gateway.post(f"{path}/approve", headers=reviewer)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
