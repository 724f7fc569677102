"""The one mapping between the contract and the models, both ways, field by field by name, so no
service or route copies a message by hand.

`from_proto(Model, message)` fills a model from a protobuf message: a pydantic model (an HTTP response
model, a SQLModel row), a dataclass (a domain view or command) or a TypedDict (the shape of a JSON
column). A SQLModel table row is built by its constructor, which does not validate (as SQLModel builds
rows): the domain checks what it takes.

- a model field takes the proto field of the same name (an override takes its place where the shapes
  truly differ; each caller says why);
- a Timestamp becomes an aware UTC datetime; an unset or zero one is null (never 1970-01-01);
- an enum becomes its value's name from the generated descriptor, without the enum's prefix, in lower
  case (`BENEFIT_KIND_FIXED_COUPON` -> `fixed_coupon`); the `*_UNSPECIFIED` zero is null;
- nested messages, repeated fields and maps are converted the same way, into the model's nested model
  (a tuple or frozenset where the model declares one);
- a field the model declares optional (`X | None`) is null where the message leaves it empty: an unset
  message or proto3 `optional` field, a scalar at its zero value (proto3 cannot tell zero from unset:
  an empty string, a 0 version), an unspecified enum.

`proto_data(Model, message)` reads the same, into a plain dict left for the domain to validate.

`to_proto(MessageType, source)` is the way back: each proto field from the attribute (or mapping key)
of the same name of `source` (a row, a view, a request body, a dict); a datetime becomes a Timestamp
(None leaves it unset), an enum's lower-case name its number, a nested object or dict the nested
message; a field `source` lacks, or holds as None, keeps its proto3 default.

Numbers stay numbers (json_format would render int64 as strings). Each plan (which field reads how)
is worked out once per model and message type: a funnel report converts thousands of rows.
"""

from __future__ import annotations

import dataclasses
import operator
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel

M = TypeVar("M")
P = TypeVar("P", bound=Message)

_TIMESTAMP = Timestamp.DESCRIPTOR.full_name
_NONE_TYPE = type(None)


def from_proto(model: type[M], message: Message, **overrides: Any) -> M:
    """`model` filled from `message`; `overrides` are model fields the message does not carry as is."""
    return _build(model, _model_data(model, message, overrides))


def from_protos(model: type[M], messages: Any) -> list[M]:
    """Each message of a repeated field as `model`."""
    return [from_proto(model, m) for m in messages]


def proto_data(model: type[Any], message: Message, **overrides: Any) -> dict[str, Any]:
    """What `from_proto(model, message)` would fill, as a dict (nested pydantic models as dicts), not
    yet validated: for a domain that validates it itself and answers a bad one with its own error."""
    return _model_data(model, message, overrides)


def to_proto(message_type: type[P], source: object, /, **overrides: Any) -> P:
    """A `message_type` filled from `source`'s attributes (or keys) of the proto fields' names;
    `overrides` are fields `source` does not hold as is (the message's form of them, or None)."""
    return message_type(**_message_kwargs(message_type.DESCRIPTOR, source, overrides))


def enum_name(enum: Any, number: int) -> str | None:
    """The name of `number` in the EnumDescriptor `enum`, without the enum's prefix, in lower case;
    None for the zero (unspecified) or an unknown number."""
    value = enum.values_by_number.get(number)
    if value is None or number == 0:
        return None
    return str(value.name).removeprefix(_enum_prefix(enum)).lower()


def enum_number(enum: Any, name: str | int | None) -> int:
    """The number of the lower-case `name` (as `enum_name` gives it) in the EnumDescriptor `enum`;
    0 (unspecified) for None or an empty name; a number is taken as it is."""
    if name is None or name == "":
        return 0
    if isinstance(name, int):
        return name
    value = enum.values_by_name.get(_enum_prefix(enum) + name.upper())
    if value is None:
        raise ValueError(f"{enum.full_name} has no value {name!r}")
    return int(value.number)


@cache
def _enum_prefix(enum: Any) -> str:
    # buf's ENUM_VALUE_PREFIX rule: BenefitKind -> BENEFIT_KIND_
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


# ---- protobuf -> model ------------------------------------------------------------------------------

Read = Callable[[Any], Any]  # a message (or a field's raw value) -> the model's value


def _build(model: type[M], data: dict[str, Any]) -> M:
    return typing.cast(M, _constructor(typing.cast(Any, model))(data))


@cache
def _constructor(model: Any) -> Callable[[dict[str, Any]], Any]:
    if isinstance(model, type) and issubclass(model, BaseModel) and not hasattr(model, "__table__"):
        return model.model_validate
    return lambda data: model(**data)


def _model_data(model: Any, message: Message, overrides: Mapping[str, Any]) -> dict[str, Any]:
    plan = _plan(model, message.DESCRIPTOR)
    if not overrides:
        return {name: read(message) for name, read in plan}
    data = {name: read(message) for name, read in plan if name not in overrides}
    fields = _model_fields(model)
    for name, value in overrides.items():
        if name not in fields:
            raise TypeError(f"{model.__name__} has no field {name}")
        data[name] = value
    return data


