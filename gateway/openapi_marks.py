"""What a dependency adds to the API description of every route that uses it.

A dependency that authenticates a caller, raises problems or calls the services says so once, where
it is defined, with `@documents(...)`: the problem statuses it can answer and the security scheme(s)
it checks. `gateway.openapi` walks each route's dependency tree and documents the union, so a
route's error responses follow from its mechanism rather than from a list kept by hand per route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])
_MARK = "__lattice_openapi__"


@dataclass(frozen=True)
class Documented:
    """Problem statuses a dependency can answer; `security`: alternatives, each a set of scheme names."""

    statuses: frozenset[int]
    security: tuple[tuple[str, ...], ...] = ()


def documents(*statuses: int, security: Iterable[Iterable[str]] = ()) -> Callable[[F], F]:
    """Mark a dependency: the problems it answers and the security schemes (OR of ANDs) it checks."""

    def mark(dependency: F) -> F:
        setattr(
            dependency,
            _MARK,
            Documented(frozenset(statuses), tuple(tuple(alternative) for alternative in security)),
        )
        return dependency

    return mark


def documented(dependency: object) -> Documented | None:
    return getattr(dependency, _MARK, None)
