"""The shared compliance check sees through full-width forms, inserted spaces, zero-width and punctuation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.content.review import check_content
from services.runtime.compliance import Passage, check_passages
from tests.content.conftest import texts

FORBIDDEN = [
    ("guaranteed_return", "guaranteed returns"),
    ("guaranteed_return", "risk-free"),
    ("guaranteed_return", "zero risk"),
    ("guaranteed_return", "保本"),
    ("guaranteed_return", "稳赚"),
    ("guaranteed_return", "穩賺"),
    ("guaranteed_return", "零风险"),
    ("unsupported_superlative", "best"),
    ("unsupported_superlative", "highest"),
    ("unsupported_superlative", "第一"),
]
SEPARATORS = [
    " ",
    "  ",
    "\u3000",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    ".",
    "-",
    "·",
    "*",
    "_",
    "/",
]


def full_width(text: str) -> str:
    return "".join(
        chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else "\u3000" if c == " " else c for c in text
    )


@st.composite
def disguised(draw: st.DrawFn) -> tuple[str, str, str]:
    """A forbidden phrase, disguised, inside ordinary text; returns (rule, text, disguised phrase)."""
    rule, phrase = draw(st.sampled_from(FORBIDDEN))
    chars = []
    for n, ch in enumerate(phrase):
        chars.append(ch)
        if n < len(phrase) - 1 and ch != " " and phrase[n + 1] != " ":
            chars.extend(draw(st.lists(st.sampled_from(SEPARATORS), max_size=3)))
    word = "".join(chars)
    if draw(st.booleans()):
        word = full_width(word)
    if draw(st.booleans()):
        word = word.upper()
    prefix = draw(st.sampled_from(["", "Open now: ", "本行推出 ", "Plan — "]))
    suffix = draw(st.sampled_from(["", " for you.", "，欢迎咨询", "!"]))
    return rule, prefix + word + suffix, word


@settings(max_examples=300, deadline=None)
@given(disguised())
def test_disguised_phrase_is_found_at_its_place_in_the_text_as_written(case: tuple[str, str, str]) -> None:
    rule, text, word = case
    findings = check_passages([Passage(path="content", locale="en", fields={"body": text})])
    start = text.index(word)
    hits = [f for f in findings if f.rule_id == rule and f.offset == start]
    assert hits, (text, findings)
    assert text[start:].startswith(hits[0].matched_text) and hits[0].field == "content.body"


@settings(max_examples=100, deadline=None)
@given(disguised())
def test_content_items_get_the_same_findings(case: tuple[str, str, str]) -> None:
    rule, text, word = case
    variants = {"standard": texts("Savings", "ok", zh_body=text)}
    found = check_content(item_type="banner", product_category="", variants=variants)
    assert any(
        f.rule_id == rule and f.field == "variants.standard.zh-Hans.body" and f.offset == text.index(word)
        for f in found
    )


def test_ordinary_words_and_negations_stay_clean() -> None:
    for text in [
        "asbestos removal",
        "a bestseller\u200bnow",
        "piano risk assessment",
        "本产品不 保 本，理财非存款",
        "本产品不\u200b保本",
        "Ｔｈｅ ｐｌａｎ ｈａｓ ｒｉｓｋｓ",
    ]:
        assert check_passages([Passage(path="c", locale="en", fields={"body": text})]) == [], text


def test_full_width_disclosure_counts_as_present() -> None:
    variant = texts("Wealth plan", full_width("Investment involves risk."), zh_body="理财非存款 产品有风险")
    assert (
        check_content(item_type="product_card", product_category="wealth", variants={"standard": variant})
        == []
    )


def test_line_breaks_and_tabs_still_separate_words() -> None:
    findings = check_passages(
        [Passage(path="c", locale="en", fields={"body": "Our\nbest\trate\r\nzero\nrisk"})]
    )
    assert [(f.rule_id, f.offset, f.matched_text) for f in findings] == [
        ("guaranteed_return", 15, "zero\nrisk"),
        ("unsupported_superlative", 4, "best"),
    ]