@cache
def _model_fields(model: Any) -> dict[str, tuple[Any, bool]]:
    """{field: (annotation, required)} of a pydantic model, a dataclass or a TypedDict."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return {name: (info.annotation, info.is_required()) for name, info in model.model_fields.items()}
    if dataclasses.is_dataclass(model):
        hints = typing.get_type_hints(model, include_extras=True)
        return {
            f.name: (
                hints.get(f.name, Any),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(model)
            if f.init
        }
    if typing.is_typeddict(model):
        hints = typing.get_type_hints(model, include_extras=True)
        return {name: (hint, name in model.__required_keys__) for name, hint in hints.items()}
    raise TypeError(f"{model!r} is neither a pydantic model nor a dataclass nor a TypedDict")


@cache
def _plan(model: Any, descriptor: Any) -> tuple[tuple[str, Read], ...]:
    """How to read each model field from a message of this type: a model field the message lacks reads
    as an error unless the model has a default (an override, given per call, takes its place)."""
    plan: list[tuple[str, Read]] = []
    for name, (annotation, required) in _model_fields(model).items():
        field = descriptor.fields_by_name.get(name)
        if field is None:
            if required:
                where = f"{model.__name__}.{name}: {descriptor.full_name}"
                plan.append((name, _refusal(f"{where} has no such field (give an override)")))
            continue
        plan.append((name, _field_reader(field, annotation)))
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
    if _is_repeated(field):
        item = _value_reader(field, _arg(inner, 0))
        collect = _collection(inner)
        return lambda m: collect([item(v) for v in getattr(m, name)])
    single = _value_reader(field, inner)
    if optional and field.has_presence:
        return lambda m: single(getattr(m, name)) if m.HasField(name) else None
    if optional:
        zero = field.default_value
        return lambda m: None if (raw := getattr(m, name)) == zero else single(raw)
    if single is _same:
        return operator.attrgetter(name)
    return lambda m: single(getattr(m, name))


def _value_reader(field: Any, annotation: Any) -> Read:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            return _time
        nested, _ = _unwrap(annotation)
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            return lambda raw: _model_data(nested, raw, {})
        if isinstance(nested, type) and (dataclasses.is_dataclass(nested) or typing.is_typeddict(nested)):
            return lambda raw: _build(nested, _model_data(nested, raw, {}))
        # raised when read, not when planned: a field given as an override is never read
        return _refusal(f"{field.full_name}: the model needs a nested model here, not {annotation!r}")
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        return lambda raw: enum_name(enum, raw)
    return _same


def _collection(annotation: Any) -> Callable[[list[Any]], Any]:
    origin = get_origin(annotation) or annotation
    if origin is tuple:
        return tuple
    if origin in (frozenset, set):
        return typing.cast(Callable[[list[Any]], Any], origin)
    return _same


def _time(ts: Any) -> datetime | None:
    return None if ts.seconds == 0 and ts.nanos == 0 else ts.ToDatetime(tzinfo=UTC)


def _same(raw: Any) -> Any:
    return raw


def _is_repeated(field: Any) -> bool:
    return bool(field.is_repeated)


def _is_map(field: Any) -> bool:
    return (
        _is_repeated(field)
        and field.type == FieldDescriptor.TYPE_MESSAGE
        and bool(field.message_type.GetOptions().map_entry)
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


# ---- model -> protobuf ------------------------------------------------------------------------------

Write = Callable[[Any], Any]  # a source value -> the value the message's constructor takes (None: unset)


def _message_kwargs(descriptor: Any, source: object, overrides: Mapping[str, Any]) -> dict[str, Any]:
    keyed = source if isinstance(source, Mapping) else None
    kwargs: dict[str, Any] = {}
    for name, write in _writers(descriptor):
        if name in overrides:
            value = overrides[name]
            if value is None:
                continue
            if isinstance(value, Message) or _is_plain(value):
                kwargs[name] = value
                continue
        else:
            value = getattr(source, name, None) if keyed is None else keyed.get(name)
            if value is None:
                continue
            if write is _same:
                kwargs[name] = value
                continue
        converted = write(value)
        if converted is not None:
            kwargs[name] = converted
    for name in overrides:
        if name not in descriptor.fields_by_name:
            raise TypeError(f"{descriptor.full_name} has no field {name}")
    return kwargs


def _is_plain(value: Any) -> bool:
    return isinstance(value, (str, bytes, bool, int, float))


@cache
def _writers(descriptor: Any) -> tuple[tuple[str, Write], ...]:
    return tuple((field.name, _field_writer(field)) for field in descriptor.fields)


def _field_writer(field: Any) -> Write:
    if _is_map(field):
        value = _value_writer(field.message_type.fields_by_name["value"])
        return lambda raw: {k: value(v) for k, v in raw.items()}
    if _is_repeated(field):
        item = _value_writer(field)
        return lambda raw: [item(v) for v in raw]
    return _value_writer(field)


def _value_writer(field: Any) -> Write:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            return _timestamp
        nested = field.message_type

        def write(raw: Any) -> Any:
            if isinstance(raw, Message):
                return raw
            return _message_class(nested)(**_message_kwargs(nested, raw, {}))

        return write
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        return lambda raw: enum_number(enum, raw)
    return _same


def _timestamp(value: Any) -> Timestamp:
    if value is None:  # an item of a repeated field or map (a single field is left unset instead)
        return Timestamp()
    if isinstance(value, Timestamp):
        return value
    if not isinstance(value, datetime):
        raise TypeError(f"a Timestamp field takes a datetime, not {value!r}")
    ts = Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


@cache
def _message_class(descriptor: Any) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


__all__ = ["enum_name", "enum_number", "from_proto", "from_protos", "proto_data", "to_proto"]
