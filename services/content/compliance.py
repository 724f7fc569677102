"""The compliance check of financial marketing content against the maintained rule list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

RULES_FILE = Path(__file__).parent / "compliance_rules.yaml"
FIELDS = ("title", "body")


class AppliesTo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: list[str] = Field(default_factory=list)
    product_categories: list[str] = Field(default_factory=list)


class Rule(BaseModel):
    """One rule of compliance_rules.yaml; patterns are compiled when the file is loaded."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,59}$")
    description: str
    kind: Literal["forbidden", "required"]
    severity: Literal["block", "warn"]
    overridable: bool
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    patterns: dict[Literal["zh-Hans", "zh-Hant", "en"], list[str]]

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for pattern in (p for patterns in value.values() for p in patterns):
            re.compile(pattern)
        return value

    def applies(self, *, item_type: str, product_category: str) -> bool:
        scope = self.applies_to
        return (not scope.types or item_type in scope.types) and (
            not scope.product_categories or product_category in scope.product_categories
        )

    def regex(self, locale: str | None = None) -> re.Pattern[str]:
        """All patterns of one locale (or of every locale) as one case-insensitive regex."""
        return _compiled(self.id, locale)


class RuleBook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule]


@dataclass(frozen=True)
class Finding:
    """A rule hit and where it is: field path, locale, character offset (-1: missing) and text."""

    rule_id: str
    description: str
    severity: str
    overridable: bool
    field: str
    locale: str
    offset: int
    matched_text: str

    def describe(self) -> str:
        if self.offset < 0:
            return f"rule {self.rule_id}: required text missing in {self.field}"
        return f"rule {self.rule_id}: '{self.matched_text}' in {self.field} at {self.offset}"


@cache
def rule_book() -> RuleBook:
    """The rules, loaded and validated once per process."""
    return RuleBook.model_validate(yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")))


@cache
def _compiled(rule_id: str, locale: str | None) -> re.Pattern[str]:
    rule = next(r for r in rule_book().rules if r.id == rule_id)
    patterns = rule.patterns.get(locale, []) if locale else [p for ps in rule.patterns.values() for p in ps]
    return re.compile("|".join(f"(?:{p})" for p in patterns) or r"(?!)", re.IGNORECASE)


def _texts(variants: dict[str, Any]):  # type: ignore[no-untyped-def]
    for edition, variant in sorted(variants.items()):
        for locale, text in sorted(variant.get("texts", {}).items()):
            yield edition, locale, text


def check_content(*, item_type: str, product_category: str, variants: dict[str, Any]) -> list[Finding]:
    """Every rule hit in every text of every variant."""
    findings: list[Finding] = []
    for rule in rule_book().rules:
        if not rule.applies(item_type=item_type, product_category=product_category):
            continue
        for edition, locale, text in _texts(variants):
            base = f"variants.{edition}.{locale}"
            if rule.kind == "forbidden":
                regex = rule.regex()
                for field in FIELDS:
                    for m in regex.finditer(text.get(field, "")):
                        findings.append(_finding(rule, f"{base}.{field}", locale, m.start(), m.group(0)))
            else:
                regex = rule.regex(locale)
                if not any(regex.search(text.get(field, "")) for field in FIELDS):
                    findings.append(_finding(rule, f"{base}.body", locale, -1, ""))
    return findings


def _finding(rule: Rule, field: str, locale: str, offset: int, matched: str) -> Finding:
    return Finding(
        rule_id=rule.id,
        description=rule.description,
        severity=rule.severity,
        overridable=rule.overridable,
        field=field,
        locale=locale,
        offset=offset,
        matched_text=matched,
    )


def unresolved(findings: list[Finding], overrides: dict[str, str]) -> list[Finding]:
    """The blocking findings that no allowed override (rule id -> reason) resolves."""
    return [
        f
        for f in findings
        if f.severity == "block" and not (f.overridable and overrides.get(f.rule_id, "").strip())
    ]
