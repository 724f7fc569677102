"""Segments and trigger conditions: predicates evaluated over a profile or an event (all must hold)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from services.reach.models import AudienceProfile
from services.reach.spec import Predicate

Value = str | int | float | list[str] | None


def profile_record(profile: AudienceProfile, *, now: datetime) -> dict[str, Value]:
    """The fields a segment can test, from a profile."""
    inactive = (now - profile.last_active_at).days if profile.last_active_at else None
    return {
        "apps": list(profile.apps),
        "editions": list(profile.editions),
        "tags": list(profile.tags),
        "assurance_level": profile.assurance_level,
        "aum_tier": profile.aum_tier,
        "branch": profile.branch,
        "time_zone": profile.time_zone,
        "inactive_days": inactive,
    }


def event_record(*, app_id: str, properties: Mapping[str, str]) -> dict[str, Value]:
    """The fields a trigger condition can test, from an event."""
    record: dict[str, Value] = {"app_id": app_id}
    record.update({f"properties.{k}": v for k, v in properties.items()})
    return record


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]  # numbers from JSON; a non-number raises and is reported as invalid
    except (TypeError, ValueError):
        return None


def _compare(op: str, value: Value, wanted: str) -> bool:
    left, right = _number(value), _number(wanted)
    if left is None or right is None:
        return False
    return {"gte": left >= right, "lte": left <= right, "gt": left > right, "lt": left < right}[op]


def holds(predicate: Predicate, record: Mapping[str, Value]) -> bool:
    """Whether one predicate holds for a record; missing fields never match (except `ne`/`not_in`)."""
    value = record.get(predicate.field)
    values = predicate.values
    if predicate.op == "exists":
        return value not in (None, "", [])
    as_set = set(value) if isinstance(value, list) else ({str(value)} if value not in (None, "") else set())
    if predicate.op in ("eq", "in"):
        return bool(as_set & set(values))
    if predicate.op in ("ne", "not_in"):
        return not (as_set & set(values))
    if predicate.op == "contains":
        return set(values) <= as_set
    if isinstance(value, list) or not values:
        return False
    return _compare(predicate.op, value, values[0])


def matches(predicates: Iterable[Predicate], record: Mapping[str, Value]) -> bool:
    """All predicates hold (an empty list matches everyone)."""
    return all(holds(p, record) for p in predicates)
