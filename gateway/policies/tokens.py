"""Identity-issued JWTs (ES256) verified locally against the cached JWKS: app and operator tokens."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from gateway.policies.app_registry import AppRegistry, not_an_app
from gateway.policies.denial import PolicyDenied, unauthenticated
from gateway.policies.operator_scope import ROLES
from gateway.policies.store import EdgeStore, runs_inline
from gateway.policies.token_cache import VerifiedToken, VerifiedTokens

ISSUER = "lattice-identity"
OPERATOR_AUDIENCE = "lattice-ops"
ALGORITHM = "ES256"
# RFC 9068 access tokens: header typ "at+jwt"; the private claim `kind` names the principal kind
TOKEN_TYPE = "at+jwt"
KINDS = ("customer", "operator", "partner", "service")
MAX_LIFETIME_S = 15 * 60
_ACR_LEVEL = re.compile(r"([0-9]+)$")
_BRANCH = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class JwksCache:
    """The identity JWKS, fetched lazily, refreshed when stale or on an unknown `kid` (rate-limited)."""

    def __init__(
        self, fetch: Callable[[], str], *, max_age_s: float = 60.0, min_refresh_interval_s: float = 1.0
    ) -> None:
        self._fetch = fetch
        self._max_age_s = max_age_s
        self._min_interval_s = min_refresh_interval_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The public key with this id; refetches the set at most once per minimum interval."""
        now = time.monotonic()
        key = self._keys.get(kid)
        stale = now - self._fetched_at > self._max_age_s
        if key is not None and not stale:
            return key
        with self._lock:
            if (key is None or stale) and time.monotonic() - self._fetched_at >= self._min_interval_s:
                self._refresh()
            return self._keys.get(kid)

    def fresh(self, kid: str, *, margin_s: float = 1.0) -> bool:
        """True when `key(kid)` answers from the set in memory for at least `margin_s` more."""
        return kid in self._keys and time.monotonic() - self._fetched_at <= self._max_age_s - margin_s

    def _refresh(self) -> None:
        try:
            document = json.loads(self._fetch())
        except Exception as exc:  # identity down or a broken document: keep the keys we had
            if not self._keys:
                raise PolicyDenied(
                    503, "keys_unavailable", "token keys are unavailable, retry later"
                ) from exc
            return
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if entry.get("kid") and entry.get("kty") == "EC":
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        self._keys = keys
        self._fetched_at = time.monotonic()


@dataclass(frozen=True)
class CustomerClaims:
    customer_id: str
    app_id: str
    assurance_level: int
    scopes: frozenset[str]
    token_id: str


@dataclass(frozen=True)
class OperatorClaims:
    operator_id: str
    role: str
    branch: str | None


def withdrawn_key_key(kid: str) -> str:
    """The edge-store key that marks a token signing key identity withdrew in an emergency."""
    return f"signing-key-withdrawn:{kid}"


