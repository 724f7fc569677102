"""Rows of the big numeric tables (the dashboard's day table and breakdown) rendered in Python.

A Jinja loop pays, per cell, a context lookup, an attribute lookup that falls back to the dict (an
exception), and an escape call; the dashboard over 90 days and seven columns has about two thousand
such cells, which was most of the console's own time on that page. Here a row is one f-string: keys
and labels are escaped, counts are ints and column names are fixed identifiers, so nothing else needs
escaping. The tables' structure (header, caption, test ids) stays in the templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

_NAME = re.compile(r"^[a-z_]{1,40}$")


def count_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    key_attr: str,
    columns: Sequence[str],
    label: Callable[[str], str] = str,
) -> Markup:
    """`<tr data-<key_attr>="key"><td>label(key)</td><td class="num" data-metric="c">n</td>…</tr>` for
    each row `{"key": ..., "counts": {column: int}}`, in the rows' order."""
    if not _NAME.match(key_attr) or not all(_NAME.match(c) for c in columns):
        raise ValueError("key_attr and columns are fixed identifiers")
    out = []
    for row in rows:
        key = str(row["key"])
        counts = row["counts"]
        cells = "".join(f'<td class="num" data-metric="{c}">{int(counts[c])}</td>' for c in columns)
        out.append(f'<tr data-{key_attr}="{escape(key)}"><td>{escape(label(key))}</td>{cells}</tr>')
    return Markup("".join(out))
