"""A contract built in memory for the protobuf <-> model mapping's tests: Probe carries every kind of
field, Part is nested in it; ProbePublic is the HTTP model of Probe, with hypothesis strategies for
both directions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st
from pydantic import BaseModel

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


moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond))
labels = st.text(min_size=1, max_size=8)
