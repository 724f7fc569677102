"""Console scenarios: the pages an operations centre opens all day, each beside the API call behind it.

- the north-star dashboard and a campaign's funnel over 10^6 clicks (90 days, 30 campaigns across
  head office and two branches);
- the approvals inbox over 10^4 campaign drafts waiting for review.

A page scenario (`console.<page>`) loads the console (server-side rendering: OpsApi -> gateway ->
service -> template); its twin (`console.<page>_api`) loads only the API call the page makes, with
the same operator's token. The bar (issue 13): page p50 under 300 ms and at least 0.5x its API
call's requests/s; `tools/bench/report.py` prints both ratios. Data: tools/bench/console_data.py.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import httpx

from console.session import COOKIE
from services.identity import demo_data
from tools.bench.console_data import seed_clicks, seed_pending_reviews
from tools.bench.scenario import BenchContext, Request, RequestFactory, Scenario

HQ = [op for op, (_role, branch) in demo_data.DEMO_OPERATORS.items() if not branch]
REVIEWERS = ["hq-reviewer"]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# one seeding per bench run, shared by the page and its API twin (10^6 clicks take about a minute)
_SEEDED: dict[str, dict[str, Any]] = {}


def console_session(console_url: str, operator_id: str) -> str:
    """A signed-in console session id for a demo operator, through the real sign-in form."""
    with httpx.Client(base_url=console_url, timeout=30) as client:
        form = client.get("/sign-in")
        token = _CSRF.search(form.text)
        if token is None:
            raise RuntimeError("the sign-in page has no CSRF token")
        answer = client.post(
            "/sign-in",
            data={
                "csrf_token": token.group(1),
                "operator_id": operator_id,
                "secret": demo_data.DEMO_OPERATOR_SECRETS[operator_id],
                "next": "/",
            },
        )
        if answer.status_code != 303 or COOKIE not in client.cookies:
            raise RuntimeError(f"sign-in as {operator_id} failed: {answer.status_code}")
        return str(client.cookies[COOKIE])


def operator_token(gateway_url: str, operator_id: str) -> str:
    """The operator token the console would hold for this operator."""
    answer = httpx.post(
        f"{gateway_url}/v1/ops/token",
        json={
            "grant_type": "client_credentials",
            "client_id": operator_id,
            "client_secret": demo_data.DEMO_OPERATOR_SECRETS[operator_id],
        },
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _clicks(ctx: BenchContext) -> dict[str, Any]:
    if "clicks" not in _SEEDED:
        seeded = seed_clicks(var_dir=ctx.var_dir, clicks=ctx.size(10**6, 100), campaigns=ctx.size(30))
        _SEEDED["clicks"] = {
            "campaign_id": seeded.campaigns[0],
            "from_day": seeded.from_day,
            "to_day": seeded.to_day,
        }
    return _SEEDED["clicks"]


def _reviews(ctx: BenchContext) -> dict[str, Any]:
    if "reviews" not in _SEEDED:
        seed_pending_reviews(var_dir=ctx.var_dir, items=ctx.size(10**4))
        _SEEDED["reviews"] = {}
    return _SEEDED["reviews"]


def _credentials(ctx: BenchContext, operators: list[str]) -> dict[str, Any]:
    return {
        "sessions": [console_session(ctx.console_url, op) for op in operators],
        "tokens": [operator_token(ctx.gateway_url, op) for op in operators],
    }


def setup_clicks(ctx: BenchContext) -> dict[str, Any]:
    return {**_clicks(ctx), **_credentials(ctx, HQ)}


def setup_reviews(ctx: BenchContext) -> dict[str, Any]:
    return {**_reviews(ctx), **_credentials(ctx, REVIEWERS)}


def _pages(path: str, query: dict[str, str], params: dict[str, Any]) -> RequestFactory:
    url = f"{path}?{urlencode(query)}" if query else path
    requests = [Request("GET", url, {"cookie": f"{COOKIE}={s}"}) for s in params["sessions"]]
    return lambda i: requests[i % len(requests)]


def _api(path: str, query: dict[str, str], params: dict[str, Any]) -> RequestFactory:
    url = f"{path}?{urlencode(query)}" if query else path
    requests = [Request("GET", url, {"authorization": f"Bearer {t}"}) for t in params["tokens"]]
    return lambda i: requests[i % len(requests)]


def _period(params: dict[str, Any]) -> dict[str, str]:
    return {"from": params["from_day"], "to": params["to_day"]}


def dashboard(params: dict[str, Any]) -> RequestFactory:
    return _pages("/dashboard", {**_period(params), "group_by": "partner"}, params)


def dashboard_api(params: dict[str, Any]) -> RequestFactory:
    # the page's one call: the series by day, the breakdown by partner and the goals with actuals
    query = {**_period(params), "group_by": "day", "breakdown": "partner", "include": "goals"}
    return _api("/v1/ops/metrics/north-star", query, params)


def funnel(params: dict[str, Any]) -> RequestFactory:
    return _pages(f"/conversion/campaigns/{params['campaign_id']}", _period(params), params)


def funnel_api(params: dict[str, Any]) -> RequestFactory:
    # the page's one call: the campaign, its funnel over the period and its links
    query = {"from_day": params["from_day"], "to_day": params["to_day"]}
    return _api(f"/v1/ops/conversion/campaigns/{params['campaign_id']}/funnel", query, params)


def approvals(params: dict[str, Any]) -> RequestFactory:
    return _pages("/approvals", {}, params)


def approvals_api(params: dict[str, Any]) -> RequestFactory:
    return _api("/v1/ops/reviews", {"page_size": "50"}, params)


SCENARIOS = [
    Scenario(
        "console.dashboard",
        "north-star dashboard page by day over 90 days, 10^6 clicks",
        dashboard,
        setup_clicks,
        target="console",
    ),
    Scenario(
        "console.dashboard_api", "the north-star series behind the dashboard", dashboard_api, setup_clicks
    ),
    Scenario(
        "console.funnel",
        "a campaign's funnel page over 90 days, 10^6 clicks",
        funnel,
        setup_clicks,
        target="console",
    ),
    Scenario("console.funnel_api", "the funnel report behind the funnel page", funnel_api, setup_clicks),
    Scenario(
        "console.approvals",
        "approvals inbox first page, 10^4 items waiting",
        approvals,
        setup_reviews,
        target="console",
    ),
    Scenario("console.approvals_api", "the review queue behind the inbox", approvals_api, setup_reviews),
]
