"""One mapping from the contract to the HTTP models: a pydantic response model filled from a protobuf
message, field by field by name, so no route copies a message into its model by hand.

- a model field takes the proto field of the same name (an override takes its place where the HTTP
  shape truly differs; each caller says why);
- a Timestamp becomes an aware UTC datetime; an unset or zero one is null (a service's
  `to_timestamp(None)` sends the epoch: never shown as 1970-01-01);
- an enum becomes its value's name from the generated descriptor, without the enum's prefix, in lower
  case (`BENEFIT_KIND_FIXED_COUPON` -> `fixed_coupon`); the `*_UNSPECIFIED` zero is null;
- nested messages, repeated fields and maps are converted the same way, into the model's nested model;
- a field the model declares optional (`X | None`) is null where the message leaves it empty: an unset
  message or proto3 `optional` field, a scalar at its zero value (proto3 cannot tell zero from unset:
  an empty string, a 0 version), an unspecified enum.

Numbers stay numbers (json_format would render int64 as strings), and the model validates the result.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_TIMESTAMP = Timestamp.DESCRIPTOR.full_name
_NONE_TYPE = type(None)


def from_proto(model: type[M], message: Message, **overrides: Any) -> M:
    """`model` filled from `message`; `overrides` are model fields the message does not carry as is."""
    return model.model_validate(_model_data(model, message, overrides))


def from_protos(model: type[M], messages: Any) -> list[M]:
    """Each message of a repeated field as `model`."""
    return [from_proto(model, m) for m in messages]


def enum_name(enum: Any, number: int) -> str | None:
    """The name of `number` in the EnumDescriptor `enum`, without the enum's prefix, in lower case;
    None for the zero (unspecified) or an unknown number."""
    value = enum.values_by_number.get(number)
    if value is None or number == 0:
        return None
    return value.name.removeprefix(_enum_prefix(enum)).lower()


@cache
def _enum_prefix(enum: Any) -> str:
    # buf's ENUM_VALUE_PREFIX rule: BenefitKind -> BENEFIT_KIND_
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


Read = Callable[[Any], Any]  # a message (or a field's raw value) -> the model's value


def _model_data(model: type[BaseModel], message: Message, overrides: Mapping[str, Any]) -> dict[str, Any]:
    plan = _plan(model, message.DESCRIPTOR)
    if not overrides:
        return {name: read(message) for name, read in plan}
    data = {name: read(message) for name, read in plan if name not in overrides}
    for name, value in overrides.items():
        if name not in model.model_fields:
            raise TypeError(f"{model.__name__} has no field {name}")
        data[name] = value
    return data


@cache
def _plan(model: type[BaseModel], descriptor: Any) -> tuple[tuple[str, Read], ...]:
    """How to read each model field from a message of this type, worked out once per model and message
    type (a funnel report converts thousands of rows): a model field the message lacks reads as an
    error unless the model has a default (an override, given per call, takes its place)."""
    plan: list[tuple[str, Read]] = []
    for name, info in model.model_fields.items():
        field = descriptor.fields_by_name.get(name)
        if field is None:
            if info.is_required():
                where = f"{model.__name__}.{name}: {descriptor.full_name}"
                plan.append((name, _refusal(f"{where} has no such field (give an override)")))
            continue
        plan.append((name, _field_reader(field, info.annotation)))
    return tuple(plan)


def _refusal(reason: str) -> Read:
    def read(message: Any) -> Any:
        raise TypeError(reason)

    return read


def _field_reader(field: Any, annotation: Any) -> Read:
    inner, optional = _unwrap(annotation)
    name = field.name
    if _is_map(field):
        value = _value_reader(field.message_type.fields_by_name["value"], _arg(inner, 1))
        return lambda m: {k: value(v) for k, v in getattr(m, name).items()}
    if field.is_repeated:
        item = _value_reader(field, _arg(inner, 0))
        return lambda m: [item(v) for v in getattr(m, name)]
    single = _value_reader(field, inner)
    if optional and field.has_presence:
        return lambda m: single(getattr(m, name)) if m.HasField(name) else None
    if optional:
        zero = field.default_value
        return lambda m: None if (raw := getattr(m, name)) == zero else single(raw)
    return lambda m: single(getattr(m, name))


def _value_reader(field: Any, annotation: Any) -> Read:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            return _time
        nested, _ = _unwrap(annotation)
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            return lambda raw: _model_data(nested, raw, {})
        # raised when read, not when planned: a field given as an override is never read
        return _refusal(f"{field.full_name}: the model needs a nested model here, not {annotation!r}")
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        return lambda raw: enum_name(enum, raw)
    return _same


def _time(ts: Any) -> datetime | None:
    return None if ts.seconds == 0 and ts.nanos == 0 else ts.ToDatetime(tzinfo=UTC)


def _same(raw: Any) -> Any:
    return raw


def _is_map(field: Any) -> bool:
    return (
        field.is_repeated
        and field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
    )


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type without Annotated and None, whether None is allowed), once per annotation."""
    try:
        return _unwrap_once(annotation)
    except TypeError:  # an annotation whose metadata cannot be hashed
        return _unwrap_annotation(annotation)


@cache
def _unwrap_once(annotation: Any) -> tuple[Any, bool]:
    return _unwrap_annotation(annotation)


def _unwrap_annotation(annotation: Any) -> tuple[Any, bool]:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not _NONE_TYPE]
        optional = len(args) < len(get_args(annotation))
        inner = args[0] if len(args) == 1 else annotation
        while get_origin(inner) is Annotated:
            inner = get_args(inner)[0]
        return inner, optional
    return annotation, False


def _arg(annotation: Any, index: int) -> Any:
    args = get_args(annotation)
    return args[index] if len(args) > index else Any


__all__ = ["enum_name", "from_proto", "from_protos"]
