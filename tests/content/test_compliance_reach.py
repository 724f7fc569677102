"""Reach's inline message texts pass content's compliance check, through the gateway, disguises and all."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings

from tests.content.test_compliance_variants import disguised
from tests.support.actors import operator_headers


def _spec(**content: object) -> dict[str, object]:
    return {
        "name": "compliance probe",
        "touchpoints": [{"channel": "inbox", "app_id": "mbank"}],
        "content": {"title": "Hello", "body": "A note from your bank", **content},
        "trigger": {"event_type": "compliance_probe"},
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=disguised())
def test_disguised_claims_in_inline_texts_are_refused_on_create(
    gateway: httpx.Client, case: tuple[str, str, str]
) -> None:
    rule, text, word = case
    author = operator_headers(gateway, "hq-operator")
    for field in ("title", "body"):
        resp = gateway.post("/v1/ops/reach/strategies", json=_spec(**{field: text}), headers=author)
        assert resp.status_code == 422, resp.text
        problem = resp.json()
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert problem["code"] == "compliance_violation"
        assert f"rule {rule}: " in problem["detail"]
        assert f"in content.{field} at {text.index(word)}" in problem["detail"]


def test_strategy_update_and_variables_are_checked_too(gateway: httpx.Client) -> None:
    author = operator_headers(gateway, "hq-operator")
    created = gateway.post("/v1/ops/reach/strategies", json=_spec(), headers=author)
    assert created.status_code == 201, created.text
    strategy_id = created.json()["strategy_id"]
    edited = gateway.put(
        f"/v1/ops/reach/strategies/{strategy_id}", json=_spec(body="稳\u200b赚不赔"), headers=author
    )
    assert (edited.status_code, edited.json()["code"]) == (422, "compliance_violation"), edited.text
    assert "in content.body at 0" in edited.json()["detail"]
    variables = _spec(body="Your rate: ${rate}", variables={"rate": "ｒｉｓｋ－ｆｒｅｅ 3%"})
    refused = gateway.post("/v1/ops/reach/strategies", json=variables, headers=author)
    assert (refused.status_code, refused.json()["code"]) == (422, "compliance_violation"), refused.text
    assert "content.variables.rate at 0" in refused.json()["detail"]
