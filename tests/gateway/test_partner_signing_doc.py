"""The shell example of docs/partner-signing.md (openssl + curl) works against the real gateway."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "partner-signing.md"


def shell_example() -> str:
    return re.search(r"```sh\n(.*?)```", DOC.read_text(), re.S).group(1)


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("curl")), reason="needs openssl and curl")
def test_the_documented_shell_example_signs_a_request_the_gateway_accepts(gateway: httpx.Client) -> None:
    ref = f"doc-user-{uuid.uuid4().hex[:8]}"
    script = (
        shell_example()
        .replace("BASE=http://127.0.0.1:8080", f"BASE={str(gateway.base_url).rstrip('/')}")
        .replace("ride-user-42", ref)
    )

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=30
        )

    first = run()
    assert first.returncode == 0, first.stderr
    body = json.loads(first.stdout)
    assert body.get("binding_id") and body.get("status") != 401, body
    retry = run()
    assert json.loads(retry.stdout) == body


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("curl")), reason="needs openssl and curl")
def test_the_documented_get_with_a_query_is_accepted(gateway: httpx.Client) -> None:
    """The guide's GET: the shell example with the values of its second block."""
    script, overrides = re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.S)[:2]
    for line in overrides.strip().splitlines():
        name = line.split("=", 1)[0]
        script, count = re.subn(rf"^{name}=.*$", lambda _m, line=line: line, script, flags=re.M)
        assert count == 1, name
    script = script.replace("BASE=http://127.0.0.1:8080", f"BASE={str(gateway.base_url).rstrip('/')}")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["partner_id"] == "ride" and report["to_day"] == "2026-11-30", report
