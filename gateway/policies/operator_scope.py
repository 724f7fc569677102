"""Operator roles and scope: head office (no branch) or exactly one branch."""

from __future__ import annotations

ROLES = ("viewer", "operator", "reviewer", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}


def role_at_least(role: str, required: str) -> bool:
    """Roles are ordered viewer < operator < reviewer < admin; unknown roles have none."""
    return role in _RANK and required in _RANK and _RANK[role] >= _RANK[required]


def can_manage_branch(*, operator_branch: str | None, object_branch: str | None) -> bool:
    """Head office manages every object; a branch operator only the objects of its own branch."""
    if operator_branch is None:
        return True
    return object_branch is not None and object_branch == operator_branch