class _TokenVerifier:
    kind = ""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        revoked: EdgeStore | None = None,
        leeway_s: int = 5,
        cache: VerifiedTokens | None = None,
    ) -> None:
        self._jwks = jwks
        self._revoked = revoked
        self._leeway_s = leeway_s
        self._cache = cache

    def _decode(self, authorization: str | None, audience: str) -> dict:  # type: ignore[type-arg]  # decoded JWT claims, validated field by field by the caller
        token = bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthenticated("token_malformed", "the bearer token is not a JWT") from exc
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise unauthenticated("token_invalid", f"tokens must be {ALGORITHM} with a key id")
        if header.get("typ") != TOKEN_TYPE:
            raise unauthenticated("token_invalid", f"access tokens are typ {TOKEN_TYPE}")
        if self._revoked is not None and self._revoked.is_claimed(withdrawn_key_key(header["kid"])):
            raise unauthenticated("token_invalid", "the token's key was withdrawn")
        key = self._jwks.key(header["kid"])
        if key is None:
            raise unauthenticated("token_invalid", "the token's key is unknown")
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=self._leeway_s,
            options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"], "verify_aud": False},
        )
        # the kind first: a token of another kind is refused whatever its audience
        if claims.get("kind") != self.kind:
            raise self._wrong_kind()
        if claims["aud"] != audience:
            raise self._wrong_audience()
        if claims["exp"] - claims["iat"] > MAX_LIFETIME_S or not isinstance(claims["sub"], str):
            raise unauthenticated("token_invalid", "the token lives too long or has no subject")
        return claims

    def _verify(self, authorization: str | None, audience: str) -> dict:  # type: ignore[type-arg]  # decoded JWT claims, validated field by field by the caller
        if self._cache is None:
            return self._verify_signature(authorization, audience)
        token = bearer_token(authorization)
        kept = self._cache.get(token, audience)
        if kept is not None and self._still_trusted(kept):
            return kept.claims
        claims = self._verify_signature(authorization, audience)
        kid = jwt.get_unverified_header(token)["kid"]
        self._cache.put(token, audience, VerifiedToken(claims, kid, claims["exp"] + self._leeway_s))
        return claims

    def _verifies_inline(self, authorization: str | None, audience: str) -> bool:
        """True when `_verify` needs no I/O and no signature check: the verification is kept, its key
        is in the fresh key set and the edge's marks are in this process's memory."""
        if self._cache is None or (self._revoked is not None and not runs_inline(self._revoked)):
            return False
        try:
            token = bearer_token(authorization)
        except PolicyDenied:
            return True  # refused at once
        kept = self._cache.get(token, audience)
        return kept is not None and self._jwks.fresh(kept.kid)

    def _still_trusted(self, kept: VerifiedToken) -> bool:
        """A kept verification holds while its key is in the key set and not withdrawn."""
        if self._revoked is not None and self._revoked.is_claimed(withdrawn_key_key(kept.kid)):
            return False
        return self._jwks.key(kept.kid) is not None

    def _verify_signature(self, authorization: str | None, audience: str) -> dict:  # type: ignore[type-arg]  # decoded JWT claims, validated field by field by the caller
        try:
            return self._decode(authorization, audience)
        except jwt.ExpiredSignatureError as exc:
            raise unauthenticated("token_expired", "the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise self._wrong_audience() from exc
        except jwt.PyJWTError as exc:
            raise unauthenticated("token_invalid", "the token is not valid") from exc

    def _wrong_audience(self) -> PolicyDenied:
        return unauthenticated("token_audience", "the token was not issued for this app")

    def _wrong_kind(self) -> PolicyDenied:
        return unauthenticated("token_kind", f"this route needs a {self.kind} token")


def ended_session_key(session_id: str) -> str:
    """The edge-store key that marks a session identity has ended (until its tokens expire)."""
    return f"session-ended:{session_id}"


class AppTokenPolicy(_TokenVerifier):
    """A customer's access token for one sibling app: the audience must be that app, and its session
    must not have ended (signed out everywhere, refresh token reused, consent withdrawn). With a
    registry, an app id identity does not know is 404 app_not_found before any token is read."""

    kind = "customer"

    def __init__(
        self,
        jwks: JwksCache,
        *,
        ended_sessions: EdgeStore | None = None,
        apps: AppRegistry | None = None,
        leeway_s: int = 5,
        cache: VerifiedTokens | None = None,
    ) -> None:
        super().__init__(jwks, revoked=ended_sessions, leeway_s=leeway_s, cache=cache)
        self._ended_sessions = ended_sessions
        self._apps = apps

    def require_app(self, app_id: str) -> None:
        """404 app_not_found unless `app_id` is a registered app (never another kind's audience)."""
        if self._apps is not None:
            self._apps.require(app_id)
        elif not_an_app(app_id):
            raise PolicyDenied(404, "app_not_found", "no such app")

    def app_known_inline(self, app_id: str) -> bool:
        """True when `require_app` answers without asking identity (the registry is fresh)."""
        return self._apps is None or self._apps.fresh(app_id)

    def answers_inline(self, *, authorization: str | None, app_id: str) -> bool:
        """True when `authenticate` answers in microseconds on the caller's thread: no I/O, no
        signature to verify (else it belongs in a worker thread)."""
        return self.app_known_inline(app_id) and self._verifies_inline(authorization, app_id)

    def authenticate(self, *, authorization: str | None, app_id: str) -> CustomerClaims:
        self.require_app(app_id)
        claims = self._verify(authorization, app_id)
        session_id = claims.get("sid")
        if (
            self._ended_sessions is not None
            and isinstance(session_id, str)
            and self._ended_sessions.is_claimed(ended_session_key(session_id))
        ):
            raise unauthenticated("session_ended", "this session has ended; sign in again")
        level = _ACR_LEVEL.search(str(claims.get("acr", "")))
        scope = claims.get("scope", "")
        return CustomerClaims(
            customer_id=claims["sub"],
            app_id=app_id,
            assurance_level=int(level.group(1)) if level else 1,
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            token_id=str(claims["jti"]),
        )


class OperatorTokenPolicy(_TokenVerifier):
    """A member of operations staff: audience lattice-ops, a known role, an optional branch."""

    kind = "operator"

    def authenticate(self, *, authorization: str | None) -> OperatorClaims:
        claims = self._verify(authorization, OPERATOR_AUDIENCE)
        role, branch = claims.get("role"), claims.get("branch")
        if role not in ROLES or (
            branch is not None and not (isinstance(branch, str) and _BRANCH.match(branch))
        ):
            raise unauthenticated("token_invalid", "the operator token has no valid role or branch")
        return OperatorClaims(operator_id=claims["sub"], role=role, branch=branch or None)

    def _wrong_audience(self) -> PolicyDenied:
        return unauthenticated("token_audience", "the token was not issued for operations staff")

    def _wrong_kind(self) -> PolicyDenied:
        # A genuine token of another kind (a customer's): authenticated, but not staff.
        return PolicyDenied(403, "operator_token_required", "operator routes need an operator token")


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        raise unauthenticated("token_missing", "an Authorization: Bearer token is required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 4096:
        raise unauthenticated("token_malformed", "use Authorization: Bearer <token>")
    return token.strip()


_APP_PATH = re.compile(r"^/v1/apps/([a-z][a-z0-9_-]{1,39})(?:/|$)")


def app_id_from_path(path: str) -> str | None:
    """The app of a customer route (`/v1/apps/{app_id}/...`), for hosts without path parameters."""
    match = _APP_PATH.match(path)
    return match.group(1) if match else None
