"""What the approvals page marks as changed and where it highlights a finding (no browser needed)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from console.pages.approvals_diff import changes, content_fields, diff_segments, flatten, highlight


@given(st.text(max_size=60), st.text(max_size=60))
def test_a_diff_rebuilds_both_versions(before: str, after: str) -> None:
    segments = diff_segments(before, after)
    assert "".join(t for op, t in segments if op != "after") == before
    assert "".join(t for op, t in segments if op != "before") == after


def test_prose_diffs_by_character_and_amounts_whole() -> None:
    assert diff_segments("周末照常营业", "周末照常营业，仅供参考") == [
        ("same", "周末照常营业"),
        ("after", "，仅供参考"),
    ]
    assert diff_segments("10.00 CNY", "15.00 CNY") == [("before", "10.00 CNY"), ("after", "15.00 CNY")]


@given(st.text(max_size=40), st.integers(-2, 45), st.integers(0, 10))
def test_a_highlight_keeps_the_text_and_marks_at_most_the_span(text: str, offset: int, length: int) -> None:
    segments = highlight(text, offset, length)
    assert "".join(t for _, t in segments) == text
    hits = [t for op, t in segments if op == "hit"]
    assert hits in ([], [text[offset : offset + length]])


def test_findings_name_fields_as_content_fields_do() -> None:
    version = {
        "variants": [
            {
                "edition": "standard",
                "texts": [{"locale": "zh-Hans", "title": "公告", "body": "最佳服务"}],
                "media": [],
                "deep_link": None,
            }
        ]
    }
    fields = flatten(content_fields(version))
    assert fields["variants.standard.zh-Hans.body"] == "最佳服务"
    assert highlight(fields["variants.standard.zh-Hans.body"], 0, 2)[1] == ("hit", "最佳")


def test_only_changed_fields_are_listed_and_bookkeeping_is_skipped() -> None:
    before = {"name": "A", "budget": 1, "status": "draft", "tags": ["x", "y"]}
    after = {"name": "A", "budget": 2, "status": "approved", "tags": ["x", "y", "z"]}
    found = {c.name: c for c in changes(before, after, skip=("status",))}
    assert set(found) == {"budget", "tags"}
    assert all(c.added for c in changes(None, {"name": "B"}))
