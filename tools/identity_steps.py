"""Identity's CPU and statements per step of the journey, in process: the six calls between the click
and the milestone (sign-in, ticket, the ticket's redemption, binding start, confirmation, completion)
run sequentially on a migrated SQLite file, as identity's gRPC methods call them.

    PYTHONPATH=$PWD:$PWD/gen .venv/bin/python -m tools.identity_steps --journeys 40

Per step: the thread's CPU time (`time.thread_time`, the median over the journeys) and the statements
SQLite ran (its trace callback on every connection: BEGIN, PRAGMA and COMMIT included). No gRPC, no
NATS (the outbox rows stay unpublished): what identity's own code costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import event

from services.identity import binding, recognition, registry, sessions
from services.identity.app_client import app_assertion
from services.identity.consents import ConsentGrant
from services.identity.demo_data import DEMO_APP_SECRETS, DEMO_APPS, DEMO_PARTNERS, PARTNER_SCOPES
from services.identity.keys import TokenSigner, ensure_signing_key
from services.identity.models import App, Partner
from services.runtime.db import make_engine, migrate

PEPPER = "bench-pepper"
STEPS = ("sign_in", "issue_ticket", "redeem_ticket", "start_binding", "confirm_binding", "complete_binding")


class Steps:
    """The identity calls of one journey, each timed and its statements counted."""

    def __init__(self, directory: Path) -> None:
        self.engine = make_engine(f"sqlite:///{directory / 'identity.db'}")
        self.statements = 0

        @event.listens_for(self.engine, "connect")
        def _trace(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.set_trace_callback(self._count)

        migrate(self.engine, "identity")
        for app_id, (name, _role, entity, editions) in DEMO_APPS.items():
            role = {"mbank": "core", "life": "main"}.get(app_id, "vertical")
            app = App(app_id=app_id, name=name, role=role, legal_entity=entity, editions=editions)
            registry.register_app(engine=self.engine, app=app, client_secret=DEMO_APP_SECRETS[app_id])
        for partner_id, (name, sector, key_id, secret) in DEMO_PARTNERS.items():
            partner = Partner(partner_id=partner_id, name=name, sector=sector, allowed_scopes=PARTNER_SCOPES)
            registry.register_partner(engine=self.engine, partner=partner, key_id=key_id, secret=secret)
        ensure_signing_key(engine=self.engine)
        self.signer = TokenSigner(self.engine)
        self.cpu_ms: dict[str, list[float]] = defaultdict(list)
        self.counts: dict[str, list[int]] = defaultdict(list)

    def _count(self, _sql: str) -> None:
        self.statements += 1

    def _timed(self, step: str, call: Callable[[], Any]) -> Any:
        before, started = self.statements, time.thread_time()
        result = call()
        self.cpu_ms[step].append((time.thread_time() - started) * 1000)
        self.counts[step].append(self.statements - before)
        return result

    def journey(self) -> None:
        run = uuid.uuid4().hex[:12]
        phone = "139" + str(int(run, 16) % 10**8).zfill(8)
        assertion = app_assertion(
            app_id="mbank",
            client_secret=DEMO_APP_SECRETS["mbank"],
            app_user_id=f"m-journey-{run}",
            assurance_level=2,
            phone_number=phone,
        )
        mbank = self._timed(
            "sign_in",
            lambda: sessions.sign_in(
                engine=self.engine, signer=self.signer, pepper=PEPPER, app_id="mbank", assertion=assertion
            ),
        )
        ticket, _ = self._timed(
            "issue_ticket",
            lambda: recognition.issue_ticket(
                engine=self.engine, caller=_caller(mbank.access_token), audience_app_id="life", scopes=[]
            ),
        )
        client = app_assertion(app_id="life", client_secret=DEMO_APP_SECRETS["life"])
        life = self._timed(
            "redeem_ticket",
            lambda: recognition.redeem_ticket(
                engine=self.engine, signer=self.signer, app_id="life", ticket=ticket, client_assertion=client
            ),
        )
        started, _ = self._timed(
            "start_binding",
            lambda: binding.start_binding(
                engine=self.engine,
                partner_id="ride",
                partner_user_ref=f"rider-{run}",
                scopes=[],
                required_level=0,
            ),
        )
        grant = ConsentGrant(
            "partner", "ride", "partner_account_binding", ("pairwise_id", "assurance_level"), "v1"
        )
        self._timed(
            "confirm_binding",
            lambda: binding.confirm_binding(
                engine=self.engine,
                pepper=PEPPER,
                caller=_caller(life.access_token),
                binding_id=started.binding_id,
                grant=grant,
            ),
        )
        self._timed(
            "complete_binding",
            lambda: binding.complete_binding(
                engine=self.engine, signer=self.signer, partner_id="ride", binding_id=started.binding_id
            ),
        )


def _caller(access_token: str) -> recognition.Caller:
    """The principal the gateway passes down for a verified app token."""
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return recognition.Caller(
        customer_id=claims["sub"],
        app_id=claims["aud"],
        assurance_level=int(claims["acr"]),
        token_id=claims["jti"],
        scopes=tuple(claims["scope"].split()),
    )


def measure(journeys: int, warmup: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="identity-steps-") as directory:
        steps = Steps(Path(directory))
        for _ in range(warmup):
            steps.journey()
        steps.cpu_ms.clear()
        steps.counts.clear()
        for _ in range(journeys):
            steps.journey()
        steps.engine.dispose()
    report = {
        step: {
            "cpu_ms_p50": round(statistics.median(steps.cpu_ms[step]), 3),
            "statements": statistics.median(steps.counts[step]),
        }
        for step in STEPS
    }
    report["journey"] = {
        "cpu_ms_p50": round(sum(v["cpu_ms_p50"] for v in report.values()), 3),
        "statements": sum(v["statements"] for v in report.values()),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--journeys", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(args.journeys, args.warmup), indent=1))


if __name__ == "__main__":
    main()
