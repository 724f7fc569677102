"""The whole journey, as a partner, a customer's apps and operations staff meet Lattice.

A ride-hailing partner creates a campaign link through its signed API; a user clicks it and lands in
the `life` app; already signed in to `mbank`, the user is recognised in `life` through a cross-app
ticket; the user binds the partner account with consent; a welcome strategy (reach) grants a shared
coupon (benefits) and puts an inbox message (content) in front of the user; the user redeems the
coupon in the partner's scene; the first transaction in `mbank`, recorded by the core banking
system's signed feed, is attributed to the partner and a signed postback reaches the partner's
receiver; the funnel report shows it.

Used by `make demo` (against `make run`) and by tests/e2e. Every step goes through the gateway only.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from services.identity import demo_data
from services.identity.app_client import app_assertion
from tools.actors import Session, issue_ticket, ok_json, partner_client, partner_consent, sign_in
from tools.core_banking_client import core_banking_client, milestone
from tools.journey_setup import PARTNER, prepare_welcome_campaign
from tools.postback_receiver import PostbackReceiver


@dataclass
class Step:
    party: str
    title: str
    saw: dict[str, Any]
    trace_id: str = ""


@dataclass
class JourneyResult:
    steps: list[Step] = field(default_factory=list)
    campaign_id: str = ""
    benefit_id: str = ""
    click_id: str = ""
    pairwise_id: str = ""
    mbank: Session | None = None
    life: Session | None = None
    partner_responses: list[str] = field(default_factory=list)
    # perf_counter() when the core banking feed sent the milestone and when the receiver had the postback
    # (the bench's clock: the receiver runs in its process)
    milestone_sent_at: float = 0.0
    postback_seen_at: float = 0.0


def wait_until(
    what: str, probe: Callable[[], Any], timeout: float = 20.0, *, interval_s: float = 0.25
) -> Any:
    """Poll `probe` until it returns something truthy: first every `interval_s`, then less often.

    The gap grows by half each time up to 0.5 s, so a quick answer is seen quickly (the bench's
    click -> postback time is not paced by this loop) while a long wait, e.g. for a service that
    restarts, stays within the app's rate limit instead of spending it on looking.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval_s)
        interval_s = min(max(interval_s, 0.5), interval_s * 1.5)
    raise AssertionError(f"timed out waiting for {what}")


