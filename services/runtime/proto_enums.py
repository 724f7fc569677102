"""Enum maps derived from the generated protobuf enums, so no service or the gateway copies them by hand."""

from __future__ import annotations

from typing import TypeVar

V = TypeVar("V", bound=int)


def names_to_values(enum: type[V], prefix: str) -> dict[str, V]:
    """{'fixed_coupon': BENEFIT_KIND_FIXED_COUPON, ...}: each value by its lower-case name without `prefix`.

    The `<PREFIX>UNSPECIFIED` zero value is left out: it is the absence of a value, never a name.
    """
    items: list[tuple[str, V]] = enum.items()  # type: ignore[attr-defined]  # an EnumTypeWrapper at runtime; the .pyi declares an int subclass
    return {
        name.removeprefix(prefix).lower(): value
        for name, value in items
        if name.startswith(prefix) and name != f"{prefix}UNSPECIFIED"
    }
