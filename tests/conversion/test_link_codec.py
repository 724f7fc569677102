"""Signed partner links: round trip, every one-character tampering, expiry, unknown and rotated keys."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest

from services.runtime.link_codec import LinkClaims, LinkRejected, sign_link, verify_link

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEYS = {"k1": b"s" * 32, "k2": b"t" * 32}


def claims(**overrides: object) -> LinkClaims:
    values = {
        "link_id": "AbCdEf1234",
        "partner_id": "ride",
        "campaign_id": "spring",
        "scene": "home",
        "expires_at": NOW + timedelta(days=30),
        "key_id": "k1",
    }
    values.update(overrides)
    return LinkClaims(**values)


def test_a_signed_link_verifies_to_its_claims() -> None:
    code = sign_link(claims=claims(), secret=KEYS["k1"])
    assert verify_link(code=code, keys=KEYS, now=NOW) == claims(expires_at=(NOW + timedelta(days=30)))
    assert len(code) < 80


def test_changing_any_single_character_is_rejected() -> None:
    code = sign_link(claims=claims(), secret=KEYS["k1"])
    for i, char in enumerate(code):
        for replacement in ("a", "Z", "0"):
            if replacement == char:
                continue
            tampered = code[:i] + replacement + code[i + 1 :]
            with pytest.raises(LinkRejected) as err:
                verify_link(code=tampered, keys=KEYS, now=NOW)
            assert err.value.reason in ("bad_signature", "unknown_key"), (i, tampered)


def test_garbage_is_rejected_without_errors() -> None:
    for code in (
        "",
        "x" * 500,
        "a.b.c",
        "." * 6,
        string.punctuation,
        "AbCdEf1234.ride.spring.home.zzzzzzzzzzzzzzzzz.k1.sig",
    ):
        with pytest.raises(LinkRejected):
            verify_link(code=code, keys=KEYS, now=NOW)


def test_an_expired_link_is_rejected_with_its_claims() -> None:
    code = sign_link(claims=claims(expires_at=NOW - timedelta(seconds=1)), secret=KEYS["k1"])
    with pytest.raises(LinkRejected) as err:
        verify_link(code=code, keys=KEYS, now=NOW)
    assert err.value.reason == "expired" and err.value.claims is not None
    assert err.value.claims.partner_id == "ride"


def test_a_link_of_a_retired_key_no_longer_verifies() -> None:
    code = sign_link(claims=claims(key_id="k2"), secret=KEYS["k2"])
    assert verify_link(code=code, keys=KEYS, now=NOW).key_id == "k2"
    with pytest.raises(LinkRejected) as err:
        verify_link(code=code, keys={"k1": KEYS["k1"]}, now=NOW)
    assert err.value.reason == "unknown_key"


def test_a_link_signed_with_another_secret_under_a_known_key_id_fails() -> None:
    code = sign_link(claims=claims(), secret=b"attacker" * 4)
    with pytest.raises(LinkRejected) as err:
        verify_link(code=code, keys=KEYS, now=NOW)
    assert err.value.reason == "bad_signature"
