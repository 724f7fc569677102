"""`make proto-check`: buf lints protos/ and refuses a wire-breaking change against the baseline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "tools" / "buf" / "node_modules" / ".bin" / "buf"
BASELINE = ROOT / "protos" / "baseline.binpb"
APP_EVENT = Path("lattice/common/v1/app_event.proto")


@pytest.fixture(scope="module")
def buf() -> Path:
    """The project's own buf (`make buf`: npm ci of tools/buf, a no-op when installed)."""
    subprocess.run(["make", "-s", "buf"], cwd=ROOT, check=True, capture_output=True, timeout=180)
    assert BUF.exists()
    return BUF


def _buf(buf: Path, protos: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(buf), *args], cwd=protos, capture_output=True, text=True, timeout=60)


def _copy_of_protos(tmp_path: Path) -> Path:
    copy = tmp_path / "protos"
    shutil.copytree(ROOT / "protos", copy, ignore=shutil.ignore_patterns("baseline.binpb"))
    return copy


def test_the_contract_passes_lint_and_matches_the_baseline(buf: Path, tmp_path: Path) -> None:
    protos = _copy_of_protos(tmp_path)
    linted = _buf(buf, protos, "lint")
    assert linted.returncode == 0, linted.stdout + linted.stderr
    compared = _buf(buf, protos, "breaking", "--against", str(BASELINE))
    assert compared.returncode == 0, compared.stdout + compared.stderr


def test_a_changed_field_number_breaks_the_contract(buf: Path, tmp_path: Path) -> None:
    protos = _copy_of_protos(tmp_path)
    source = (protos / APP_EVENT).read_text(encoding="utf-8")
    moved = source.replace("string click_id = 8;", "string click_id = 9;")
    assert moved != source
    (protos / APP_EVENT).write_text(moved, encoding="utf-8")
    compared = _buf(buf, protos, "breaking", "--against", str(BASELINE))
    assert compared.returncode != 0
    assert "click_id" in compared.stdout and str(APP_EVENT) in compared.stdout, compared.stdout


def test_a_message_shared_by_two_rpcs_fails_lint(buf: Path, tmp_path: Path) -> None:
    """Every RPC has its own VerbNounRequest / VerbNounResponse: a shared reply is refused."""
    protos = _copy_of_protos(tmp_path)
    (protos / "lattice" / "common" / "v1" / "shared_reply.proto").write_text(
        'syntax = "proto3";\npackage lattice.common.v1;\n'
        "service ReplyService {\n"
        "  rpc GetReply(GetReplyRequest) returns (Reply);\n"
        "  rpc ListReplies(ListRepliesRequest) returns (Reply);\n}\n"
        "message GetReplyRequest {}\nmessage ListRepliesRequest {}\nmessage Reply {}\n",
        encoding="utf-8",
    )
    linted = _buf(buf, protos, "lint")
    assert linted.returncode != 0
    assert "RPC_REQUEST_RESPONSE_UNIQUE" in linted.stdout or "multiple RPCs" in linted.stdout, linted.stdout
    assert 'should be named "GetReplyResponse"' in linted.stdout, linted.stdout
