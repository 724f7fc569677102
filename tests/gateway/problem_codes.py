"""Every problem code the source can raise, found by reading it (no list to keep in step by hand).

A code is the string given to a problem's raiser: `Problem(status, "code")`, `PolicyDenied(status,
"code")`, `unauthenticated("code")`, `problem_response(request, status, "code")`, a service's domain
error (`InvalidInput("code")`, `NotFound(...)`, ...) which the gateway answers with that code, or a
`reason = "..."` / `CODE = "..."` assignment handed to one of them. An f-string code is a family
(`invalid_{what}` -> `invalid_*`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

RAISERS = {
    "Problem",
    "PolicyDenied",
    "unauthenticated",
    "problem_response",
    "DomainError",
    "InvalidInput",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "Rejected",
    "Forbidden",
    "Unauthenticated",
    "Unavailable",
    "RateLimited",
    "LinkRejected",
}
_CODE = re.compile(r"[a-z][a-z0-9_]+")
_NAMES = ("reason", "code", "CODE")
# the status names the gateway answers when a service's gRPC error carries no reason of its own
GRPC_STATUS_CODES = (
    "invalid_argument",
    "not_found",
    "already_exists",
    "failed_precondition",
    "aborted",
    "permission_denied",
    "unauthenticated",
    "resource_exhausted",
    "unavailable",
    "deadline_exceeded",
    "cancelled",
)


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _code_argument(call: ast.Call) -> ast.expr | None:
    """The argument holding the code: the first, or the first after a status or a request."""
    args = [a for a in call.args if not (isinstance(a, ast.Constant) and isinstance(a.value, int))]
    if _name(call.func) == "problem_response":
        args = args[1:]
    return args[0] if args else None


def scan(roots: list[Path]) -> tuple[dict[str, str], dict[str, str]]:
    """({code: where}, {family like 'invalid_*': where}) over every .py file under roots."""
    codes: dict[str, str] = {}
    families: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                where = f"{path}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id in _NAMES for t in node.targets
                ):
                    values = (
                        [node.value.body, node.value.orelse]
                        if isinstance(node.value, ast.IfExp)
                        else [node.value]
                    )
                    for value in values:
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            if _CODE.fullmatch(value.value):
                                codes.setdefault(value.value, where)
                if not isinstance(node, ast.Call) or _name(node.func) not in RAISERS:
                    continue
                arg = _code_argument(node)
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and _CODE.fullmatch(arg.value)
                ):
                    codes.setdefault(arg.value, where)
                elif isinstance(arg, ast.JoinedStr):
                    family = "".join(v.value if isinstance(v, ast.Constant) else "*" for v in arg.values)
                    families.setdefault(family, where)
    for code in GRPC_STATUS_CODES:
        codes.setdefault(code, "gateway/problems.py (gRPC status without a reason)")
    return codes, families
