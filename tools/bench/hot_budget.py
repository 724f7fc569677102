"""`python -m tools.bench.hot_budget`: redemptions on one hot budget in the benefits domain itself,
beside the single-insert baseline of the same run, on SQLite and (with --postgres-url) PostgreSQL.

Measures what the benefits service does per redemption (the idempotency record, the hold and its
settlement, a balanced ledger entry on the shared redeemed account, the outbox event) with `--clients`
threads redeeming 1 point each in a loop, as the gRPC handler does (`asyncio.to_thread`); no gateway
and no load generator in the way, so the ratio is the service's own. The ledger is proven balanced
after the run (every redemption counted once, nothing overspent).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from services.benefits.catalogue import create_benefit, review_benefit
from services.benefits.ledger import check_ledger
from services.benefits.models import Benefit
from services.benefits.principals import Principal
from services.benefits.redemptions import redeem_benefit
from services.benefits.rules import Context
from services.benefits.uses import Target
from services.benefits.wallet import grant_benefit
from services.runtime.clock import utcnow
from services.runtime.db import make_engine, migrate
from tools.bench.extras import sqlmodel_insert_baseline
from tools.scratch_database import scratch_postgres_database

POINTS = 10**9


def _prepare(engine, clients: int) -> tuple[str, list[str]]:
    benefit_id = f"hot-{uuid.uuid4().hex[:8]}"
    drafter = Principal(kind="operator", actor_id="bench-drafter")
    benefit = Benefit(
        benefit_id=benefit_id,
        name="Bench points",
        kind="points",
        funder="dept:bench",
        face_value=POINTS,
        total_budget=POINTS * clients,
        usable_scopes=["app:*"],
        valid_until=utcnow() + timedelta(days=1),
        drafted_by="bench-drafter",
    )
    create_benefit(engine=engine, benefit=benefit, by=drafter)
    review_benefit(
        engine=engine,
        benefit_id=benefit_id,
        by=Principal(kind="operator", actor_id="bench-reviewer"),
        approve=True,
        note="",
    )
    customers = [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(clients)]
    for customer in customers:
        grant_benefit(
            engine=engine,
            customer_id=customer,
            benefit_id=benefit_id,
            idempotency_key=f"grant-{customer}",
            context=Context(app_id="mbank"),
            channel="reach:bench",
            by=Principal(kind="service", scope_id="bench", actor_id="bench"),
        )
    return benefit_id, customers


def measure(url: str, *, clients: int, duration_s: float) -> dict[str, Any]:
    """Redemptions per second and their latency with `clients` threads on one benefit."""
    engine = make_engine(url, pool_size=clients)
    migrate(engine, "benefits")
    benefit_id, customers = _prepare(engine, clients)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration_s

    def client(customer: str) -> None:
        target = Target(
            customer_id=customer,
            benefit_id=benefit_id,
            amount=1,
            context=Context(app_id="mbank"),
            by=Principal(kind="customer", scope_id="mbank"),
        )
        mine: list[float] = []
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                redeem_benefit(engine=engine, target=target, idempotency_key=uuid.uuid4().hex)
            except Exception as exc:  # counted, never hidden
                with lock:
                    errors.append(type(exc).__name__)
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in customers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    report = check_ledger(engine=engine)
    engine.dispose()
    ordered = sorted(latencies)
    return {
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "clients": clients,
        "redemptions": len(latencies),
        "redemptions_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1) if ordered else None,
        "errors": len(errors),
        "ledger_balanced": report.balanced,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.hot_budget", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--postgres-url", default="", help="also measure on this PostgreSQL server (a new database)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lattice-hot-budget-") as tmp:
        work = Path(tmp)
        baseline = sqlmodel_insert_baseline(work)
        runs = [measure(f"sqlite:///{work / 'benefits.db'}", clients=args.clients, duration_s=args.duration)]
        if args.postgres_url:
            with scratch_postgres_database(args.postgres_url, prefix="lattice_hot_budget") as url:
                runs.append(measure(url, clients=args.clients, duration_s=args.duration))
    for run in runs:
        run["vs_sqlite_single_insert"] = round(run["redemptions_per_s"] / baseline["tx_per_s"], 3)
    print(json.dumps({"baseline": baseline, "runs": runs}, indent=2))
    return 0 if all(r["ledger_balanced"] and not r["errors"] for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
