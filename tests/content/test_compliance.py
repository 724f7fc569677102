"""The compliance rule list and the check that blocks approval."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from services.content import catalogue, review
from services.content.review import check_content
from services.runtime.compliance import rule_book
from services.runtime.errors import Rejected
from tests.content.conftest import AUTHOR, REVIEWER, texts


def hits(variants: dict, *, item_type: str = "banner", category: str = "") -> list[tuple[str, str, str]]:
    return [
        (f.rule_id, f.field, f.matched_text)
        for f in check_content(item_type=item_type, product_category=category, variants=variants)
    ]


def test_rule_file_loads_with_every_locale() -> None:
    rules = {r.id: r for r in rule_book().rules}
    assert {"guaranteed_return", "unsupported_superlative", "wealth_risk_disclosure"} <= set(rules)
    assert all(set(r.patterns) == {"zh-Hans", "zh-Hant", "en"} for r in rules.values())
    assert not rules["guaranteed_return"].overridable and rules["unsupported_superlative"].overridable


@pytest.mark.parametrize(
    ("body", "matched"),
    [
        ("本产品保本保息", "保本"),
        ("穩賺不賠", "穩賺"),
        ("零风险理财", "零风险"),
        ("A Guaranteed Return of 4%", "Guaranteed Return"),
        ("risk-free savings", "risk-free"),
        ("principal is guaranteed", "principal is guaranteed"),
    ],
)
def test_guaranteed_promises_are_found_with_their_place(body: str, matched: str) -> None:
    found = hits(
        {"standard": texts("Savings", "ok", zh_body="ok"), "elderly": texts("Savings", "ok", zh_body=body)}
    )
    assert ("guaranteed_return", "variants.elderly.zh-Hans.body", matched) in found


def test_negated_principal_guarantee_in_a_disclosure_is_not_a_promise() -> None:
    assert (
        hits({"standard": texts("Fund", "x", zh_body="本产品不保本，理财非存款，产品有风险，投资须谨慎")})
        == []
    )


def test_offset_points_at_the_match() -> None:
    [finding] = check_content(
        item_type="banner",
        product_category="",
        variants={"standard": texts("Hi", "Enjoy zero risk now", zh_body="ok")},
    )
    assert finding.offset == "Enjoy zero risk now".index("zero risk") and finding.locale == "en"


def test_wealth_product_card_needs_risk_disclosure_in_every_locale() -> None:
    variant = texts("Wealth plan", "Investment involves risk.", zh_body="理财非存款，产品有风险，投资须谨慎")
    assert hits({"standard": variant}, item_type="product_card", category="wealth") == []
    variant["texts"]["en"]["body"] = "Great plan"
    assert hits({"standard": variant}, item_type="product_card", category="wealth") == [
        ("wealth_risk_disclosure", "variants.standard.en.body", "")
    ]
    assert hits({"standard": variant}, item_type="product_card", category="deposit") == []


def _in_review(engine: Engine, item_id: str, variants: dict) -> None:
    catalogue.create_item(
        engine=engine,
        actor=AUTHOR,
        item_id=item_id,
        type="banner",
        product_category="",
        standard_fallback=True,
        variants=variants,
    )
    review.submit_item(engine=engine, actor=AUTHOR, item_id=item_id)


def test_superlative_needs_an_override_with_a_reason(engine: Engine) -> None:
    _in_review(engine, "best-rate", {"standard": texts("Best rate in town", "ok")})
    with pytest.raises(Rejected) as err:
        review.approve_item(engine=engine, actor=REVIEWER, item_id="best-rate", overrides={})
    assert "unsupported_superlative" in err.value.detail and "'Best'" in err.value.detail
    with pytest.raises(Rejected):
        review.approve_item(
            engine=engine, actor=REVIEWER, item_id="best-rate", overrides={"unsupported_superlative": " "}
        )
    item, _ = review.approve_item(
        engine=engine,
        actor=REVIEWER,
        item_id="best-rate",
        overrides={"unsupported_superlative": "PBoC survey 2026-10: highest 1y deposit rate in Shenzhen"},
    )
    assert item.item_id == "best-rate"


def test_guaranteed_return_cannot_be_overridden(engine: Engine) -> None:
    _in_review(engine, "promise", {"standard": texts("Savings", "guaranteed return of 5%")})
    with pytest.raises(Rejected) as err:
        review.approve_item(
            engine=engine,
            actor=REVIEWER,
            item_id="promise",
            overrides={"guaranteed_return": "the marketing team insists"},
        )
    assert err.value.reason == "compliance_violation"
    assert "rule guaranteed_return: 'guaranteed return' in variants.standard.en.body" in err.value.detail
