"""On whose behalf a call is made: a short-lived assertion the gateway signs, every service verifies.

The gateway signs the authenticated principal (ES256, its own key, its certificate in `x5c`) once per
request and sends it in `lattice-on-behalf-of` metadata. A service accepts it only when the
certificate was issued by the service CA to an asserting identity, and refuses a request whose
principal fields (`actor`, `caller`, `principal` messages; a customer's or partner's own id) say
something else: it no longer believes plain fields.
"""

from __future__ import annotations

import base64
import functools
import threading
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf.message import Message

from services.runtime.pki import ServiceIdentity

METADATA_KEY = "lattice-on-behalf-of"
# Only the gateway authenticates customers, partners and operators, so only it vouches for them.
ASSERTING = frozenset({"gateway"})
TTL_S = 60
KINDS = ("customer", "partner", "operator")
# Request fields holding the principal a call acts for (a message of its own, by convention).
CARRIERS = ("actor", "caller", "principal")


class AssertionRefused(Exception):
    """The assertion is missing, forged, expired, or disagrees with the request."""


@dataclass(frozen=True)
class Principal:
    """Who a call acts for: kind, subject (customer, partner or operator id) and scope."""

    kind: str
    subject: str
    app: str = ""
    role: str = ""
    branch: str = ""  # operators: "" is head office


@dataclass
class Acting:
    """The principal of the request being served, and its assertion once signed (once per request)."""

    principal: Principal
    _token: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token(self, identity: ServiceIdentity) -> str:
        with self._lock:
            if not self._token:
                self._token = sign(self.principal, identity=identity)
            return self._token


acting: ContextVar[Acting | None] = ContextVar("lattice_acting", default=None)


def act_for(principal: Principal) -> None:
    """Calls made from here on in this request carry `principal`'s assertion."""
    acting.set(Acting(principal))


