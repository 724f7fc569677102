"""Enum maps derived from the generated protobuf enums, so no service or the gateway copies them by hand."""

from __future__ import annotations

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper


def names_to_values(enum: EnumTypeWrapper, prefix: str) -> dict[str, int]:
    """{'fixed_coupon': BENEFIT_KIND_FIXED_COUPON, ...}: each value by its lower-case name without `prefix`.

    The `<PREFIX>UNSPECIFIED` zero value is left out: it is the absence of a value, never a name.
    """
    return {
        name.removeprefix(prefix).lower(): value
        for name, value in enum.items()
        if name.startswith(prefix) and name != f"{prefix}UNSPECIFIED"
    }
