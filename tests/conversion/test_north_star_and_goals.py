"""North-star series and goals through the gateway: equal to the funnel, branch-scoped, every bad
input a 4xx problem, goals with actual and gap, versioned and kept in their history."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from gateway.routes.conversion import goals as goal_routes
from gateway.routes.conversion import north_star as metric_routes
from services.runtime.clock import utcnow
from tests.conversion.conftest import eventually, unique
from tests.conversion.system import running_system
from tests.conversion.test_ownership_and_branches import converted, live_campaign
from tests.support import actors

METRICS = "/v1/ops/metrics/north-star"
GOALS = "/v1/ops/goals"


def today() -> str:
    """The day of the conversions, read when a test runs (a suite collected before midnight runs after it)."""
    return utcnow().date().isoformat()


def period() -> dict[str, str]:
    return {"from": today(), "to": today()}


def problem(resp: httpx.Response, status: int) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    assert "Traceback" not in resp.text


def series_equal_the_funnel(gw: httpx.Client, hq: str, sh: str) -> None:
    viewer = actors.operator_headers(gw, "hq-viewer")
    funnel = gw.get(
        "/v1/ops/conversion/funnels",
        params={"partner_id": "ride", "from_day": today(), "to_day": today()},
        headers=viewer,
    ).json()
    by_day = gw.get(METRICS, params=period(), headers=viewer).json()
    assert [g["key"] for g in by_day["groups"]] == [today()]
    assert by_day["totals"] == funnel["totals"]  # only ride's campaigns exist in this system
    assert by_day["metrics"] == ["acquired", "activated", "upgraded"]
    by_campaign = gw.get(METRICS, params={**period(), "group_by": "campaign"}, headers=viewer).json()
    counts = {g["key"]: g["counts"] for g in by_campaign["groups"]}
    assert counts[hq]["acquired"] == counts[sh]["acquired"] == 1
    by_branch = gw.get(METRICS, params={**period(), "group_by": "branch"}, headers=viewer).json()
    assert {g["key"] for g in by_branch["groups"]} == {"head_office", "shanghai"}
    by_app = gw.get(METRICS, params={**period(), "group_by": "app", "app_id": "life"}, headers=viewer).json()
    assert [g["key"] for g in by_app["groups"]] == ["life"]
    only_sh = gw.get(METRICS, params={**period(), "branch": "shanghai"}, headers=viewer).json()
    assert only_sh["totals"]["acquired"] == 1


def series_are_branch_scoped(gw: httpx.Client, hq: str, sh: str) -> None:
    shanghai = actors.operator_headers(gw, "sh-operator")
    mine = gw.get(METRICS, params={**period(), "group_by": "campaign"}, headers=shanghai).json()
    assert [g["key"] for g in mine["groups"]] == [sh]
    for other in ("head_office", "beijing"):
        problem(gw.get(METRICS, params={**period(), "branch": other}, headers=shanghai), 403)
    assert gw.get(METRICS, params={**period(), "branch": "shanghai"}, headers=shanghai).status_code == 200
    beijing = gw.get(METRICS, params=period(), headers=actors.operator_headers(gw, "bj-operator")).json()
    assert beijing["totals"]["acquired"] == 0 and beijing["groups"][0]["counts"]["clicks"] == 0
    problem(gw.get(METRICS, params=period()), 401)


def bad_queries() -> list[dict[str, str]]:
    return [
        {"from": today()},
        {"to": today()},
        {**period(), "group_by": "customer"},
        {"from": "2026-02-30", "to": today()},
        {"from": "yesterday", "to": today()},
        {"from": today(), "to": "2020-01-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {**period(), "app_id": "X"},
        {**period(), "partner_id": "a" * 41},
        {**period(), "campaign_id": "<script>"},
        {**period(), "branch": "Shanghai!"},
        {**period(), "breakdown": "day"},
        {**period(), "include": "secrets"},
    ]


def bad_queries_are_problems(gw: httpx.Client) -> None:
    [route] = metric_routes.router.routes
    params = {p.alias or p.name for p in route.dependant.query_params}
    assert params == {k for query in bad_queries() for k in query}  # every parameter has a broken value
    viewer = actors.operator_headers(gw, "hq-viewer")
    for query in bad_queries():
        problem(gw.get(METRICS, params=query, headers=viewer), 422)


def goal_body(branch: str | None, target: int = 5) -> dict:
    body = {
        "goal_id": unique("g"),
        "objective": "做大生态获客 <b>",
        "name": "Ride acquisitions",
        "partner_id": "ride",
        "measures": [
            {"metric": "acquired", "from_day": today(), "to_day": today(), "target": target},
            {"metric": "linked", "from_day": today(), "to_day": today(), "target": 1},
        ],
    }
    return {**body, "branch": branch} if branch else body


def goals_track_actuals(gw: httpx.Client) -> tuple[str, str]:
    hq_op = actors.operator_headers(gw, "hq-operator")
    created = gw.post(GOALS, json=goal_body(None), headers=hq_op)
    assert created.status_code == 201, created.text
    whole_bank = created.json()
    acquired, linked = whole_bank["measures"]
    assert (acquired["actual"], acquired["gap"], acquired["attainment"]) == (2, 3, 0.4)
    assert (linked["actual"], linked["gap"]) == (2, -1)
    assert whole_bank["objective"] == "做大生态获客 <b>" and whole_bank["created_by"] == "hq-operator"
    sh_body = goal_body("shanghai", target=2)
    created = gw.post(GOALS, json=sh_body, headers=actors.operator_headers(gw, "sh-operator"))
    assert created.status_code == 201, created.text
    assert created.json()["measures"][0]["actual"] == 1  # its own branch's campaign only
    return whole_bank["goal_id"], sh_body["goal_id"]


def goals_are_branch_scoped(gw: httpx.Client, bank_goal: str, sh_goal: str) -> None:
    beijing = actors.operator_headers(gw, "bj-operator")
    shanghai = actors.operator_headers(gw, "sh-operator")
    for goal_id in (bank_goal, sh_goal):
        problem(gw.get(f"{GOALS}/{goal_id}", headers=beijing), 404)
        problem(gw.get(f"{GOALS}/{goal_id}/history", headers=beijing), 404)
        problem(gw.put(f"{GOALS}/{goal_id}", json={**_update(1)}, headers=beijing), 404)
        problem(gw.delete(f"{GOALS}/{goal_id}", params={"version": 1}, headers=beijing), 404)
    assert gw.get(GOALS, headers=beijing).json()["items"] == []
    assert [g["goal_id"] for g in gw.get(GOALS, headers=shanghai).json()["items"]] == [sh_goal]
    problem(gw.get(f"{GOALS}/{bank_goal}", headers=shanghai), 404)
    problem(gw.post(GOALS, json=goal_body("shanghai"), headers=beijing), 403)
    problem(gw.post(GOALS, json=goal_body(None), headers=beijing), 403)
    problem(gw.post(GOALS, json=goal_body(None), headers=actors.operator_headers(gw, "hq-viewer")), 403)
    listed = gw.get(GOALS, headers=actors.operator_headers(gw, "hq-viewer")).json()["items"]
    assert {bank_goal, sh_goal} <= {g["goal_id"] for g in listed}


def one_call_carries_the_dashboard(gw: httpx.Client, hq: str, sh: str, bank_goal: str, sh_goal: str) -> None:
    """The dashboard's one call equals the separate series and the goals list, in the caller's scope."""
    for operator, goal_ids in (("hq-viewer", {bank_goal, sh_goal}), ("sh-operator", {sh_goal})):
        headers = actors.operator_headers(gw, operator)
        combined = gw.get(
            METRICS,
            params={**period(), "group_by": "day", "breakdown": "campaign", "include": "goals"},
            headers=headers,
        )
        assert combined.status_code == 200, combined.text
        whole = combined.json()
        by_day = gw.get(METRICS, params=period(), headers=headers).json()
        by_campaign = gw.get(METRICS, params={**period(), "group_by": "campaign"}, headers=headers).json()
        assert (whole["groups"], whole["totals"]) == (by_day["groups"], by_day["totals"])
        assert whole["breakdown_by"] == "campaign" and whole["breakdown"] == by_campaign["groups"]
        listed = gw.get(GOALS, headers=headers).json()["items"]
        assert whole["goals"] == listed and goal_ids <= {g["goal_id"] for g in whole["goals"]}
        if operator == "sh-operator":
            assert [g["key"] for g in whole["breakdown"]] == [sh]
            assert {g["goal_id"] for g in whole["goals"]} == {sh_goal}
        assert by_day["breakdown"] is None and by_day["goals"] is None  # only when asked


def campaign_funnel_is_one_call(gw: httpx.Client, hq: str, sh: str) -> None:
    """The funnel page's one call: the campaign, its funnel and links, equal to the separate reads."""
    viewer = actors.operator_headers(gw, "hq-viewer")
    days = {"from_day": today(), "to_day": today()}
    answer = gw.get(f"/v1/ops/conversion/campaigns/{hq}/funnel", params=days, headers=viewer)
    assert answer.status_code == 200, answer.text
    whole = answer.json()
    campaign = gw.get(f"/v1/ops/conversion/campaigns/{hq}", headers=viewer).json()
    report = gw.get(
        "/v1/ops/conversion/funnels", params={"partner_id": "ride", "campaign_id": hq, **days}, headers=viewer
    ).json()
    links = gw.get(f"/v1/ops/conversion/campaigns/{hq}/links", params={"page_size": 100}, headers=viewer)
    links = links.json()["items"]
    assert (whole["campaign"], whole["report"], whole["links"]) == (campaign, report, links)
    assert whole["report"]["totals"]["acquired"] == 1 and whole["links"]
    shanghai = actors.operator_headers(gw, "sh-operator")
    problem(gw.get(f"/v1/ops/conversion/campaigns/{hq}/funnel", params=days, headers=shanghai), 404)
    own = gw.get(f"/v1/ops/conversion/campaigns/{sh}/funnel", params=days, headers=shanghai)
    assert own.status_code == 200 and own.json()["campaign"]["campaign_id"] == sh
    for bad in ({"from_day": today()}, {**days, "to_day": "2020-01-01"}, {**days, "from_day": "x"}):
        problem(gw.get(f"/v1/ops/conversion/campaigns/{hq}/funnel", params=bad, headers=viewer), 422)
    problem(gw.get("/v1/ops/conversion/campaigns/NO/funnel", params=days, headers=viewer), 422)
    problem(gw.get(f"/v1/ops/conversion/campaigns/{hq}/funnel", params=days), 401)