@functools.lru_cache(maxsize=8)
def _x5c(cert_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode()


def sign(principal: Principal, *, identity: ServiceIdentity) -> str:
    """A compact JWS of the principal, valid TTL_S seconds, signed with `identity`'s key."""
    now = int(time.time())
    claims = {
        "iss": identity.name,
        "kind": principal.kind,
        "sub": principal.subject,
        "app": principal.app,
        "role": principal.role,
        "branch": principal.branch,
        "iat": now,
        "exp": now + TTL_S,
        "jti": uuid.uuid4().hex,
    }
    header = {"x5c": [_x5c(identity.cert_pem)]}
    return jwt.encode(claims, identity.private_key, algorithm="ES256", headers=header)


class AssertionVerifier:
    """Verifies assertions against the service CA; signer certificates are checked once and cached."""

    def __init__(self, ca: x509.Certificate) -> None:
        self._ca = ca
        self._keys: dict[bytes, ec.EllipticCurvePublicKey] = {}
        # A request's several calls carry one assertion: verify it once (until it expires).
        self._verified: dict[str, tuple[float, Principal]] = {}

    def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        principal, expires = self._verify(token)
        if len(self._verified) > 1024:
            self._verified.clear()
        self._verified[token] = (expires, principal)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            der = base64.b64decode(header["x5c"][0], validate=True)
            key = self._keys.get(der) or self._signer_key(der)
            claims = jwt.decode(
                token, key, algorithms=["ES256"], leeway=5, options={"require": ["exp", "iat", "sub"]}
            )
        except (jwt.PyJWTError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise AssertionRefused(f"on-behalf-of assertion refused: {type(exc).__name__}") from exc
        if claims.get("kind") not in KINDS or not claims["sub"]:
            raise AssertionRefused("on-behalf-of assertion names no principal")
        principal = Principal(
            kind=claims["kind"],
            subject=str(claims["sub"]),
            app=str(claims.get("app", "")),
            role=str(claims.get("role", "")),
            branch=str(claims.get("branch", "")),
        )
        return principal, float(claims["exp"])

    def _signer_key(self, der: bytes) -> ec.EllipticCurvePublicKey:
        cert = x509.load_der_x509_certificate(der)
        try:
            cert.verify_directly_issued_by(self._ca)
        except Exception as exc:  # noqa: BLE001 - any failure means "not our CA"
            raise AssertionRefused("the assertion's certificate is not from the service CA") from exc
        now = time.time()
        if not cert.not_valid_before_utc.timestamp() <= now <= cert.not_valid_after_utc.timestamp():
            raise AssertionRefused("the assertion's certificate is not valid now")
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if len(names) != 1 or names[0].value not in ASSERTING:
            raise AssertionRefused("the assertion's signer may not vouch for principals")
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise AssertionRefused("the assertion's certificate has no EC key")
        if len(self._keys) > 64:
            self._keys.clear()
        self._keys[der] = key
        return key


def carriers(request: Message) -> list[Message]:
    """The principal messages a request carries (`actor`, `caller`, `principal`), when set."""
    found = []
    for name in CARRIERS:
        fd = request.DESCRIPTOR.fields_by_name.get(name)
        if fd is not None and fd.message_type is not None and request.HasField(name):
            found.append(getattr(request, name))
    return found


def _expected(principal: Principal) -> dict[str, str]:
    """What each principal field must say for this principal (exactly, empty included)."""
    if principal.kind == "customer":
        return {"kind": "customer", "customer_id": principal.subject, "app_id": principal.app,
                "scope_id": principal.app, "operator_id": "", "actor_id": "", "partner_id": ""}  # fmt: skip
    if principal.kind == "partner":
        return {"kind": "partner", "partner_id": principal.subject, "scope_id": principal.subject,
                "customer_id": "", "operator_id": "", "actor_id": ""}  # fmt: skip
    return {"kind": "operator", "operator_id": principal.subject, "actor_id": principal.subject,
            "branch": principal.branch, "scope_id": principal.branch, "customer_id": ""}  # fmt: skip


def disagreements(request: Message, principal: Principal) -> list[str]:
    """The request's principal fields that disagree with the asserted principal."""
    expected = _expected(principal)
    wrong = []
    for carrier in carriers(request):
        fields = carrier.DESCRIPTOR.fields_by_name
        for name, want in expected.items():
            if name in fields and isinstance(getattr(carrier, name), str) and getattr(carrier, name) != want:
                wrong.append(f"{carrier.DESCRIPTOR.name}.{name}")
        if principal.kind == "operator" and "role" in fields and carrier.role not in ("", principal.role):  # type: ignore[attr-defined]  # carriers are any generated message; `role` is checked in its descriptor first
            wrong.append(f"{carrier.DESCRIPTOR.name}.role")
    own = {"customer": "customer_id", "partner": "partner_id"}.get(principal.kind)
    if (
        own
        and own in request.DESCRIPTOR.fields_by_name
        and getattr(request, own) not in ("", principal.subject)
    ):
        wrong.append(own)
    return wrong


def claimed_principal(request: Message) -> Principal | None:
    """The principal a request's own fields claim (tests and tools acting as the gateway)."""
    for carrier in carriers(request):
        fields = carrier.DESCRIPTOR.fields_by_name
        value = {name: getattr(carrier, name) for name in fields if isinstance(getattr(carrier, name), str)}
        kind = value.get("kind") or ("customer" if value.get("customer_id") else "operator")
        if kind == "customer":
            subject = str(value.get("customer_id") or getattr(request, "customer_id", ""))
            return Principal("customer", subject, app=value.get("app_id") or value.get("scope_id", ""))
        if kind == "partner":
            return Principal("partner", value.get("partner_id") or value.get("scope_id", ""))
        if kind == "operator":
            subject = value.get("operator_id") or value.get("actor_id", "")
            branch = value.get("branch", value.get("scope_id", ""))
            return Principal("operator", subject, role=value.get("role", ""), branch=branch)
    return None
