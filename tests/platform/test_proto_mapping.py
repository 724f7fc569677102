"""The one protobuf <-> model mapping (services/runtime/proto_mapping.py), protobuf -> model: every field
kind of the in-memory Probe contract (tests/support/probe_contract.py), and the gateway's answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from services.runtime.proto_mapping import enum_name, from_proto, from_protos
from tests.support.probe_contract import SCALARS, Part, PartPublic, Probe, ProbePublic, labels, moments, stamp


def test_an_empty_message_reads_as_nulls_and_zeros_never_1970() -> None:
    out = from_proto(ProbePublic, Probe())
    assert out.model_dump() == {
        **{name: ("" if name == "f_string" else b"" if name == "f_bytes" else 0) for name in SCALARS},
        "f_bool": False,
        "kind": None,
        "at": None,
        "part": None,
        "parts": [],
        "tags": [],
        "kinds": [],
        "times": [],
        "level": None,
        "rates": {},
        "by_label": {},
    }


@settings(max_examples=60, deadline=None)
@given(
    f_string=labels,
    f_int64=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    f_uint64=st.integers(min_value=0, max_value=2**64 - 1),
    f_double=st.floats(allow_nan=False, allow_infinity=False),
    kind=st.sampled_from([0, 1, 2]),
    at=st.none() | moments,
    part=st.none() | st.tuples(labels, moments),
    parts=st.lists(st.tuples(labels, st.none() | moments), max_size=3),
    level=st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1),
    rates=st.dictionaries(labels, st.floats(allow_nan=False, allow_infinity=False), max_size=3),
)
def test_every_field_kind_maps_by_name(
    f_string: str,
    f_int64: int,
    f_uint64: int,
    f_double: float,
    kind: int,
    at: datetime | None,
    part: tuple[str, datetime] | None,
    parts: list[tuple[str, datetime | None]],
    level: int | None,
    rates: dict[str, float],
) -> None:
    message: Any = Probe(
        f_string=f_string,
        f_bytes=f_string.encode(),
        f_bool=True,
        f_int64=f_int64,
        f_uint64=f_uint64,
        f_sint64=-5,
        f_double=f_double,
        kind=kind,
        at=stamp(at),
        parts=[Part(label=label, at=stamp(when)) for label, when in parts],
        tags=["a", "b"],
        kinds=[2, 0],
        times=[stamp(at)],
        rates=rates,
        by_label={label: Part(label=label) for label, _ in parts},
    )
    if part is not None:
        message.part.CopyFrom(Part(label=part[0], at=stamp(part[1])))
    if level is not None:
        message.level = level
    out = from_proto(ProbePublic, message)
    assert (out.f_string, out.f_bytes, out.f_bool) == (f_string, f_string.encode(), True)
    assert (out.f_int64, out.f_uint64, out.f_sint64, out.f_double) == (f_int64, f_uint64, -5, f_double)
    assert out.kind == [None, "fixed_coupon", "perk"][kind]
    assert out.at == at and (out.at is None or out.at.tzinfo is not None)
    assert out.part == (None if part is None else PartPublic(label=part[0], at=part[1]))
    assert out.parts == [PartPublic(label=label, at=when) for label, when in parts]
    assert (out.tags, out.kinds, out.times) == (["a", "b"], ["perk", None], [at])
    assert out.level == level
    assert out.rates == rates
    assert out.by_label == {label: PartPublic(label=label, at=None) for label, _ in parts}


def test_proto3_optional_zero_is_kept_apart_from_unset() -> None:
    message: Any = Probe()
    message.level = 0
    assert from_proto(ProbePublic, message).level == 0


class Summary(BaseModel):
    f_string: str | None
    f_int32: int | None  # proto3 cannot tell 0 from unset: 0 reads as null where the model allows it
    f_int64: int | None
    tags: str  # the HTTP shape joins them: given as an override
    note: str = "kept"  # not in the message: the model's default


def test_overrides_defaults_and_empty_optional_strings() -> None:
    message: Any = Probe(tags=["x", "y"], f_int64=7)
    out = from_proto(Summary, message, tags=" ".join(message.tags))
    assert out == Summary(f_string=None, f_int32=None, f_int64=7, tags="x y", note="kept")


def test_a_required_field_the_message_lacks_is_refused_by_name() -> None:
    class Stray(BaseModel):
        missing: str

    with pytest.raises(TypeError, match=r"Stray\.missing: probe\.v1\.Probe"):
        from_proto(Stray, Probe())


def test_a_message_field_read_as_something_else_needs_an_override() -> None:
    class Flat(BaseModel):
        part: dict[str, object]  # the HTTP shape is not the nested message's

    message: Any = Probe(part=Part(label="a"))
    assert from_proto(Flat, message, part={"label": message.part.label}).part == {"label": "a"}
    with pytest.raises(TypeError, match=r"probe\.v1\.Probe\.part: the model needs a nested model"):
        from_proto(Flat, message)


def test_repeated_messages_and_enum_names_come_from_the_descriptor() -> None:
    assert from_protos(PartPublic, [Part(label="a"), Part()]) == [
        PartPublic(label="a", at=None),
        PartPublic(label=None, at=None),
    ]
    kind: Any = Probe.DESCRIPTOR.fields_by_name["kind"].enum_type
    assert [enum_name(kind, n) for n in (0, 1, 2, 9)] == [None, "fixed_coupon", "perk", None]


# answers that are standard documents, not models: liveness, OpenID discovery, the JWKS as identity
# publishes it
DOCUMENTS = {"/healthz", "/.well-known/openid-configuration", "/v1/.well-known/jwks.json"}


def test_every_answer_is_a_named_model_of_the_one_naming_family() -> None:
    from gateway.app import create_app

    document = create_app().openapi()
    untyped = [
        f"{method.upper()} {path} {status}"
        for path, operations in document["paths"].items()
        if path not in DOCUMENTS
        for method, operation in operations.items()
        for status, response in operation.get("responses", {}).items()
        if status.startswith("2")
        for content in response.get("content", {}).values()
        if "$ref" not in content.get("schema", {})
    ]
    assert untyped == []
    names = document["components"]["schemas"]
    assert [n for n in names if n.endswith(("Out", "In"))] == []
