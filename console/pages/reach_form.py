"""The 4W1Do strategy form: flat HTML fields <-> the API's strategy spec, and API errors -> form fields.

Operators type durations in minutes, hours and days and the control share in percent; the API keeps
seconds and basis points. Everything else is validated by the API, whose errors land beside the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from console.formatting import BANK_ZONE, parse_time

SEGMENT_ROWS = 5
TOUCHPOINT_ROWS = 4
PREDICATE_ROWS = 3
PROFILE_FIELDS = (
    "branch",
    "apps",
    "editions",
    "aum_tier",
    "assurance_level",
    "tags",
    "time_zone",
    "inactive_days",
)
OPS = ("eq", "ne", "in", "not_in", "contains", "gte", "lte", "gt", "lt", "exists")
CHANNELS = ("inbox", "push", "sms", "partner")
# form field -> (spec field, seconds per unit)
DURATIONS = {
    "delay_min": ("delay_s", 60),
    "validity_h": ("validity_s", 3600),
    "conversion_window_d": ("conversion_window_s", 86400),
    "min_interval_h": ("min_interval_s", 3600),
    "every_h": ("every_s", 3600),
}
CONTENT_FIELDS = ("content_item_id", "title", "body", "locale")
PLAIN_FIELDS = ("name", "kind", "purpose", "deep_link", "benefit_id", "goal_event_type")
DEFAULTS = {
    "kind": "marketing",
    "purpose": "offers",
    "control_share_pct": "10",
    "when": "trigger",
    "validity_h": "72",
    "conversion_window_d": "7",
    "min_interval_h": "0",
    "delay_min": "0",
    "every_h": "0",
    "tp-0-channel": "inbox",
}


@dataclass
class StrategyForm:
    """What the operator typed (kept as typed), and the errors beside each field."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def blank_form() -> StrategyForm:
    return StrategyForm(values=dict(DEFAULTS))


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _whole(form: StrategyForm, name: str, unit_s: int, message: str) -> int | None:
    text = form.get(name).strip() or "0"
    try:
        amount = Decimal(text)
    except InvalidOperation:
        form.errors[name] = message
        return None
    seconds = amount * unit_s
    if seconds != seconds.to_integral_value() or seconds < 0:
        form.errors[name] = message
        return None
    return int(seconds)


