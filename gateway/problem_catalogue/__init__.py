"""What every problem `code` the gateway can answer means and how a caller fixes it.

Each code's `type` URI (`<PROBLEM_BASE_URL>/problems/<code>`) resolves to a page built from this
catalogue (`gateway/routes/problem_types.py`). A code is described by its own entry or, for the
regular families (`invalid_<field>`, `<object>_not_found`, `<object>_exists`, ...), by its family's
entry (`families.py`). The entries live by family of codes, one module each (the edge, who is
calling, sign-in, permissions, then a module per service); this module is their one registry.
`tests/gateway/test_problem_types.py` scans the source for every code raised anywhere and fails when
one is not described here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.problem_catalogue import (
    authentication,
    benefits,
    content,
    conversion,
    edge,
    permissions,
    reach,
    sign_in,
)
from gateway.problem_catalogue.families import FAMILIES, GRPC_STATUS_FIX, GRPC_STATUSES


@dataclass(frozen=True)
class ProblemType:
    code: str
    title: str
    meaning: str
    fix: str


_CODE = re.compile(r"[a-z][a-z0-9_]{1,63}")

# code: (title, what it means, what the caller does about it)
_ENTRIES: dict[str, tuple[str, str, str]] = {}
for _module in (edge, authentication, sign_in, permissions, benefits, content, reach, conversion):
    _twice = _ENTRIES.keys() & _module.ENTRIES.keys()
    if _twice:
        raise ValueError(f"{_module.__name__} describes codes described already: {sorted(_twice)}")
    _ENTRIES.update(_module.ENTRIES)
for _name, _text in GRPC_STATUSES.items():
    _ENTRIES.setdefault(_name, (_name.replace("_", " ").capitalize(), _text, GRPC_STATUS_FIX))


def describe(code: str) -> ProblemType | None:
    """The page content for a code, or None when Lattice never answers it."""
    if not _CODE.fullmatch(code):
        return None
    entry = _ENTRIES.get(code)
    if entry is not None:
        return ProblemType(code, *entry)
    for pattern, title, meaning, fix in FAMILIES:
        match = pattern.fullmatch(code)
        if match:
            x = match.group("x").replace("_", " ")
            return ProblemType(code, title.format(x=x).capitalize(), meaning.format(x=x), fix.format(x=x))
    return None


def documented_codes() -> list[str]:
    """The codes with their own entry (families are described by pattern)."""
    return sorted(_ENTRIES)


def families() -> list[str]:
    """The family patterns, as `invalid_<x>`-style names."""
    return [
        pattern.pattern.replace("(?P<x>[a-z0-9_]+)", "<x>").replace("(?P<x>[a-z_]+)", "<x>")
        for pattern, *_ in FAMILIES
    ]
