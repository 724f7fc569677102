"""The one protobuf <-> model mapping (services/runtime/proto_mapping.py), model -> protobuf (`to_proto`),
the round trip, and the other targets of `from_proto` (dataclasses, TypedDicts, table rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypedDict

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from services.content.models import ResourceSlot
from services.runtime.proto_mapping import enum_number, from_proto, to_proto
from tests.support.probe_contract import SCALARS, Part, PartPublic, Probe, ProbePublic, labels, moments, stamp

WHEN = datetime(2027, 3, 1, 8, 30, 15, 250000, tzinfo=UTC)


def test_to_proto_fills_every_field_kind_from_attributes_or_keys() -> None:
    fields: dict[str, Any] = {
        **{"f_string": "s", "f_bytes": b"b", "f_bool": True, "f_int32": -3, "f_int64": 2**40},
        **{"f_uint32": 7, "f_uint64": 2**63, "f_sint64": -9, "f_double": 0.5},
        "kind": "perk",
        "at": WHEN,
        "part": SimpleNamespace(label="p", at=None),  # nested: from an object, a dict or a message
        "parts": [{"label": "d"}, Part(label="m")],
        "tags": ["a", "b"],
        "kinds": ["fixed_coupon", 2, None],  # a lower-case name, a number as it is, None: unspecified
        "times": [WHEN, None],
        "level": 0,
        "rates": {"x": 1.5},
        "by_label": {"k": SimpleNamespace(label="v", at=WHEN)},
        "unknown_to_the_contract": "ignored",
    }
    expected = Probe(
        **{name: fields[name] for name in SCALARS},
        kind=2,
        at=stamp(WHEN),
        part=Part(label="p"),
        parts=[Part(label="d"), Part(label="m")],
        tags=["a", "b"],
        kinds=[1, 2, 0],
        times=[stamp(WHEN), Timestamp()],
        level=0,
        rates={"x": 1.5},
        by_label={"k": Part(label="v", at=stamp(WHEN))},
    )
    for source in (SimpleNamespace(**fields), fields):
        message: Any = to_proto(Probe, source)
        assert message == expected
        assert message.HasField("level")  # proto3 optional: a 0 is set, not left out


def test_to_proto_leaves_none_and_missing_fields_unset_and_reads_naive_times_as_utc() -> None:
    message: Any = to_proto(Probe, {"f_string": None, "at": None, "part": None, "level": None})
    assert message == Probe()
    assert not any(message.HasField(name) for name in ("at", "part", "level"))
    assert to_proto(Probe, SimpleNamespace()) == Probe()
    naive: Any = to_proto(Probe, {"at": datetime(2027, 1, 1, 12, 0)})
    assert naive.at.ToDatetime(tzinfo=UTC) == datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


def test_to_proto_refuses_an_enum_name_the_contract_lacks_and_a_field_it_lacks() -> None:
    with pytest.raises(ValueError, match=r"probe\.v1\.ProbeKind has no value 'voucher'"):
        to_proto(Probe, {"kind": "voucher"})
    with pytest.raises(TypeError, match=r"probe\.v1\.Probe has no field nickname"):
        to_proto(Probe, {}, nickname="x")
    kind: Any = Probe.DESCRIPTOR.fields_by_name["kind"].enum_type
    assert [enum_number(kind, n) for n in ("perk", 1, None, "")] == [2, 1, 0, 0]


def test_to_proto_overrides_take_the_place_of_the_source() -> None:
    source = SimpleNamespace(f_string="source", tags=["a"], at=WHEN, part=SimpleNamespace(label="source"))
    message: Any = to_proto(
        Probe,
        source,
        f_string="given",  # the message's form: taken as it is
        kind=2,
        at=None,  # None: unset, whatever the source holds
        part=Part(label="given"),
        tags=["b", "c"],
        parts=[SimpleNamespace(label="x")],  # not the message's form: converted
        by_label={"k": {"label": "y"}},
    )
    assert (message.f_string, message.kind, message.HasField("at"), message.part.label) == (
        "given",
        2,
        False,
        "given",
    )
    assert (list(message.tags), [p.label for p in message.parts], message.by_label["k"].label) == (
        ["b", "c"],
        ["x"],
        "y",
    )


labels_or_none = st.none() | labels
part_models = st.builds(PartPublic, label=labels_or_none, at=st.none() | moments)
int32s = st.integers(min_value=-(2**31), max_value=2**31 - 1)
finite = st.floats(allow_nan=False, allow_infinity=False)
probe_models = st.builds(
    ProbePublic,
    f_string=st.text(max_size=8),
    f_bytes=st.binary(max_size=8),
    f_bool=st.booleans(),
    f_int32=int32s,
    f_int64=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    f_uint32=st.integers(min_value=0, max_value=2**32 - 1),
    f_uint64=st.integers(min_value=0, max_value=2**64 - 1),
    f_sint64=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    f_double=finite,
    kind=st.sampled_from([None, "fixed_coupon", "perk"]),
    at=st.none() | moments,
    part=st.none() | part_models,
    parts=st.lists(part_models, max_size=3),
    tags=st.lists(st.text(max_size=4), max_size=3),
    kinds=st.lists(st.sampled_from([None, "fixed_coupon", "perk"]), max_size=3),
    times=st.lists(st.none() | moments, max_size=3),
    level=st.none() | int32s,
    rates=st.dictionaries(labels, finite, max_size=3),
    by_label=st.dictionaries(labels, part_models, max_size=3),
)


@settings(max_examples=80, deadline=None)
@given(model=probe_models)
def test_a_model_round_trips_through_its_message(model: ProbePublic) -> None:
    message = to_proto(Probe, model)
    assert from_proto(ProbePublic, message) == model
    assert to_proto(Probe, model.model_dump()) == message  # a mapping reads as the model's attributes do


@dataclass(frozen=True)
class PartView:
    label: str
    at: datetime | None = None


@dataclass(frozen=True)
class ProbeView:
    f_string: str
    kind: str | None
    part: PartView | None
    parts: tuple[PartView, ...]
    tags: frozenset[str]
    times: tuple[datetime | None, ...]
    note: str = "kept"  # not in the message: the default


@dataclass(frozen=True)
class Stray:
    f_string: str
    nickname: str


class PartJson(TypedDict):
    label: str
    at: datetime | None


class ProbeJson(TypedDict):
    tags: list[str]
    parts: list[PartJson]
    level: int | None


def test_dataclass_and_typeddict_targets() -> None:
    message: Any = Probe(
        f_string="s",
        kind=1,
        part=Part(label="p", at=stamp(WHEN)),
        parts=[Part(label="a"), Part()],
        tags=["x", "y", "x"],
        times=[stamp(WHEN), Timestamp()],
    )
    assert from_proto(ProbeView, message) == ProbeView(
        f_string="s",
        kind="fixed_coupon",
        part=PartView(label="p", at=WHEN),
        parts=(PartView(label="a"), PartView(label="")),
        tags=frozenset({"x", "y"}),
        times=(WHEN, None),
    )
    assert from_proto(ProbeView, Probe()).part is None
    assert from_proto(ProbeJson, message) == {
        "tags": ["x", "y", "x"],
        "parts": [{"label": "a", "at": None}, {"label": "", "at": None}],
        "level": None,
    }
    with pytest.raises(TypeError, match=r"Stray\.nickname: probe\.v1\.Probe has no such field"):
        from_proto(Stray, message)
    assert from_proto(Stray, message, nickname="n") == Stray(f_string="s", nickname="n")


def test_a_table_row_is_built_unvalidated_as_its_constructor_builds_it() -> None:
    description = "d" * 300  # over the column's 200: the domain checks it, not the mapping
    message: Any = Part(label="mbank/home")
    row = from_proto(
        ResourceSlot,
        message,
        slot_key=message.label,
        app_id="mbank",
        position="home",
        description=description,
    )
    assert (row.slot_key, row.description, row.editions) == ("mbank/home", description, [])
