"""Every `# type: ignore` in the tree names its error codes and says why (docs/DEVELOPING.md, Type checking).

Ruff's PGH003 already refuses an ignore without a code; this adds the reason, which no linter checks.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("services", "gateway", "console", "tools", "infra", "tests")
IGNORE = re.compile(r"#\s*type:\s*ignore\b")
# `# type: ignore[code, code]  # why`: at least one code, then a comment of a few words
EXPLAINED = re.compile(r"#\s*type:\s*ignore\[[a-z-]+(?:,\s*[a-z-]+)*\]\s+#\s*\S+(?:\s+\S+){2,}")


def unexplained(source: str) -> list[int]:
    """Line numbers of the type-ignore comments in `source` that lack a code or a reason."""
    lines = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and IGNORE.search(token.string):
            if not EXPLAINED.search(token.string):
                lines.append(token.start[0])
    return lines


def test_the_check_tells_an_explained_ignore_from_a_bare_one() -> None:
    source = (
        "a = f()  # type: ignore\n"
        "b = f()  # type: ignore[arg-type]\n"
        "c = f()  # type: ignore[arg-type]  # ok\n"
        "d = f()  # type: ignore[arg-type, no-any-return]  # the stubs type it as bool\n"
        "e = '# type: ignore'\n"
    )
    assert unexplained(source) == [1, 2, 3]


def test_every_type_ignore_names_its_code_and_reason() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in CHECKED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in unexplained(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "a type: ignore needs [code] and '# reason': " + ", ".join(offenders)