def _update(version: int, target: int = 1) -> dict:
    return {
        "version": version,
        "objective": "做大生态获客",
        "name": "Ride acquisitions, revised",
        "measures": [{"metric": "acquired", "from_day": today(), "to_day": today(), "target": target}],
    }


def goals_keep_their_history(gw: httpx.Client, goal_id: str) -> None:
    hq_op = actors.operator_headers(gw, "hq-operator")
    other = actors.operator_headers(gw, "hq-admin")
    updated = gw.put(f"{GOALS}/{goal_id}", json=_update(1, target=2), headers=other)
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2 and updated.json()["partner_id"] is None
    assert updated.json()["measures"][0]["gap"] == 0  # both ride campaigns count now
    problem(gw.put(f"{GOALS}/{goal_id}", json=_update(1), headers=hq_op), 409)
    problem(gw.delete(f"{GOALS}/{goal_id}", params={"version": 1}, headers=hq_op), 409)
    assert gw.delete(f"{GOALS}/{goal_id}", params={"version": 2}, headers=hq_op).status_code == 200
    problem(gw.get(f"{GOALS}/{goal_id}", headers=hq_op), 404)
    history = gw.get(f"{GOALS}/{goal_id}/history", headers=hq_op).json()["items"]
    assert [(c["version"], c["action"], c["operator_id"]) for c in history] == [
        (1, "created", "hq-operator"),
        (2, "updated", "hq-admin"),
        (3, "deleted", "hq-operator"),
    ]
    assert (
        history[0]["goal"]["measures"][0]["target"] == 5 and history[1]["goal"]["measures"][0]["target"] == 2
    )


