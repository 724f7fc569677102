"""The dashboard's numeric rows rendered in Python escape what the API sends and nothing else."""

from __future__ import annotations

import pytest

from console.tables import count_rows


def test_keys_and_labels_are_escaped_and_counts_must_be_numbers() -> None:
    rows = [{"key": '<script>alert("x")</script>', "counts": {"clicks": 3, "activated": 1}}]
    html = str(count_rows(rows, key_attr="key", columns=("clicks", "activated"), label=lambda k: k + "&"))
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;</td>" in html
    assert 'data-key="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in html
    assert '<td class="num" data-metric="clicks">3</td><td class="num" data-metric="activated">1</td>' in html
    with pytest.raises(ValueError):
        count_rows([{"key": "a", "counts": {"clicks": "<b>"}}], key_attr="key", columns=("clicks",))
    with pytest.raises(ValueError):
        count_rows(rows, key_attr='key" onclick="x', columns=("clicks",))
