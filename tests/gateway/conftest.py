"""Fixtures for the edge tests: edge stores (SQLite file; Redis when a redis-server can be started)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.policies.store import EdgeStore, open_store
from services.runtime.stack import free_port

STORE_KINDS = ["sqlite", "redis"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server of the test session (or LATTICE_TEST_REDIS_URL)."""
    if os.environ.get("LATTICE_TEST_REDIS_URL"):
        yield os.environ["LATTICE_TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "no redis-server binary and no LATTICE_TEST_REDIS_URL: the Redis store path is not testable here"
        )
    port = free_port()
    work = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture(params=STORE_KINDS)
def edge_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EdgeStore]:
    """Each kind of edge store, empty."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        store = open_store(redis_url=url, sqlite_path=tmp_path / "unused.db")
        store._redis.flushdb()  # type: ignore[attr-defined]
    else:
        store = open_store(redis_url="", sqlite_path=tmp_path / "edge.db")
    try:
        yield store
    finally:
        store.close()