class Journey:
    """Runs the journey across one or more gateway replicas (requests rotate between them)."""

    def __init__(
        self, gateway_urls: list[str], *, receiver: PostbackReceiver, say: Callable[[str], None] = print
    ):
        self._clients = [httpx.Client(base_url=u, timeout=15) for u in gateway_urls]
        self._next = itertools.cycle(self._clients)
        # the partner's and the bank's systems keep their HTTP clients (a new one costs ~30 ms of CPU)
        self._partners = [partner_client(c, PARTNER) for c in self._clients]
        self._next_partner = itertools.cycle(self._partners)
        self._core = core_banking_client(self._clients[0])
        self.receiver = receiver
        self.say = say
        self.run = uuid.uuid4().hex[:8]
        self.result = JourneyResult()

    @property
    def gw(self) -> httpx.Client:
        return next(self._next)

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for partner in self._partners:
            partner.close()
        self._core.close()

    def _record(
        self, party: str, title: str, saw: dict[str, Any], resp: httpx.Response | None = None
    ) -> None:
        trace_id = resp.headers.get("x-trace-id", "") if resp is not None else ""
        self.result.steps.append(Step(party, title, saw, trace_id))
        self.say(f"[{party}] {title}")
        for key, value in saw.items():
            self.say(f"    {key}: {value}")
        if trace_id:
            self.say(f"    trace: {trace_id}")

    def _partner(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        resp = next(self._next_partner).request(method, path, **kwargs)
        self.result.partner_responses.append(resp.text)
        return resp

    # -- operations staff prepare the campaign ------------------------------------------------

    def prepare(self) -> None:
        """Head office sets up the campaign, the coupon, the welcome message and the strategy."""
        prepared = prepare_welcome_campaign(lambda: self.gw, receiver=self.receiver, run=self.run)
        self.result.campaign_id, self.result.benefit_id = prepared.campaign_id, prepared.benefit_id
        self._record(
            "operations",
            "head office prepared the campaign, coupon, welcome notice and strategy",
            {
                "campaign": prepared.campaign_id,
                "benefit": prepared.benefit_id,
                "content item": prepared.item_id,
                "strategy": prepared.strategy_id,
            },
        )

    # -- the journey ---------------------------------------------------------------------------

    def partner_creates_link(self) -> str:
        resp = self._partner(
            "POST",
            "/v1/partner/links",
            json_body={"campaign_id": self.result.campaign_id, "scene": "trip-end"},
            headers={"Idempotency-Key": f"link-{self.run}"},
        )
        link = ok_json(resp)
        self._record("partner ride", "created a signed campaign link", {"url": link["url"]}, resp)
        return str(link["code"])

    def user_clicks(self, code: str) -> str:
        resp = self.gw.get(f"/r/{code}", headers={"User-Agent": "RideApp/5.2"}, follow_redirects=False)
        assert resp.status_code == 302, resp.text
        location = resp.headers["location"]
        click_id = parse_qs(urlparse(location).query)["click_id"][0]
        self.result.click_id = click_id
        self._record("customer", "clicked the link and landed in life", {"redirected to": location}, resp)
        return click_id

    def recognised_in_life(self) -> None:
        # the bank app knows the customer's phone: identity keeps only a keyed hash and a masked form
        phone = "139" + str(int(self.run, 16) % 10**8).zfill(8)
        mbank = sign_in(self.gw, "mbank", f"m-journey-{self.run}", assurance_level=2, phone_number=phone)
        ticket = issue_ticket(self.gw, mbank, "life")
        assertion = app_assertion(app_id="life", client_secret=demo_data.DEMO_APP_SECRETS["life"])
        resp = self.gw.post(
            "/v1/apps/life/tickets/redeem",
            json={"ticket": ticket, "client_assertion": assertion, "click_id": self.result.click_id},
        )
        body = ok_json(resp)
        life = Session(
            app_id="life",
            app_user_id=body["app_user_id"],
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            assurance_level=body["assurance_level"],
        )
        self.result.mbank, self.result.life = mbank, life
        self._record(
            "customer",
            "signed in to mbank, then recognised in life through a one-time ticket (no second registration)",
            {"same customer in both apps": mbank.customer_id == life.customer_id},
            resp,
        )

    def binds_partner_account(self) -> str:
        life = self.result.life
        assert life is not None
        started = ok_json(
            self._partner("POST", "/v1/partner/bindings", json_body={"partner_user_ref": f"rider-{self.run}"})
        )
        confirm = self.gw.post(
            f"/v1/apps/life/partner-bindings/{started['binding_id']}/confirm",
            json={"consent": partner_consent(PARTNER)},
            headers=life.headers,
        )
        ok_json(confirm)
        self._record(
            "customer",
            "confirmed the ride binding in life with a separate, recorded consent",
            {"recipient": PARTNER, "purpose": "partner_account_binding"},
            confirm,
        )
        resp = self._partner("POST", f"/v1/partner/bindings/{started['binding_id']}/complete")
        pairwise_id = str(ok_json(resp)["pairwise_id"])
        self.result.pairwise_id = pairwise_id
        self._record(
            "partner ride",
            "the customer confirmed the binding with a separate consent",
            {"partner sees pairwise id": pairwise_id},
            resp,
        )
        return pairwise_id

    def welcomed(self, *, timeout: float = 20.0) -> None:
        life, mbank = self.result.life, self.result.mbank
        assert life is not None and mbank is not None

        def inbox() -> list[dict[str, Any]]:
            body = ok_json(self.gw.get("/v1/apps/life/inbox", headers=life.headers))
            return body.get("messages") or body.get("items") or []

        # polled finely: the bench times the journey by these waits (an event-driven path takes ~100 ms)
        messages = wait_until(
            "the welcome message in the life inbox", inbox, timeout=timeout, interval_s=0.05
        )

        def coupon(session: Session) -> list[dict[str, Any]]:
            resp = self.gw.get(f"/v1/apps/{session.app_id}/wallet", headers=session.headers)
            if resp.status_code == 503:  # retryable (a benefits replica is coming back): ask again
                return []
            return [g for g in ok_json(resp)["grants"] if g["benefit_id"] == self.result.benefit_id]

        in_life = wait_until(
            "the welcome coupon in the wallet", lambda: coupon(life), timeout=timeout, interval_s=0.05
        )
        in_mbank = coupon(mbank)
        self._record(
            "customer",
            "welcomed: an inbox message in life and a coupon in the shared wallet",
            {
                "inbox": [m.get("title") for m in messages],
                "wallet in life": [(g["benefit_name"], g["remaining"]) for g in in_life],
                "same coupon seen in mbank": [g["grant_id"] for g in in_mbank]
                == [g["grant_id"] for g in in_life],
            },
        )

    def redeems_in_partner_scene(self) -> dict[str, Any]:
        resp = self._partner(
            "POST",
            "/v1/partner/redemptions",
            json_body={
                "pairwise_id": self.result.pairwise_id,
                "benefit_id": self.result.benefit_id,
                "order_amount": 3500,
                "order_ref": f"trip-{self.run}",
                "scene": "trip-end",
            },
            headers={"Idempotency-Key": f"redeem-{self.run}"},
        )
        redemption = ok_json(resp)
        self._record(
            "partner ride",
            "redeemed the coupon in its trip-end scene",
            {"amount": redemption["amount"], "status": redemption["status"]},
            resp,
        )
        return redemption

    def first_transaction_in_mbank(self) -> None:
        """The customer's first transaction: the core banking system books it and records the milestone
        that pays the partner; mbank reports the behaviour (for reach) meanwhile."""
        mbank = self.result.mbank
        assert mbank is not None
        record = milestone("first_transaction", mbank.customer_id, milestone_id=f"cbs-first-tx-{self.run}")
        self.result.milestone_sent_at = time.perf_counter()
        resp = self._core.record_milestones([record], headers={"Idempotency-Key": f"cbs-{self.run}"})
        ok_json(resp)
        self._record(
            "core banking",
            "booked the first transaction and recorded the milestone (signed feed)",
            {"milestone id": record["milestone_id"], "kind": record["kind"]},
            resp,
        )
        behaviour = self.gw.post(
            "/v1/apps/mbank/events",
            json={
                "events": [
                    {
                        "event_id": f"first-tx-{self.run}",
                        "type": "first_transaction",
                        "occurred_at": datetime.now(UTC).isoformat(),
                        "properties": {"channel": "debit"},
                    }
                ]
            },
            headers=mbank.headers,
        )
        ok_json(behaviour)
        postback = wait_until(
            "the signed activation postback at the partner",
            lambda: [p for p in self.receiver.received if self._is_mine(p.body.get("data", {}))],
            timeout=30,
            interval_s=0.01,  # an in-memory list: looking costs nothing
        )[0]
        self.result.postback_seen_at = postback.received_at
        self._record(
            "partner ride",
            "received a signed postback for the activation made in mbank",
            {
                "webhook-id": postback.webhook_id,
                "signature valid": postback.signature_valid,
                "milestone": postback.body["data"].get("milestone"),
                "pairwise id": postback.body["data"].get("pairwise_id"),
            },
            resp,
        )

    def _is_mine(self, data: dict[str, Any]) -> bool:
        return (
            data.get("campaign_id") == self.result.campaign_id
            and data.get("click_id") == self.result.click_id
        )

    def funnel(self) -> dict[str, Any]:
        today = datetime.now(UTC).strftime("%Y-%m-%d")

        def report() -> dict[str, Any] | None:
            resp = self._partner(
                "GET",
                "/v1/partner/reports/funnel",
                params={"from_day": today, "to_day": today, "campaign_id": self.result.campaign_id},
            )
            body = ok_json(resp)
            return body if body["totals"]["activated"] >= 1 else None

        body = wait_until("the activation in the funnel report", report)
        self._record(
            "partner ride",
            "read the campaign funnel",
            {k: body["totals"][k] for k in ("clicks", "landings", "linked", "acquired", "activated")}
            | {"commission due (minor units)": body["commission_due_minor"]},
        )
        return body

    def play(self) -> JourneyResult:
        """Every step in order; returns what each party saw."""
        self.prepare()
        code = self.partner_creates_link()
        self.user_clicks(code)
        self.recognised_in_life()
        self.binds_partner_account()
        self.welcomed()
        self.redeems_in_partner_scene()
        self.first_transaction_in_mbank()
        self.funnel()
        return self.result