def bad_goals_are_problems(gw: httpx.Client) -> None:
    """Every field of a goal, broken one at a time, is a 422 problem and nothing is saved."""
    hq_op = actors.operator_headers(gw, "hq-operator")
    good = goal_body(None)
    measure = good["measures"][0]
    broken = {
        "goal_id": ["", "G1", "a" * 41, 7, None],
        "objective": ["", "x" * 201, 3, "a\x00b", "   "],
        "name": ["", "x" * 101, ["a"], "line\x1bbreak"],
        "branch": ["Shanghai", ""],
        "app_id": ["LIFE"],
        "partner_id": ["r"],
        "campaign_id": ["<x>"],
        "measures": [[], [measure] * 13, "acquired", [{**measure, "extra": 1}]],
        "metric": ["revenue", "", None],
        "from_day": ["2026-02-30", "tomorrow", 20260101],
        "to_day": ["2020-01-01", "2026-1-1"],
        "target": [0, -1, 10**13, "5", 5.0, True],
        "surprise": ["field"],
    }
    assert set(goal_routes.GoalCreate.model_fields) | set(goal_routes.MeasureFields.model_fields) <= set(
        broken
    )
    for field, values in broken.items():
        for value in values:
            body = {**good, "goal_id": unique("bad"), "measures": [dict(measure)]}
            if field in goal_routes.MeasureFields.model_fields:
                body["measures"][0][field] = value
            else:
                body[field] = value
            resp = gw.post(GOALS, json=body, headers=hq_op)
            problem(resp, 422)
            if isinstance(body.get("goal_id"), str) and body["goal_id"]:
                assert gw.get(f"{GOALS}/{body['goal_id']}", headers=hq_op).status_code in (404, 422)
    problem(gw.put(f"{GOALS}/nobody", json=_update(1), headers=hq_op), 404)
    for version in (0, "1", 1.0, True, None, 2**31):
        problem(gw.put(f"{GOALS}/nobody", json={**_update(1), "version": version}, headers=hq_op), 422)
    problem(gw.delete(f"{GOALS}/nobody", headers=hq_op), 422)
    problem(gw.get(GOALS, params={"page_size": 0}, headers=hq_op), 422)
    problem(gw.post(GOALS, content=b"{", headers={**hq_op, "content-type": "application/json"}), 422)
    duplicate = goal_body(None)
    assert gw.post(GOALS, json=duplicate, headers=hq_op).status_code == 201
    problem(gw.post(GOALS, json=duplicate, headers=hq_op), 409)


