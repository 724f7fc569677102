"""On whose behalf a call is made: a short-lived assertion the gateway signs, every service verifies.

The gateway signs the authenticated principal (ES256, its own key, its certificate in `x5c`) and
sends it in `lattice-on-behalf-of` metadata; one assertion serves the same principal's requests
while at least half of its TTL_S is left (`assertion_for`), so neither the gateway's signature nor a
service's verification (cached per assertion) is paid on every request. A service accepts it only when the
certificate was issued by the service CA to an asserting identity, and refuses a request whose
principal fields (`actor`, `caller`, `principal` messages; a customer's or partner's own id) say
something else: it no longer believes plain fields.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import threading
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
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
    """The principal of the request being served, and its assertion (looked up once per request)."""

    principal: Principal
    _token: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token(self, identity: ServiceIdentity) -> str:
        with self._lock:
            if not self._token:
                self._token = assertion_for(self.principal, identity=identity)
            return self._token


acting: ContextVar[Acting | None] = ContextVar("lattice_acting", default=None)


def act_for(principal: Principal) -> None:
    """Calls made from here on in this request carry `principal`'s assertion."""
    acting.set(Acting(principal))


# An assertion is handed out again for the same principal while this much of its life is left: a
# service that receives it still has at least this long to use it, and caches it verified.
REUSE_WHILE_LEFT_S = TTL_S / 2
_SIGNED_MAX = 4096
_signed: dict[tuple[bytes, Principal], tuple[float, str]] = {}


def assertion_for(principal: Principal, *, identity: ServiceIdentity) -> str:
    """`principal`'s assertion signed by `identity`: the one signed earlier while it has at least
    REUSE_WHILE_LEFT_S to live, else a new one (the same claims either way; nothing checks `jti` for
    replays: the assertion is a statement of who the caller acts for, valid until `exp`)."""
    key = (identity.cert_pem, principal)
    found = _signed.get(key)
    now = time.monotonic()
    if found is not None and found[0] > now:
        return found[1]
    token = sign(principal, identity=identity)
    if len(_signed) >= _SIGNED_MAX:
        _signed.clear()
    _signed[key] = (now + TTL_S - REUSE_WHILE_LEFT_S, token)
    return token


_ES256 = ec.ECDSA(hashes.SHA256())
_LEEWAY_S = 5
_REQUIRED = ("exp", "iat", "sub")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@functools.lru_cache(maxsize=8)
def _header_segment(cert_pem: bytes) -> str:
    """The JWS header of a signer (ES256, its certificate in `x5c`): the same for every assertion."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    header = {"alg": "ES256", "typ": "JWT", "x5c": [base64.b64encode(der).decode()]}
    return _b64url(json.dumps(header, separators=(",", ":")).encode())


def sign(principal: Principal, *, identity: ServiceIdentity) -> str:
    """A compact JWS (RFC 7515, ES256) of the principal, valid TTL_S seconds, signed with `identity`'s key.

    Written directly with `cryptography` (the header is built once per signer): the same token a JWT
    library would write, for a fraction of the CPU on the gateway's per-request path."""
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
    signing_input = (
        f"{_header_segment(identity.cert_pem)}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
    )
    r, s = decode_dss_signature(identity.private_key.sign(signing_input.encode(), _ES256))
    return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class AssertionVerifier:
    """Verifies assertions against the service CA; a signer's header (its certificate) is checked once
    and cached, so each assertion costs one ES256 signature check and one JSON decode."""

    def __init__(self, ca: x509.Certificate) -> None:
        self._ca = ca
        # header segment -> (the signer's key, the end of its certificate's validity)
        self._signers: dict[str, tuple[ec.EllipticCurvePublicKey, float]] = {}
        # A request's several calls carry one assertion: verify it once (until it expires).
        self._verified: dict[str, tuple[float, Principal]] = {}

    def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        principal, expires = self._verify(token)
        if len(self._verified) >= _SIGNED_MAX:
            self._verified.clear()
        self._verified[token] = (expires, principal)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            head, body, signature = token.split(".")
            key = self._signer_key(head)
            raw = _unb64url(signature)
            if len(raw) != 64:
                raise ValueError("an ES256 signature is 64 bytes")
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            key.verify(der, f"{head}.{body}".encode(), _ES256)
            claims = json.loads(_unb64url(body))
            if not isinstance(claims, dict):
                raise ValueError("the claims are not an object")
            _check_claims(claims, time.time())
        except AssertionRefused:
            raise
        except (InvalidSignature, KeyError, IndexError, TypeError, ValueError, binascii.Error) as exc:
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

    def _signer_key(self, head: str) -> ec.EllipticCurvePublicKey:
        signer = self._signers.get(head)
        if signer is not None and time.time() <= signer[1]:
            return signer[0]
        header = json.loads(_unb64url(head))
        if not isinstance(header, dict) or header.get("alg") != "ES256" or "crit" in header:
            raise ValueError("the assertion's header must say ES256 and nothing critical")
        cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0], validate=True))
        try:
            cert.verify_directly_issued_by(self._ca)
        except Exception as exc:  # noqa: BLE001 - any failure means "not our CA"
            raise AssertionRefused("the assertion's certificate is not from the service CA") from exc
        now = time.time()
        not_after = cert.not_valid_after_utc.timestamp()
        if not cert.not_valid_before_utc.timestamp() <= now <= not_after:
            raise AssertionRefused("the assertion's certificate is not valid now")
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if len(names) != 1 or names[0].value not in ASSERTING:
            raise AssertionRefused("the assertion's signer may not vouch for principals")
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise AssertionRefused("the assertion's certificate has no P-256 key")
        if len(self._signers) > 64:
            self._signers.clear()
        self._signers[head] = (key, not_after)
        return key


def _check_claims(claims: dict[str, object], now: float) -> None:
    """The registered claims as a JWT library checks them (RFC 7519), with a leeway of _LEEWAY_S."""
    for name in _REQUIRED:
        if name not in claims:
            raise KeyError(f"the assertion has no {name!r} claim")
    if not isinstance(claims["sub"], str):
        raise TypeError("the subject must be a string")
    if int(claims["exp"]) <= now - _LEEWAY_S:  # type: ignore[call-overload]  # claims are JSON: int() refuses what is not a number
        raise ValueError("the assertion has expired")
    if int(claims["iat"]) > now + _LEEWAY_S:  # type: ignore[call-overload]  # claims are JSON: int() refuses what is not a number
        raise ValueError("the assertion is not valid yet (iat)")
    if "nbf" in claims and int(claims["nbf"]) > now + _LEEWAY_S:  # type: ignore[call-overload]  # claims are JSON: int() refuses what is not a number
        raise ValueError("the assertion is not valid yet (nbf)")
    if "aud" in claims:
        raise ValueError("the assertion names an audience nobody here is")


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
