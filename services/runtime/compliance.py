"""The one compliance check of operator-written text (content items, reach's inline messages)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

RULES_FILE = Path(__file__).parent / "compliance_rules.yaml"
# Marks with no visible width of their own (zero-width spaces and joiners, soft hyphens, combining
# marks) are dropped everywhere; they only serve to split a phrase for a regex.
_INVISIBLE = ("Cf", "Mn", "Me", "Cc")  # Cc except whitespace: a line break still separates words
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
# Written to match words spaced out normally; in the squeezed view spaces and dashes are gone.
_SPACING = re.compile(r"\\s[+*?]?|\[- \]\??|\[ -\]\??|\\b")


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
            re.compile(_SPACING.sub("", pattern))
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
    """A rule hit and where it is: field path, locale, offset in the original text (-1: missing)."""

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


@dataclass(frozen=True)
class Passage:
    """Texts checked together: `path` prefixes each field in findings; locale '' when unknown."""

    path: str
    locale: str
    fields: dict[str, str] = field(default_factory=dict)


@cache
def rule_book() -> RuleBook:
    """The rules, loaded and validated once per process."""
    return RuleBook.model_validate(yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")))


def _patterns(rule_id: str, locale: str | None) -> list[str]:
    rule = next(r for r in rule_book().rules if r.id == rule_id)
    if locale is not None:
        return rule.patterns.get(locale, [])  # type: ignore[call-overload,no-any-return]  # rule patterns come from YAML, untyped
    return [p for ps in rule.patterns.values() for p in ps]


@cache
def _compiled(rule_id: str, locale: str | None) -> re.Pattern[str]:
    patterns = _patterns(rule_id, locale)
    return re.compile("|".join(f"(?:{p})" for p in patterns) or r"(?!)", re.IGNORECASE)


@cache
def _squeezed(rule_id: str, locale: str | None) -> list[tuple[re.Pattern[str], bool, bool]]:
    """Each pattern without its spacing, and whether it wanted a word boundary before / after."""
    return [
        (re.compile(_SPACING.sub("", p), re.IGNORECASE), p.startswith("\\b"), p.endswith("\\b"))
        for p in _patterns(rule_id, locale)
    ]


@dataclass
class _View:
    """Text normalised for matching; `origin[i]` is the offset in the original of character i."""

    text: str
    origin: list[int]


def _normalised(original: str) -> _View:
    """NFKC (full-width forms), invisible marks dropped, spaces between CJK characters dropped."""
    chars: list[tuple[str, int]] = []
    for i, ch in enumerate(original):
        if ch.isspace() or unicodedata.category(ch) not in _INVISIBLE:
            chars.extend((c, i) for c in unicodedata.normalize("NFKC", ch))
    # The nearest non-space character before each position (one pass each way keeps this linear).
    before, last = [], ""
    for c, _ in chars:
        before.append(last)
        last = c if not c.isspace() else last
    kept: list[tuple[str, int]] = []
    after = ""
    for n in range(len(chars) - 1, -1, -1):
        c, i = chars[n]
        if not (c.isspace() and _CJK.match(before[n]) and _CJK.match(after)):
            kept.append((c, i))
        after = c if not c.isspace() else after
    kept.reverse()
    return _View("".join(c for c, _ in kept), [i for _, i in kept])


def _squeezed_view(view: _View) -> tuple[_View, list[int]]:
    """Only letters and digits: spaces, punctuation and symbols inserted between characters vanish."""
    keep = [n for n, c in enumerate(view.text) if c.isalnum()]
    return _View("".join(view.text[n] for n in keep), [view.origin[n] for n in keep]), keep


@lru_cache(maxsize=64)
def _views(original: str) -> tuple[_View, _View, list[int]]:
    """Both views of one text, computed once for all rules."""
    view = _normalised(original)
    return (view, *_squeezed_view(view))


def _word(text: str, n: int) -> bool:
    return 0 <= n < len(text) and (text[n].isalnum() or text[n] == "_")


def _matches(rule_id: str, locale: str | None, original: str) -> Iterator[tuple[int, int]]:
    """Spans (start, end) in the original text of the rule's patterns, in either view."""
    view, squeezed, at = _views(original)
    seen: set[int] = set()
    for m in _compiled(rule_id, locale).finditer(view.text):
        if m.end() > m.start() and (start := view.origin[m.start()]) not in seen:
            seen.add(start)
            yield start, view.origin[m.end() - 1] + 1
    for regex, left, right in _squeezed(rule_id, locale):
        for m in regex.finditer(squeezed.text):
            if m.end() == m.start():
                continue
            first, last = at[m.start()], at[m.end() - 1]
            if (left and _word(view.text, first - 1)) or (right and _word(view.text, last + 1)):
                continue
            if (start := squeezed.origin[m.start()]) not in seen:
                seen.add(start)
                yield start, squeezed.origin[m.end() - 1] + 1


def check_passages(
    passages: Iterable[Passage], *, item_type: str = "", product_category: str = ""
) -> list[Finding]:
    """Every rule hit in every field of every passage, with its offset in the text as written."""
    findings: list[Finding] = []
    passages = list(passages)
    for rule in rule_book().rules:
        if not rule.applies(item_type=item_type, product_category=product_category):
            continue
        for passage in passages:
            if rule.kind == "forbidden":
                for name, text in passage.fields.items():
                    for start, end in sorted(_matches(rule.id, None, text)):
                        where = f"{passage.path}.{name}"
                        findings.append(_finding(rule, where, passage.locale, start, text[start:end]))
            elif passage.locale and not any(
                next(_matches(rule.id, passage.locale, text), None) for text in passage.fields.values()
            ):
                findings.append(_finding(rule, f"{passage.path}.body", passage.locale, -1, ""))
    return findings


def _finding(rule: Rule, where: str, locale: str, offset: int, matched: str) -> Finding:
    return Finding(
        rule_id=rule.id,
        description=rule.description,
        severity=rule.severity,
        overridable=rule.overridable,
        field=where,
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