async def test_north_star_and_goals(tmp_path: Path, conversion_nats: str) -> None:
    async with running_system(tmp_path, conversion_nats) as system:
        with system.client() as gw:
            hq = await asyncio.to_thread(live_campaign, gw, "hq-operator", None)
            sh = await asyncio.to_thread(live_campaign, gw, "sh-operator", "shanghai")
            await asyncio.to_thread(converted, gw, hq)
            await asyncio.to_thread(converted, gw, sh)

            def acquisitions() -> int:
                viewer = actors.operator_headers(gw, "hq-viewer")
                return gw.get(METRICS, params=period(), headers=viewer).json()["totals"]["acquired"]

            async def both_acquired() -> None:
                assert await asyncio.to_thread(acquisitions) == 2

            await eventually(both_acquired, timeout=30)
            await asyncio.to_thread(series_equal_the_funnel, gw, hq, sh)
            await asyncio.to_thread(series_are_branch_scoped, gw, hq, sh)
            await asyncio.to_thread(bad_queries_are_problems, gw)
            bank_goal, sh_goal = await asyncio.to_thread(goals_track_actuals, gw)
            await asyncio.to_thread(goals_are_branch_scoped, gw, bank_goal, sh_goal)
            await asyncio.to_thread(one_call_carries_the_dashboard, gw, hq, sh, bank_goal, sh_goal)
            await asyncio.to_thread(campaign_funnel_is_one_call, gw, hq, sh)
            await asyncio.to_thread(goals_keep_their_history, gw, bank_goal)
            await asyncio.to_thread(bad_goals_are_problems, gw)
