"""Reach's trust boundaries through the real gateway: four eyes, branch scope on every ops route,
messages owned by one customer in one app, and unset times answered as null."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.actors import Session, ok_json, operator_headers, recognise, sign_in

OPS = "/v1/ops/reach"
EPOCH = "1970-01-01T00:00:00Z"
Headers = dict[str, str]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _event_type(prefix: str) -> str:
    """A fresh event type of letters only (event types allow only short digit runs)."""
    return f"{prefix}_{uuid.uuid4().hex[:8].translate(str.maketrans('0123456789', 'ghijklmnop'))}"


@pytest.fixture(scope="module")
def staff(gateway: httpx.Client) -> dict[str, Headers]:
    """Staff of their own for this module (head office, Shanghai and Beijing), registered by hq-admin."""
    admin = operator_headers(gateway, "hq-admin")
    members = {
        "hq-author": ("operator", None),
        "hq-editor": ("reviewer", None),
        "hq-third": ("reviewer", None),
        "hq-admin2": ("admin", None),
        "sh-author": ("operator", "shanghai"),
        "sh-admin": ("admin", "shanghai"),
        "bj-admin": ("admin", "beijing"),
    }
    headers: dict[str, Headers] = {"hq-admin": admin}
    for name, (role, branch) in members.items():
        operator_id = _unique(name)
        created = ok_json(
            gateway.post(
                "/v1/ops/operators",
                json={"operator_id": operator_id, "role": role, "branch": branch},
                headers={**admin, "Idempotency-Key": uuid.uuid4().hex},
            )
        )
        token = ok_json(
            gateway.post(
                "/v1/ops/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": operator_id,
                    "client_secret": created["client_secret"],
                },
            )
        )
        headers[name] = {"Authorization": f"Bearer {token['access_token']}"}
    return headers


def _spec(event_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"trust {event_type}",
        "touchpoints": [{"channel": "inbox", "app_id": "mbank"}],
        "content": {"title": f"Hello {event_type}", "body": "A note from your bank"},
        "trigger": {"event_type": event_type},
        **extra,
    }


def _create(gateway: httpx.Client, author: Headers, spec: dict[str, Any]) -> dict[str, Any]:
    created = gateway.post(f"{OPS}/strategies", json=spec, headers=author)
    assert created.status_code == 201, created.text
    return created.json()


def _problem(resp: httpx.Response, status: int, code: str) -> None:
    assert (resp.status_code, resp.json().get("code")) == (status, code), resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_nobody_approves_a_strategy_version_they_authored_or_edited(
    gateway: httpx.Client, staff: dict[str, Headers]
) -> None:
    event_type = _event_type("trust_four_eyes")
    sid = _create(gateway, staff["hq-author"], _spec(event_type))["strategy_id"]
    url = f"{OPS}/strategies/{sid}"
    edited = gateway.put(
        url, json=_spec(event_type, name="reworded by a reviewer"), headers=staff["hq-editor"]
    )
    assert edited.status_code == 200, edited.text
    _problem(gateway.post(f"{url}/approve", headers=staff["hq-editor"]), 403, "own_work")
    assert (edited.json()["revision"], len(edited.json()["edited_by"])) == (1, 2)
    _problem(gateway.post(f"{url}/approve", headers=staff["hq-author"]), 403, "role_required")
    approved = gateway.post(f"{url}/approve", headers=staff["hq-third"])
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text

    assert gateway.post(f"{url}/activate", headers=staff["hq-author"]).json()["status"] == "active"
    assert gateway.post(f"{url}/pause", headers=staff["hq-author"]).json()["status"] == "paused"
    rewritten = gateway.put(url, json=_spec(event_type, name="v2 by the approver"), headers=staff["hq-third"])
    assert (rewritten.json()["status"], rewritten.json()["revision"]) == ("draft", 2)
    _problem(gateway.post(f"{url}/activate", headers=staff["hq-author"]), 409, "invalid_transition")
    _problem(gateway.post(f"{url}/approve", headers=staff["hq-third"]), 403, "own_work")
    again = gateway.post(f"{url}/approve", headers=staff["hq-editor"])
    assert again.status_code == 200 and again.json()["approved_by"], again.text
    history = ok_json(gateway.get(f"{url}/revisions", headers=staff["hq-author"]))["items"]
    writers = [(r["revision"], [r["authored_by"], *r["edited_by"]], r["approved_by"]) for r in history]
    approvers = [approved.json()["approved_by"], again.json()["approved_by"]]
    author, editor = edited.json()["edited_by"]
    assert writers == [(1, [author, editor], approvers[0]), (2, [approvers[0]], approvers[1])]
    assert all(r["approved_at"] for r in history)


def test_a_policy_change_needs_a_second_head_office_admin(
    gateway: httpx.Client, staff: dict[str, Headers]
) -> None:
    before = ok_json(gateway.get(f"{OPS}/policy", headers=staff["sh-admin"]))
    change = {**{k: before[k] for k in ("channels", "quiet_start", "quiet_end", "quiet_channels")}}
    change |= {"daily_contact_budget": before["daily_contact_budget"], "default_time_zone": "Asia/Shanghai"}
    _problem(gateway.put(f"{OPS}/policy", json=change, headers=staff["sh-admin"]), 403, "head_office_only")
    proposed = gateway.put(f"{OPS}/policy", json=change, headers=staff["hq-admin2"])
    assert proposed.status_code == 202 and proposed.json()["status"] == "pending", proposed.text
    proposal = proposed.json()
    assert proposal["decided_at"] is None
    pending = ok_json(gateway.get(f"{OPS}/policy", headers=staff["hq-author"]))["pending_proposal"]
    assert pending["proposal_id"] == proposal["proposal_id"]
    approve = f"{OPS}/policy/proposals/{proposal['proposal_id']}/approve"
    _problem(gateway.post(approve, headers=staff["hq-admin2"]), 403, "own_work")
    _problem(gateway.post(approve, headers=staff["sh-admin"]), 403, "head_office_only")
    _problem(gateway.post(approve, headers=staff["hq-third"]), 403, "role_required")
    done = gateway.post(approve, headers=staff["hq-admin"])
    assert done.status_code == 200 and done.json()["status"] == "approved", done.text
    assert ok_json(gateway.get(f"{OPS}/policy", headers=staff["hq-admin"]))["pending_proposal"] is None
    _problem(gateway.post(approve, headers=staff["hq-admin"]), 409, "proposal_not_pending")


Call = Callable[[httpx.Client, Headers, str], httpx.Response]
# Every /v1/ops/reach route that names a strategy, called by an admin (no role ever stands in the way).
STRATEGY_ROUTES: dict[tuple[str, str], Call] = {
    ("GET", "/strategies/{strategy_id}"): lambda g, h, s: g.get(f"{OPS}/strategies/{s}", headers=h),
    ("PUT", "/strategies/{strategy_id}"): lambda g, h, s: g.put(
        f"{OPS}/strategies/{s}", json=_spec("trust_scope_edit", name="edited"), headers=h
    ),
    ("POST", "/strategies/{strategy_id}/dry-run"): lambda g, h, s: g.post(
        f"{OPS}/strategies/{s}/dry-run", headers=h
    ),
    ("GET", "/strategies/{strategy_id}/review"): lambda g, h, s: g.get(
        f"{OPS}/strategies/{s}/review", params={"from": "2026-01-01T00:00:00Z"}, headers=h
    ),
    ("GET", "/strategies/{strategy_id}/deliveries"): lambda g, h, s: g.get(
        f"{OPS}/strategies/{s}/deliveries", headers=h
    ),
    ("GET", "/strategies/{strategy_id}/revisions"): lambda g, h, s: g.get(
        f"{OPS}/strategies/{s}/revisions", headers=h
    ),
    ("POST", "/strategies/{strategy_id}/reject"): lambda g, h, s: g.post(
        f"{OPS}/strategies/{s}/reject", json={"reason": "out of scope"}, headers=h
    ),
    ("POST", "/strategies/{strategy_id}/approve"): lambda g, h, s: g.post(
        f"{OPS}/strategies/{s}/approve", headers=h
    ),
    **{
        ("POST", f"/strategies/{{strategy_id}}/{{action}}:{action}"): (
            lambda g, h, s, a=action: g.post(f"{OPS}/strategies/{s}/{a}", headers=h)
        )
        for action in ("activate", "pause", "end")
    },
}
# Routes without a strategy: lists and the bank-wide policy (tested below and above).
OTHER_ROUTES = {
    ("GET", "/strategies"),
    ("POST", "/strategies"),
    ("GET", "/policy"),
    ("PUT", "/policy"),
    ("POST", "/policy/proposals/{proposal_id}/approve"),
}


def test_every_ops_reach_route_is_classified(gateway: httpx.Client) -> None:
    paths = ok_json(gateway.get("/openapi.json"))["paths"]
    found = {
        (method.upper(), path.removeprefix(OPS))
        for path, operations in paths.items()
        if path.startswith(OPS)
        for method in operations
    }
    classified = {(m, p.split(":")[0]) for m, p in STRATEGY_ROUTES} | OTHER_ROUTES
    assert found == classified


def _listed(gateway: httpx.Client, headers: Headers, sid: str) -> bool:
    token, seen = "", []
    while True:
        page = ok_json(gateway.get(f"{OPS}/strategies", params={"page_token": token}, headers=headers))
        seen += [s["strategy_id"] for s in page["items"]]
        token = page["next_page_token"] or ""
        if not token:
            return sid in seen


def test_another_branch_never_sees_or_touches_a_strategy(
    gateway: httpx.Client, staff: dict[str, Headers]
) -> None:
    shanghai = _create(gateway, staff["sh-author"], _spec("trust_scope_sh"))
    head = _create(gateway, staff["hq-author"], _spec("trust_scope_hq"))
    assert shanghai["branch"] == "shanghai" and head["branch"] == ""
    outsiders = {shanghai["strategy_id"]: ("bj-admin",), head["strategy_id"]: ("sh-admin", "bj-admin")}
    for sid, names in outsiders.items():
        for name in names:
            assert not _listed(gateway, staff[name], sid)
            for call in STRATEGY_ROUTES.values():
                _problem(call(gateway, staff[name], sid), 404, "strategy_not_found")
    unchanged = ok_json(gateway.get(f"{OPS}/strategies/{shanghai['strategy_id']}", headers=staff["sh-admin"]))
    assert (unchanged["version"], unchanged["status"]) == (shanghai["version"], "draft")
    # The owning branch and head office both reach the Shanghai strategy on every route.
    sid = shanghai["strategy_id"]
    for name in ("sh-admin", "hq-admin"):
        assert _listed(gateway, staff[name], sid)
        for route in [r for r in STRATEGY_ROUTES if r[0] == "GET" or "dry-run" in r[1]]:
            resp = STRATEGY_ROUTES[route](gateway, staff[name], sid)
            assert resp.status_code == 200, (name, route, resp.text)
    lifecycle = ["PUT", "approve", "activate", "pause", "end"]
    for step, name in zip(
        lifecycle, ["hq-admin", "sh-admin", "hq-admin", "sh-admin", "hq-admin"], strict=True
    ):
        route = next(r for r in STRATEGY_ROUTES if r[1].endswith(step) or r[0] == step)
        resp = STRATEGY_ROUTES[route](gateway, staff[name], sid)
        assert resp.status_code == 200, (name, route, resp.text)
    assert ok_json(gateway.get(f"{OPS}/strategies/{sid}", headers=staff["sh-admin"]))["status"] == "ended"


def _live(gateway: httpx.Client, staff: dict[str, Headers], event_type: str) -> str:
    sid = _create(gateway, staff["hq-author"], _spec(event_type))["strategy_id"]
    for step, who in (("approve", "hq-third"), ("activate", "hq-author")):
        assert gateway.post(f"{OPS}/strategies/{sid}/{step}", headers=staff[who]).status_code == 200
    return sid


def _send(gateway: httpx.Client, session: Session, event_type: str, **properties: str) -> None:
    event = {"event_id": uuid.uuid4().hex, "type": event_type, "properties": properties}
    resp = gateway.post(
        f"/v1/apps/{session.app_id}/events", json={"events": [event]}, headers=session.headers
    )
    assert resp.status_code == 202, resp.text


def _wait(probe: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        time.sleep(0.1)
    return found


def _inbox(gateway: httpx.Client, session: Session) -> list[dict[str, Any]]:
    return ok_json(gateway.get(f"/v1/apps/{session.app_id}/inbox", headers=session.headers))["items"]


def test_a_message_is_read_only_by_its_customer_in_its_app(
    gateway: httpx.Client, staff: dict[str, Headers]
) -> None:
    event_type = _event_type("trust_owned")
    sid = _live(gateway, staff, event_type)
    owner = sign_in(gateway, "mbank", _unique("m-owner"))
    other = sign_in(gateway, "mbank", _unique("m-other"))
    owner_in_life = recognise(gateway, owner, "life")
    _send(gateway, owner, event_type)
    [message] = _wait(
        lambda: [m for m in _inbox(gateway, owner) if m["title"] == f"Hello {event_type}"], "the message"
    )
    assert message["read_at"] is None and message["created_at"] and message["expires_at"]
    mid = message["message_id"]
    intruders = {
        "another customer": (other.app_id, other.headers),
        "the customer in another app": (owner_in_life.app_id, owner_in_life.headers),
        "an operator": ("mbank", staff["hq-admin"]),
        "nobody": ("mbank", {}),
    }
    for who, (app_id, headers) in intruders.items():
        read = gateway.post(f"/v1/apps/{app_id}/inbox/{mid}/read", headers=headers)
        assert read.status_code in (401, 404), (who, read.text)
        assert read.headers["content-type"].startswith("application/problem+json")
        page = gateway.get(f"/v1/apps/{app_id}/inbox", params={"page_token": mid}, headers=headers)
        assert page.status_code in (401, 404), (who, page.text)
    # A `message_opened` report from someone else, or from another app, does not open the delivery.
    _send(gateway, other, "message_opened", delivery_id=mid)
    _send(gateway, owner_in_life, "message_opened", delivery_id=mid)
    _send(gateway, owner, event_type)  # handled after both reports: the strategy's second contact
    _wait(lambda: len(_deliveries(gateway, staff, sid)) == 2, "the second delivery")
    assert [d["opened_at"] for d in _deliveries(gateway, staff, sid)] == [None, None]
    assert [m["read_at"] for m in _inbox(gateway, owner) if m["message_id"] == mid] == [None]

    read = gateway.post(f"/v1/apps/mbank/inbox/{mid}/read", headers=owner.headers)
    assert read.status_code == 200 and read.json()["read_at"], read.text


def _deliveries(gateway: httpx.Client, staff: dict[str, Headers], sid: str) -> list[dict[str, Any]]:
    return ok_json(gateway.get(f"{OPS}/strategies/{sid}/deliveries", headers=staff["hq-admin"]))["items"]


def test_unset_times_are_null_in_every_reach_answer() -> None:
    """Every Timestamp field of every reach answer, unset or set to the epoch by `to_timestamp(None)`, is
    answered as null (never 1970-01-01)."""
    from datetime import datetime

    from google.protobuf.timestamp_pb2 import Timestamp
    from lattice.reach.v1 import reach_pb2
    from pydantic import BaseModel

    from gateway.routes.reach import public
    from services.runtime.clock import to_timestamp
    from services.runtime.proto_mapping import from_proto

    answers: dict[type[BaseModel], Any] = {
        public.StrategyPublic: reach_pb2.Strategy,
        public.StrategyRevisionPublic: reach_pb2.StrategyRevision,
        public.StrategySchedulePublic: reach_pb2.Schedule,
        public.DeliveryPublic: reach_pb2.Delivery,
        public.PolicyProposalPublic: reach_pb2.PolicyProposal,
        public.InboxMessagePublic: reach_pb2.InboxMessage,
        public.ContactPreferencePublic: reach_pb2.ContactPreference,
    }
    checked = 0
    for model, cls in answers.items():
        times = [
            f.name
            for f in cls.DESCRIPTOR.fields
            if f.message_type is not None and f.message_type.full_name == Timestamp.DESCRIPTOR.full_name
        ]
        assert times and all(model.model_fields[name].annotation == datetime | None for name in times), model
        for message in (cls(), cls(**{name: to_timestamp(None) for name in times})):
            data = from_proto(model, message).model_dump(mode="json")
            assert all(data[name] is None for name in times), (model.__name__, data)
            checked += len(times)
    assert checked >= 2 * 14
    nested = reach_pb2.ListDeliveriesResponse(deliveries=[reach_pb2.Delivery(delivery_id="d")])
    page = public.DeliveryPage.of([from_proto(public.DeliveryPublic, d) for d in nested.deliveries], "")
    assert page.items[0].opened_at is None
    assert EPOCH not in page.model_dump_json()
