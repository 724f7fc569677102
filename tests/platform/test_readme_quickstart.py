"""The README's quickstart, pasted as written, works against a real system (doc test)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid

import httpx
import pytest

from tests.conftest import repo_root

README = repo_root() / "README.md"


def quickstart_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quickstart") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def _json_documents(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_the_quickstart_has_a_sequence_per_caller() -> None:
    blocks = quickstart_blocks()
    assert len(blocks) == 3
    assert "/v1/ops/token" in blocks[0] and "jwt-bearer" in blocks[1] and "X-Lattice-Signature" in blocks[2]


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("curl")), reason="needs openssl and curl")
def test_the_quickstart_commands_work_as_pasted(gateway: httpx.Client) -> None:
    base = str(gateway.base_url).rstrip("/")
    ref = f"quickstart-{uuid.uuid4().hex[:8]}"
    script = "\n".join(quickstart_blocks())
    # the only edits: the test system's address, and a partner user of this run's own
    script = script.replace("BASE=http://127.0.0.1:8080", f"BASE={base}").replace("ride-user-42", ref)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo_root(),
    )
    assert done.returncode == 0, done.stderr
    partners, wallet, funnel, binding = _json_documents(done.stdout)
    assert {p["partner_id"] for p in partners["items"]} >= {"ride", "food"}
    assert set(wallet) >= {"grants", "points"}
    assert funnel["partner_id"] == "ride" and funnel["from_day"] == "2026-11-01"
    assert binding["status"] == "pending" and binding["partner_id"] == "ride"
