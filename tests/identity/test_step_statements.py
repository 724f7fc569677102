"""Identity's journey steps in few statements, and the rules those statements now carry: an assertion
works once (and its row goes with retention), a sign-in's level only rises, a ticket burns on any
attempt, a binding's confirmation refuses in the same order, a completion after withdrawal is refused.
Real SQLite files, identity's own functions (no mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from services.identity import binding, customers, recognition, sessions
from services.identity.app_client import app_assertion
from services.identity.assertions import USED_ASSERTION_RETENTION, consume_assertion
from services.identity.consents import ConsentGrant, withdraw_consent
from services.identity.demo_data import DEMO_APP_SECRETS
from services.identity.models import UsedAssertion
from services.runtime.clock import utcnow
from services.runtime.db import transaction
from services.runtime.errors import Conflict, DomainError, Forbidden, NotFound, Unauthenticated
from services.runtime.retention import purge
from tools.identity_steps import PEPPER, Steps, _caller

GRANT = ConsentGrant("partner", "ride", "partner_account_binding", ("pairwise_id", "assurance_level"), "v1")


@pytest.fixture
def steps(tmp_path: Path) -> Iterator[Steps]:
    found = Steps(tmp_path)
    yield found
    found.engine.dispose()


def _sign_in(steps: Steps, app_user_id: str, level: int = 2, **claims: Any) -> sessions.IssuedTokens:
    assertion = app_assertion(
        app_id="mbank",
        client_secret=DEMO_APP_SECRETS["mbank"],
        app_user_id=app_user_id,
        assurance_level=level,
        **claims,
    )
    return sessions.sign_in(
        engine=steps.engine, signer=steps.signer, pepper=PEPPER, app_id="mbank", assertion=assertion
    )


def test_each_step_runs_in_few_statements(steps: Steps) -> None:
    for _ in range(3):
        steps.journey()
    most = {
        "sign_in": 13,
        "issue_ticket": 6,
        "redeem_ticket": 14,
        "start_binding": 5,
        "confirm_binding": 8,
        "complete_binding": 2,
    }
    assert {step: steps.counts[step][-1] for step in most} == most  # the first signature loads the key


def test_an_assertion_works_once_and_its_row_goes_with_retention(steps: Steps) -> None:
    assertion = app_assertion(
        app_id="mbank", client_secret=DEMO_APP_SECRETS["mbank"], app_user_id="m-once", assurance_level=2
    )
    sessions.sign_in(
        engine=steps.engine, signer=steps.signer, pepper=PEPPER, app_id="mbank", assertion=assertion
    )
    with pytest.raises(Unauthenticated) as replayed:
        sessions.sign_in(
            engine=steps.engine, signer=steps.signer, pepper=PEPPER, app_id="mbank", assertion=assertion
        )
    assert replayed.value.reason == "assertion_replayed"
    # a row already past its expiry is taken over by the same jti (as if retention had deleted it)
    now = utcnow()
    with transaction(steps.engine) as session:
        session.add(UsedAssertion(app_id="life", jti="old", expires_at=now - timedelta(seconds=1)))
        session.add(UsedAssertion(app_id="life", jti="live", expires_at=now + timedelta(seconds=60)))
    later = {"jti": "old", "exp": int(now.timestamp()) + 60}
    with transaction(steps.engine) as session:
        consume_assertion(session, app_id="life", claims=later)
    with pytest.raises(Unauthenticated), transaction(steps.engine) as session:
        consume_assertion(session, app_id="life", claims={"jti": "live", "exp": int(now.timestamp()) + 60})
    with transaction(steps.engine) as session:
        session.add(UsedAssertion(app_id="life", jti="gone", expires_at=now - timedelta(seconds=1)))
    assert purge(steps.engine, USED_ASSERTION_RETENTION) == 1
    with Session(steps.engine) as session:
        left = set(session.exec(select(UsedAssertion.jti).where(UsedAssertion.app_id == "life")).scalars())
    assert left == {"old", "live"}


def test_a_sign_in_updates_what_the_app_asserted_and_the_level_only_rises(steps: Steps) -> None:
    first = _sign_in(steps, "m-rise", level=3, phone_number="13800138000", branch="shanghai")
    again = _sign_in(steps, "m-rise", level=1, editions=["elderly"])
    assert first.new_account and not again.new_account
    customer_id = _caller(again.access_token).customer_id
    assert customer_id == _caller(first.access_token).customer_id
    customer, apps = customers.get_customer(engine=steps.engine, customer_id=customer_id)
    assert (customer.assurance_level, customer.branch, customer.editions) == (3, "shanghai", ["elderly"])
    assert customer.phone_masked == "138******00" and customer.phone_hash
    assert apps == ["mbank"]
    with Session(steps.engine) as session:
        count = session.exec(select(func.count()).select_from(customers.Customer)).scalar()
    assert count == 1


def test_a_ticket_burns_on_any_attempt_and_names_why_it_is_refused(steps: Steps) -> None:
    caller = _caller(_sign_in(steps, "m-ticket").access_token)

    def redeem(ticket: str, app_id: str = "life") -> sessions.IssuedTokens:
        client = app_assertion(app_id=app_id, client_secret=DEMO_APP_SECRETS[app_id])
        return recognition.redeem_ticket(
            engine=steps.engine, signer=steps.signer, app_id=app_id, ticket=ticket, client_assertion=client
        )

    ticket, _ = recognition.issue_ticket(
        engine=steps.engine, caller=caller, audience_app_id="life", scopes=[]
    )
    with pytest.raises(Forbidden) as foreign:
        redeem(ticket, app_id="wealth")
    assert foreign.value.reason == "ticket_audience_mismatch"
    with pytest.raises(Conflict) as burnt:
        redeem(ticket)
    assert burnt.value.reason == "ticket_already_redeemed"
    with pytest.raises(Unauthenticated) as unknown:
        redeem("no-such-ticket")
    assert unknown.value.reason == "invalid_ticket"
    ticket, _ = recognition.issue_ticket(
        engine=steps.engine, caller=caller, audience_app_id="life", scopes=[]
    )
    first, second = redeem(ticket), None
    ticket, _ = recognition.issue_ticket(
        engine=steps.engine, caller=caller, audience_app_id="life", scopes=[]
    )
    second = redeem(ticket)
    assert first.new_account and not second.new_account
    assert first.app_user_id == second.app_user_id  # the earliest linked account in life, again


def test_a_confirmation_refuses_in_order_and_a_withdrawal_stops_the_completion(steps: Steps) -> None:
    life = _caller(_sign_in(steps, "m-bind", level=2).access_token)
    started, _ = binding.start_binding(
        engine=steps.engine, partner_id="ride", partner_user_ref="rider-1", scopes=[], required_level=3
    )

    def confirm(caller: recognition.Caller, grant: ConsentGrant, binding_id: str = started.binding_id) -> Any:
        return binding.confirm_binding(
            engine=steps.engine, pepper=PEPPER, caller=caller, binding_id=binding_id, grant=grant
        )

    wrong = ConsentGrant("partner", "food", "partner_account_binding", ("pairwise_id",), "v1")
    cases: list[tuple[recognition.Caller, ConsentGrant, str, type[DomainError], str]] = [
        (life, wrong, "bnd_unknown", NotFound, "binding_not_found"),
        (life, wrong, started.binding_id, Forbidden, "consent_required"),
        (life, GRANT, started.binding_id, Forbidden, "step_up_required"),
    ]
    for caller, grant, binding_id, error, why in cases:
        with pytest.raises(error) as refused:
            confirm(caller, grant, binding_id)
        assert refused.value.reason == why
    with pytest.raises(Forbidden) as early:
        binding.complete_binding(
            engine=steps.engine, signer=steps.signer, partner_id="ride", binding_id=started.binding_id
        )
    assert early.value.reason == "consent_required"
    strong = _caller(_sign_in(steps, "m-bind", level=3).access_token)
    confirmed, consent = confirm(strong, GRANT)
    assert (confirmed.status, confirmed.customer_id, confirmed.consent_id) == (
        "confirmed",
        strong.customer_id,
        consent.consent_id,
    )
    with pytest.raises(Conflict):
        confirm(strong, GRANT)
    with pytest.raises(NotFound):
        binding.complete_binding(
            engine=steps.engine, signer=steps.signer, partner_id="food", binding_id=started.binding_id
        )
    done = binding.complete_binding(
        engine=steps.engine, signer=steps.signer, partner_id="ride", binding_id=started.binding_id
    )
    assert done.pairwise_id.startswith("pw_") and strong.customer_id not in done.access_token
    withdraw_consent(engine=steps.engine, customer_id=strong.customer_id, consent_id=consent.consent_id)
    with pytest.raises(Forbidden) as withdrawn:
        binding.complete_binding(
            engine=steps.engine, signer=steps.signer, partner_id="ride", binding_id=started.binding_id
        )
    assert withdrawn.value.reason == "consent_withdrawn"
