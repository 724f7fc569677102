"""Operations staff: the operator registry and operator tokens (client credentials)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.identity.admin_trail import ChangedBy, record
from services.identity.keys import TokenSigner
from services.identity.models import Operator
from services.identity.secrets_hashing import hash_secret, new_secret, verify_secret
from services.runtime.clock import utcnow
from services.runtime.db import read_session, transaction
from services.runtime.errors import AlreadyExists, Forbidden, InvalidInput, Unauthenticated

ROLES = ("viewer", "operator", "reviewer", "admin")
OPS_AUDIENCE = "lattice-ops"
OPERATOR_TOKEN_TTL = timedelta(minutes=15)
_ID = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


def register_operator(
    *,
    engine: Engine,
    operator_id: str,
    role: str,
    branch: str | None,
    client_secret: str = "",
    by: ChangedBy | None = None,
) -> tuple[Operator, str]:
    """Add an operator; returns it with its client secret (generated when not given)."""
    if not _ID.match(operator_id):
        raise InvalidInput(
            "invalid_operator_id", "operator_id must be 2-40 lowercase letters, digits, - or _"
        )
    if role not in ROLES:
        raise InvalidInput("invalid_role", f"role must be one of {', '.join(ROLES)}")
    if branch is not None and not _ID.match(branch):
        raise InvalidInput("invalid_branch", "branch must be 2-40 lowercase letters, digits, - or _")
    if client_secret and len(client_secret) < 16:
        raise InvalidInput("weak_secret", "client secrets have at least 16 characters")
    secret = client_secret or new_secret()
    operator = Operator(operator_id=operator_id, role=role, branch=branch, secret_hash=hash_secret(secret))
    with transaction(engine) as session:
        if session.get(Operator, operator_id) is not None:
            raise AlreadyExists("operator_exists", f"operator {operator_id} is already registered")
        session.add(operator)
        record(
            session,
            by=by,
            action="operator_registered",
            entity="operator",
            entity_id=operator_id,
            branch=branch or "",
            detail=f"role {role}; {'branch ' + branch if branch else 'head office'}",
        )
    return operator, secret


def issue_operator_token(
    *, engine: Engine, signer: TokenSigner, operator_id: str, client_secret: str
) -> tuple[str, Operator]:
    """An operator access token (aud lattice-ops) for valid client credentials."""
    with read_session(engine) as session:
        operator = session.get(Operator, operator_id) if operator_id else None
    if not verify_secret(client_secret, operator.secret_hash if operator else None) or operator is None:
        raise Unauthenticated("invalid_client", "unknown operator or wrong secret")
    now = utcnow()
    claims: dict[str, object] = {
        "aud": OPS_AUDIENCE,
        "sub": operator.operator_id,
        "role": operator.role,
        "iat": int(now.timestamp()),
        "exp": int((now + OPERATOR_TOKEN_TTL).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if operator.branch:
        claims["branch"] = operator.branch
    return signer.sign(claims, kind="operator"), operator


def list_operators(
    *,
    engine: Engine,
    actor_role: str,
    actor_branch: str | None,
    branch: str = "",
    role: str = "",
    limit: int = 50,
    after: str = "",
) -> list[Operator]:
    """The staff registry for an admin: head office sees everyone, a branch admin its own branch."""
    if actor_role != "admin":
        raise Forbidden("role_required", "listing operators needs the admin role")
    if role and role not in ROLES:
        raise InvalidInput("invalid_role", f"role must be one of {', '.join(ROLES)}")
    if actor_branch is not None:
        if branch not in ("", actor_branch):
            raise Forbidden("branch_scope", "a branch admin sees only its own branch's operators")
        branch = actor_branch
    query = select(Operator).where(col(Operator.operator_id) > after).order_by(col(Operator.operator_id))
    if branch == "-":
        query = query.where(col(Operator.branch).is_(None))
    elif branch:
        query = query.where(col(Operator.branch) == branch)
    if role:
        query = query.where(col(Operator.role) == role)
    with read_session(engine) as session:
        return list(session.exec(query.limit(limit)).all())
