"""The edge store on SQLite and Redis: one-time claims, rate windows, idempotency records, across threads."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gateway.policies.store import EdgeStore
from gateway.policies.store_sqlite import SqliteEdgeStore


def test_claim_once_holds_under_concurrency(edge_store: EdgeStore) -> None:
    key = f"nonce:p:{uuid.uuid4().hex}"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: edge_store.claim_once(key, ttl_s=600), range(40)))
    assert results.count(True) == 1


def test_a_claim_is_seen_until_it_expires(edge_store: EdgeStore) -> None:
    key, expired = f"session-ended:{uuid.uuid4().hex}", f"session-ended:{uuid.uuid4().hex}"
    assert not edge_store.is_claimed(key)
    edge_store.claim_once(key, ttl_s=600)
    edge_store.claim_once(expired, ttl_s=1)
    time.sleep(1.1)
    assert edge_store.is_claimed(key)
    assert not edge_store.is_claimed(expired)


def test_window_counts_every_hit_exactly_once(edge_store: EdgeStore) -> None:
    key = f"app:{uuid.uuid4().hex}"
    with ThreadPoolExecutor(8) as pool:
        counts = sorted(c.count for c in pool.map(lambda _: edge_store.hit(key, window_s=3600), range(50)))
    assert counts == list(range(1, 51))
    assert 1 <= edge_store.hit(key, window_s=3600).reset_s <= 3600


def test_idempotency_record_lifecycle(edge_store: EdgeStore) -> None:
    key = f"idem:{uuid.uuid4().hex}"
    claim, record = edge_store.begin_operation(key, fingerprint="f1", lease_s=60)
    assert claim is not None and record is None
    again, seen = edge_store.begin_operation(key, fingerprint="f1", lease_s=60)
    assert again is None and seen is not None and seen.state == "in_flight" and seen.fingerprint == "f1"
    edge_store.finish_operation(claim, response=b"\x00stored", ttl_s=86400)
    _, done = edge_store.begin_operation(key, fingerprint="f2", lease_s=60)
    assert done is not None and (done.state, done.fingerprint, done.response) == ("done", "f1", b"\x00stored")


def test_only_the_owner_finishes_or_releases(edge_store: EdgeStore) -> None:
    key = f"idem:{uuid.uuid4().hex}"
    claim, _ = edge_store.begin_operation(key, fingerprint="f", lease_s=60)
    assert claim is not None
    stranger = type(claim)(key=key, owner="someone-else")
    edge_store.release_operation(stranger)
    edge_store.finish_operation(stranger, response=b"x", ttl_s=60)
    _, record = edge_store.begin_operation(key, fingerprint="f", lease_s=60)
    assert record is not None and record.state == "in_flight"
    edge_store.release_operation(claim)
    fresh, _ = edge_store.begin_operation(key, fingerprint="g", lease_s=60)
    assert fresh is not None


def test_idempotency_claim_is_exclusive_under_concurrency(edge_store: EdgeStore) -> None:
    key = f"idem:{uuid.uuid4().hex}"
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda _: edge_store.begin_operation(key, fingerprint="f", lease_s=60), range(20))
        )
    assert sum(1 for claim, _ in results if claim is not None) == 1


def test_two_sqlite_stores_on_one_file_share_state(tmp_path: Path) -> None:
    first, second = SqliteEdgeStore(tmp_path / "edge.db"), SqliteEdgeStore(tmp_path / "edge.db")
    assert first.claim_once("nonce:p:n", ttl_s=600)
    assert not second.claim_once("nonce:p:n", ttl_s=600)
    first.hit("ops:x", window_s=60)
    assert second.hit("ops:x", window_s=60).count == 2


def test_an_expired_claim_can_be_claimed_again(tmp_path: Path) -> None:
    store = SqliteEdgeStore(tmp_path / "edge.db")
    assert store.claim_once("k", ttl_s=0)
    assert store.claim_once("k", ttl_s=600)
    assert not store.claim_once("k", ttl_s=600)
