"""The one protobuf <-> model mapping (services/runtime/proto_mapping.py), on a message of each field kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Literal, TypedDict

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from services.content.models import ResourceSlot
from services.runtime.proto_mapping import enum_name, enum_number, from_proto, from_protos, to_proto

F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "f_string": F.TYPE_STRING,
    "f_bytes": F.TYPE_BYTES,
    "f_bool": F.TYPE_BOOL,
    "f_int32": F.TYPE_INT32,
    "f_int64": F.TYPE_INT64,
    "f_uint32": F.TYPE_UINT32,
    "f_uint64": F.TYPE_UINT64,
    "f_sint64": F.TYPE_SINT64,
    "f_double": F.TYPE_DOUBLE,
}


def _message_types() -> tuple[type[Message], type[Message]]:
    """A test contract built in memory: Probe carries every kind of field, Part is nested in it."""
    pool = descriptor_pool.Default()  # where the generated Timestamp lives
    f = descriptor_pb2.FileDescriptorProto(
        name="probe.proto",
        package="probe.v1",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    f.enum_type.add(name="ProbeKind").value.extend(
        [
            descriptor_pb2.EnumValueDescriptorProto(name="PROBE_KIND_UNSPECIFIED", number=0),
            descriptor_pb2.EnumValueDescriptorProto(name="PROBE_KIND_FIXED_COUPON", number=1),
            descriptor_pb2.EnumValueDescriptorProto(name="PROBE_KIND_PERK", number=2),
        ]
    )
    part = f.message_type.add(name="Part")
    part.field.add(name="label", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    part.field.add(name="at", number=2, type=F.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp")
    probe = f.message_type.add(name="Probe")
    n = 0
    for n, (name, kind) in enumerate(SCALARS.items(), start=1):
        probe.field.add(name=name, number=n, type=kind, label=F.LABEL_OPTIONAL)
    add = probe.field.add
    add(name="kind", number=n + 1, type=F.TYPE_ENUM, type_name=".probe.v1.ProbeKind")
    add(name="at", number=n + 2, type=F.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp")
    add(name="part", number=n + 3, type=F.TYPE_MESSAGE, type_name=".probe.v1.Part")
    add(name="parts", number=n + 4, type=F.TYPE_MESSAGE, type_name=".probe.v1.Part", label=F.LABEL_REPEATED)
    add(name="tags", number=n + 5, type=F.TYPE_STRING, label=F.LABEL_REPEATED)
    add(name="kinds", number=n + 6, type=F.TYPE_ENUM, type_name=".probe.v1.ProbeKind", label=F.LABEL_REPEATED)
    add(
        name="times",
        number=n + 7,
        type=F.TYPE_MESSAGE,
        type_name=".google.protobuf.Timestamp",
        label=F.LABEL_REPEATED,
    )
    # proto3 `optional int32 level`: presence through a synthetic oneof
    probe.oneof_decl.add(name="_level")
    add(name="level", number=n + 8, type=F.TYPE_INT32, oneof_index=0, proto3_optional=True)
    for map_name, value_type, type_name in (
        ("rates", F.TYPE_DOUBLE, ""),
        ("by_label", F.TYPE_MESSAGE, ".probe.v1.Part"),
    ):
        entry = probe.nested_type.add(name=f"{map_name.title().replace('_', '')}Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=F.TYPE_STRING)
        value = entry.field.add(name="value", number=2, type=value_type)
        if type_name:
            value.type_name = type_name
        n += 1
        add(
            name=map_name,
            number=n + 8,
            type=F.TYPE_MESSAGE,
            label=F.LABEL_REPEATED,
            type_name=f".probe.v1.Probe.{entry.name}",
        )
    pool.Add(f)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("probe.v1.Probe")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("probe.v1.Part")),
    )


Probe, Part = _message_types()


class PartPublic(BaseModel):
    label: str | None
    at: datetime | None


class ProbePublic(BaseModel):
    f_string: str
    f_bytes: bytes
    f_bool: bool
    f_int32: int
    f_int64: int
    f_uint32: int
    f_uint64: int
    f_sint64: int
    f_double: float
    kind: Literal["fixed_coupon", "perk"] | None
    at: datetime | None
    part: PartPublic | None
    parts: list[PartPublic]
    tags: list[str]
    kinds: list[str | None]
    times: list[datetime | None]
    level: int | None
    rates: dict[str, float]
    by_label: dict[str, PartPublic]


def stamp(when: datetime | None) -> Timestamp:
    ts = Timestamp()
    if when is not None:
        ts.FromDatetime(when)
    return ts


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


moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond))
labels = st.text(min_size=1, max_size=8)


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
