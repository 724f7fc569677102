"""The repository stands alone: a bare clone, with nothing beside it, collects the whole suite and passes
the tests that use vendored third-party files; no tracked file reaches outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# spelled in parts so this file does not match its own scan
OUTSIDE = ("../" + "shared", '"shared"' + ' / "vendor"')
VENDORED_TESTS = ["tests/kong/test_kong_yml.py", "tests/platform/test_compose.py"]


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


@pytest.fixture(scope="module")
def bare_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("this test needs git and a git checkout (CI runs on a clone)")
    clone = tmp_path_factory.mktemp("alone") / "lattice"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    protos = [str(p.relative_to(clone / "protos")) for p in (clone / "protos").rglob("*.proto")]
    (clone / "gen").mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            "protos",
            "--python_out=gen",
            "--pyi_out=gen",
            "--grpc_python_out=gen",
            *protos,
        ],
        cwd=clone,
        check=True,
    )
    for folder in (clone / "gen" / "lattice").rglob("*"):
        if folder.is_dir():
            (folder / "__init__.py").touch()
    (clone / "gen" / "lattice" / "__init__.py").touch()
    return clone


def _pytest(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{clone}:{clone / 'gen'}"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_no_tracked_file_reaches_outside_the_checkout() -> None:
    offenders = []
    for name in _tracked_files():
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_text(errors="ignore")
        if any(marker in text for marker in OUTSIDE):
            offenders.append(name)
    assert offenders == []


def test_a_bare_clone_collects_the_whole_suite(bare_clone: Path) -> None:
    assert [entry.name for entry in bare_clone.parent.iterdir()] == [bare_clone.name]
    result = _pytest(bare_clone, "--collect-only")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " collected" in result.stdout or "tests collected" in result.stdout


def test_a_bare_clone_passes_the_tests_of_vendored_files(bare_clone: Path) -> None:
    result = _pytest(bare_clone, *VENDORED_TESTS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
