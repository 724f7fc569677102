"""Conversion scenarios: the `GET /r/{code}` hot path (verify, publish to JetStream, 302), and the
funnel report over 10^4, 10^5 and 10^6 recorded clicks (it reads incremental aggregates, so its time
should grow far slower than the data).

The report scenarios seed clicks and their per-day aggregates straight into conversion's SQLite file,
as the click consumer would have written them, for a partner of their own.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from lattice.conversion.v1 import conversion_pb2 as pb
from lattice.conversion.v1 import conversion_pb2_grpc
from lattice.identity.v1 import identity_pb2 as ipb
from lattice.identity.v1 import identity_pb2_grpc

from services.identity import demo_data
from tools.bench.scenario import BenchContext, Request, RequestFactory, Scenario

DAYS = 90
CAMPAIGNS = 20
VIEWERS = [op for op, (role, branch) in demo_data.DEMO_OPERATORS.items() if not branch]


async def setup_redirect(ctx: BenchContext) -> dict[str, Any]:
    """A campaign of the demo partner `ride` and one signed link to it."""
    channel = ctx.channel("conversion", default_timeout_s=30)
    stub = conversion_pb2_grpc.ConversionServiceStub(channel)
    campaign_id = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        campaign = pb.Campaign(
            campaign_id=campaign_id,
            partner_id="ride",
            name="Bench redirect",
            target_app_id="life",
            landing_url="https://life.bank.example/welcome",
        )
        author = pb.Actor(kind="operator", operator_id="hq-operator", role="operator")
        created = await stub.CreateCampaign(pb.CreateCampaignRequest(campaign=campaign, actor=author))
        await stub.ReviewCampaign(
            pb.ReviewCampaignRequest(
                campaign_id=campaign_id,
                version=created.campaign.pending_version,
                actor=pb.Actor(kind="operator", operator_id="hq-reviewer", role="reviewer"),
                approve=True,
            )
        )
        link = await stub.CreateLink(
            pb.CreateLinkRequest(partner_id="ride", campaign_id=campaign_id, scene="bench")
        )
    finally:
        await channel.close()
    return {"code": link.code}


def redirect(params: dict[str, Any]) -> RequestFactory:
    request = Request("GET", f"/r/{params['code']}", expect=(302,))
    return lambda _i: request


def seed_clicks(database: str, *, partner_id: str, clicks: int, start: datetime) -> None:
    """`clicks` touchpoints over DAYS days and CAMPAIGNS campaigns, with the matching aggregates."""
    rng = random.Random(clicks)
    counts: dict[tuple[str, str], list[int]] = {}
    rows = []
    for i in range(clicks):
        at = start + timedelta(seconds=rng.randrange(DAYS * 86400))
        campaign = f"{partner_id}-c{i % CAMPAIGNS}"
        day = at.date().isoformat()
        landed = rng.random() < 0.4
        rows.append(
            (uuid.uuid4().hex, partner_id, campaign, at.isoformat(), day, at.isoformat() if landed else None)
        )
        agg = counts.setdefault((campaign, day), [0, 0])
        agg[0] += 1
        agg[1] += landed
    with sqlite3.connect(database, timeout=60) as db:
        db.execute(
            "INSERT OR IGNORE INTO partner_profile (partner_id, name, postback_url, registered_at)"
            " VALUES (?, ?, '', ?)",
            (partner_id, partner_id, start.isoformat()),
        )
        db.executemany(
            "INSERT INTO touchpoint (click_id, link_id, partner_id, campaign_id, scene, interaction,"
            " device_id, ip_class, attributable, rejection, occurred_at, day, customer_id, landed_at)"
            " VALUES (?, 'bench', ?, ?, 'bench', 'click', '', '', 1, '', ?, ?, NULL, ?)",
            rows,
        )
        db.executemany(
            "INSERT INTO funnel_day (partner_id, campaign_id, day, clicks, views, rejected, flooded,"
            " landings, linked, acquired, re_engaged, activated, upgraded)"
            " VALUES (?, ?, ?, ?, 0, 0, 0, ?, 0, 0, 0, 0, 0)",
            [(partner_id, c, d, n, landed) for (c, d), (n, landed) in counts.items()],
        )


def _setup_report(clicks: int):
    async def setup(ctx: BenchContext) -> dict[str, Any]:
        partner_id = f"bench-{clicks}-{uuid.uuid4().hex[:6]}"
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS)
        database = str(ctx.var_dir / "conversion.db")
        seed_clicks(database, partner_id=partner_id, clicks=ctx.size(clicks, CAMPAIGNS), start=start)
        channel = ctx.channel("identity", default_timeout_s=30)
        stub = identity_pb2_grpc.RegistryServiceStub(channel)
        tokens = []
        try:
            for operator in VIEWERS:
                secret = demo_data.DEMO_OPERATOR_SECRETS[operator]
                request = ipb.IssueOperatorTokenRequest(operator_id=operator, client_secret=secret)
                tokens.append((await stub.IssueOperatorToken(request)).access_token)
        finally:
            await channel.close()
        return {
            "partner_id": partner_id,
            "from_day": start.date().isoformat(),
            "to_day": (start + timedelta(days=DAYS)).date().isoformat(),
            "tokens": tokens,
        }

    return setup


def report(params: dict[str, Any]) -> RequestFactory:
    path = (
        f"/v1/ops/conversion/funnels?partner_id={params['partner_id']}"
        f"&from_day={params['from_day']}&to_day={params['to_day']}"
    )
    requests = [Request("GET", path, {"authorization": f"Bearer {t}"}) for t in params["tokens"]]
    return lambda i: requests[i % len(requests)]


SCENARIOS = [
    Scenario(
        "conversion.redirect",
        "follow a signed partner link: verify, publish the click, 302",
        redirect,
        setup_redirect,
    ),
    Scenario(
        "conversion.funnel_1e4",
        "funnel report over 90 days, 20 campaigns, 10^4 clicks",
        report,
        _setup_report(10_000),
    ),
    Scenario(
        "conversion.funnel_1e5",
        "funnel report over 90 days, 20 campaigns, 10^5 clicks",
        report,
        _setup_report(100_000),
    ),
    Scenario(
        "conversion.funnel_1e6",
        "funnel report over 90 days, 20 campaigns, 10^6 clicks",
        report,
        _setup_report(1_000_000),
    ),
]
