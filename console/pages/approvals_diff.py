"""What changed between two versions of a reviewed object, and where compliance findings sit in the text."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

# Segment kinds: "same" text, text only "before" (removed), text only "after" (added), or a finding's "hit".
Segment = tuple[str, str]


@dataclass
class FieldChange:
    """One field of the object: its value before and after, as segments of an inline diff."""

    name: str
    before: str
    after: str
    segments: list[Segment] = field(default_factory=list)

    @property
    def added(self) -> bool:
        return not self.before and bool(self.after)


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested JSON as `a.b.0.c` -> text, so two versions compare field by field."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            out[prefix] = ", ".join(str(v) for v in value)
        else:
            for index, inner in enumerate(value):
                out.update(flatten(inner, f"{prefix}.{index}"))
    elif value is not None and value != "":
        out[prefix] = str(value)
    return out


def _prose(text: str) -> bool:
    return len(text) > 40 or any("\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef" for c in text)


def diff_segments(before: str, after: str) -> list[Segment]:
    """Prose diffs by character (Chinese has no spaces between words); amounts, dates and ids whole."""
    if not (_prose(before) or _prose(after)):
        return [s for s in (("before", before), ("after", after)) if s[1]]
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    segments: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("same", before[i1:i2]))
            continue
        if i2 > i1:
            segments.append(("before", before[i1:i2]))
        if j2 > j1:
            segments.append(("after", after[j1:j2]))
    return segments


def changes(before: Any, after: Any, *, skip: tuple[str, ...] = ()) -> list[FieldChange]:
    """The fields whose value differs between the two versions (every field when there is no before)."""
    old, new = flatten(before or {}), flatten(after or {})
    found = []
    for name in sorted(old.keys() | new.keys()):
        if name.split(".")[0] in skip or old.get(name, "") == new.get(name, ""):
            continue
        a, b = old.get(name, ""), new.get(name, "")
        found.append(FieldChange(name=name, before=a, after=b, segments=diff_segments(a, b)))
    return found


def highlight(text: str, offset: int, length: int) -> list[Segment]:
    """The text with the finding's span marked as a "hit" (a missing part, offset -1, marks nothing)."""
    if offset < 0 or offset >= len(text) or length <= 0:
        return [("same", text)]
    end = min(len(text), offset + length)
    return [("same", text[:offset]), ("hit", text[offset:end]), ("same", text[end:])]


def content_fields(version: dict[str, Any] | None) -> dict[str, Any]:
    """A content version's variants keyed as compliance findings name fields (variants.<ed>.<locale>.x)."""
    if not version:
        return {}
    variants: dict[str, Any] = {}
    for variant in version.get("variants", []):
        texts = {t["locale"]: {"title": t["title"], "body": t["body"]} for t in variant.get("texts", [])}
        media = [f"{m['kind']} {m['uri']} {m['alt']}".strip() for m in variant.get("media", [])]
        variants[variant["edition"]] = {**texts, "media": media, "deep_link": variant.get("deep_link")}
    return {"variants": variants}