def _rows(form: StrategyForm, prefix: str, count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        name, op = form.get(f"{prefix}-{i}-field").strip(), form.get(f"{prefix}-{i}-op").strip()
        if name or op:
            rows.append({"field": name, "op": op or "eq", "values": _split(form.get(f"{prefix}-{i}-values"))})
    return rows


def spec_from_form(form: StrategyForm, *, number_error: str) -> dict[str, Any]:
    """The API body for the form (units converted); conversion errors are put beside their fields."""
    spec: dict[str, Any] = {name: form.get(name).strip() for name in PLAIN_FIELDS}
    share = _whole(form, "control_share_pct", 100, number_error)
    spec["control_share_bp"] = share or 0  # percent * 100 = basis points
    spec["segment"] = _rows(form, "seg", SEGMENT_ROWS)
    spec["touchpoints"] = [
        {
            "channel": form.get(f"tp-{i}-channel"),
            "app_id": form.get(f"tp-{i}-app_id").strip(),
            "partner_id": form.get(f"tp-{i}-partner_id").strip(),
        }
        for i in range(TOUCHPOINT_ROWS)
        if form.get(f"tp-{i}-channel")
    ]
    spec["content"] = {
        name: form.get(name).strip() if name != "body" else form.get(name) for name in CONTENT_FIELDS
    }
    seconds = {name: _whole(form, name, unit, number_error) for name, (_, unit) in DURATIONS.items()}
    for name in ("validity_h", "conversion_window_d", "min_interval_h"):
        spec[DURATIONS[name][0]] = seconds[name] or 0
    if form.get("when") == "schedule":
        start = _local_datetime(form.get("start_at"))
        if start is None:
            form.errors["start_at"] = number_error
        spec["schedule"] = {
            "start_at": start.isoformat() if start else "",
            "every_s": seconds["every_h"] or 0,
        }
    else:
        spec["trigger"] = {
            "event_type": form.get("event_type").strip(),
            "predicates": _rows(form, "trg", PREDICATE_ROWS),
            "delay_s": seconds["delay_min"] or 0,
        }
    return spec


def _local_datetime(text: str) -> datetime | None:
    """A `datetime-local` value, read as the bank's wall clock (Asia/Shanghai)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=BANK_ZONE)


def _units(seconds: int | str | None, unit: int) -> str:
    value = Decimal(int(seconds or 0)) / unit
    return str(value.normalize()) if value else "0"


def form_from_spec(spec: dict[str, Any]) -> StrategyForm:
    """The form showing an existing strategy (for editing)."""
    values = {name: str(spec.get(name) or "") for name in PLAIN_FIELDS}
    values["control_share_pct"] = _units(spec.get("control_share_bp"), 100)
    for i, p in enumerate((spec.get("segment") or [])[:SEGMENT_ROWS]):
        values |= {
            f"seg-{i}-field": p["field"],
            f"seg-{i}-op": p["op"],
            f"seg-{i}-values": ", ".join(p.get("values", [])),
        }
    for i, tp in enumerate((spec.get("touchpoints") or [])[:TOUCHPOINT_ROWS]):
        values |= {f"tp-{i}-{k}": str(tp.get(k) or "") for k in ("channel", "app_id", "partner_id")}
    content = spec.get("content") or {}
    values |= {name: str(content.get(name) or "") for name in CONTENT_FIELDS}
    for name, (api_name, unit) in DURATIONS.items():
        values[name] = _units(spec.get(api_name), unit)
    schedule, trigger = spec.get("schedule"), spec.get("trigger")
    if schedule:
        values["when"] = "schedule"
        start = parse_time(schedule.get("start_at"))
        values["start_at"] = start.astimezone(BANK_ZONE).strftime("%Y-%m-%dT%H:%M") if start else ""
        values["every_h"] = _units(schedule.get("every_s"), 3600)
    else:
        trigger = trigger or {}
        values["when"] = "trigger"
        values["event_type"] = str(trigger.get("event_type") or "")
        values["delay_min"] = _units(trigger.get("delay_s"), 60)
        for i, p in enumerate((trigger.get("predicates") or [])[:PREDICATE_ROWS]):
            values |= {
                f"trg-{i}-field": p["field"],
                f"trg-{i}-op": p["op"],
                f"trg-{i}-values": ", ".join(p.get("values", [])),
            }
    return StrategyForm(values=values)


_ROWS = {"segment": "seg", "touchpoints": "tp"}
_RENAMED = {"control_share_bp": "control_share_pct", **{api: name for name, (api, _) in DURATIONS.items()}}


def field_of(loc: list[str]) -> str:
    """The form field an API error's location points at ("" when it is about the whole strategy)."""
    parts = [p for p in loc if p != "body"]
    if not parts:
        return ""
    head = parts[0]
    if head in _ROWS and len(parts) >= 3 and parts[1].isdigit():
        return f"{_ROWS[head]}-{parts[1]}-{parts[2]}"
    if head in _ROWS:
        return f"{_ROWS[head]}-0-{'channel' if head == 'touchpoints' else 'field'}"
    if head == "trigger" and len(parts) >= 4 and parts[1] == "predicates" and parts[2].isdigit():
        return f"trg-{parts[2]}-{parts[3]}"
    if head in ("trigger", "schedule", "content") and len(parts) >= 2:
        return {"start_at": "start_at", "delay_s": "delay_min", "every_s": "every_h"}.get(parts[1], parts[1])
    return _RENAMED.get(head, head)


def with_api_errors(form: StrategyForm, errors: list[dict[str, Any]], detail: str) -> StrategyForm:
    """Put each API error beside its field; what no field owns goes above the form."""
    for error in errors:
        name = field_of([str(p) for p in error.get("loc") or []])
        message = str(error.get("msg", ""))
        if name and (name in form.values or name in DEFAULTS or name.startswith(("seg-", "tp-", "trg-"))):
            form.errors.setdefault(name, message)
        else:
            form.general.append(message)
    if not errors and detail:
        form.general.append(detail)
    return form
