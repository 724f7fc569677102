"""How the console shows numbers and times: money in major units with its currency, times in Asia/Shanghai."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi.responses import Response

BANK_ZONE = ZoneInfo("Asia/Shanghai")
# ISO 4217 minor units where they differ from 2
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}
# a spreadsheet would run a cell starting with these as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def money(minor: int | str | None, currency: str = "CNY") -> str:
    """`money(1000, "CNY")` -> "10.00 CNY" (exact: minor units are integers, never floats)."""
    if minor is None or minor == "":
        return ""
    exponent = MINOR_UNITS.get(currency.upper(), 2)
    amount = Decimal(int(minor)).scaleb(-exponent)
    return f"{amount:,.{exponent}f} {currency.upper()}"


def parse_time(value: datetime | str | None) -> datetime | None:
    """An aware datetime from an API value (ISO 8601; a naive value is taken as UTC)."""
    if value is None or value == "":
        return None
    moment = (
        value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_time(value: datetime | str | None, *, seconds: bool = True) -> str:
    """The moment in the bank's zone with its offset: "2026-11-29 05:47:09 +08:00"."""
    moment = parse_time(value)
    if moment is None:
        return ""
    local = moment.astimezone(BANK_ZONE)
    offset = local.strftime("%z")
    return (
        local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + f" {offset[:3]}:{offset[3:]}"
    )


def local_date(value: datetime | str | None) -> str:
    moment = parse_time(value)
    return moment.astimezone(BANK_ZONE).strftime("%Y-%m-%d") if moment else ""


def csv_cell(value: Any) -> str:
    """A cell as text; text that a spreadsheet would run as a formula is quoted with a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download (UTF-8 with BOM so spreadsheets read Chinese text), formula-safe cells."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename) or "export.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(safe_name)}"},
    )
