"""Personal numbers (mainland mobile, resident ID card, payment card) in any text, however written.

Text is folded first: every script's decimal digits become ASCII digits, full-width forms their ASCII
counterparts, invisible characters (zero-width spaces, joiners, soft hyphens, controls) are dropped,
dashes and spaces of every kind become '-' and ' '. A candidate is a whole run of digit groups joined
by spaces, dots or dashes, never part of a longer number (digit-boundary aware); tokens that are
hexadecimal ids (UUIDs, trace ids, hashes, `cus_...`) are not read as numbers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

REPLACEMENT = "[personal-number]"
KINDS = {"phone": "phone number", "id_card": "ID-card number", "card": "card number"}

# digits and separators, at least eleven characters: the only places a number can be (a fast scan)
_DENSE = re.compile(r"[0-9][0-9 \t.\-]{10,}[Xx]?")
_RUN = re.compile(r"[0-9]+(?:[ \t.\-]{1,3}[0-9]+)*(?:[ \t.\-]?[Xx])?")
# control characters other than tab and line breaks are invisible: dropped like zero-width ones
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_GROUP = re.compile(r"[0-9]+[Xx]?|[Xx]")
# Hex ids: a UUID, or a token of 16+ hex characters with at least one letter (trace/span ids, hashes).
_HEX_ID = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?:0x)?(?=[0-9]*[a-fA-F])[0-9a-fA-F]{16,})(?![0-9A-Za-z])"
)
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_ID_CARD = re.compile(r"[1-8][0-9]{16}[0-9X]")
# Card issuers: Visa, Mastercard (51-55, 2221-2720), UnionPay, Amex, JCB, Diners, Discover.
_CARD = re.compile(r"(?:4|5[1-5]|2[2-7]|62|81|3[47]|35|30|36|38|6011|64[4-9]|65)[0-9]+")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_MAX_GROUPS_PER_NUMBER = 8
_MIN_DIGITS, _MAX_DIGITS = 11, 20  # a mobile number .. a 19-digit card (or 0086 + mobile) with its X
# any script's digits, with anything between them: fewer than eleven and there is nothing to find
_ENOUGH_DIGITS = re.compile(r"\d(?:\D*\d){10}")


@dataclass(frozen=True)
class Finding:
    """One personal number: its kind, where it is in the original text, and its digits."""

    kind: str
    start: int
    end: int
    digits: str

    @property
    def label(self) -> str:
        return KINDS[self.kind]


def fold(text: str) -> tuple[str, list[int] | None]:
    """The text with digits, widths, spaces and dashes folded; and each folded char's original index."""
    if text.isascii() and not _CONTROL.search(text):
        return text, None
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            if _CONTROL.match(ch):
                continue
            folded = ch
        elif unicodedata.category(ch) == "Cf":
            continue
        elif (digit := unicodedata.decimal(ch, None)) is not None:
            folded = str(digit)
        elif ch.isspace():
            folded = " "
        elif unicodedata.category(ch) == "Pd" or ch == "\u2212":
            folded = "-"
        else:
            folded = unicodedata.normalize("NFKC", ch)
        out.append(folded)
        index.extend([i] * len(folded))
    return "".join(out), index


def is_id_card(candidate: str) -> bool:
    """A resident ID number: region digit, a real birth date and the ISO 7064 MOD 11-2 check character."""
    candidate = candidate.upper()
    if not _ID_CARD.fullmatch(candidate):
        return False
    try:
        born = date(int(candidate[6:10]), int(candidate[10:12]), int(candidate[12:14]))
    except ValueError:
        return False
    if born.year < 1900:
        return False
    total = sum(int(d) * w for d, w in zip(candidate[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == candidate[17]


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _phone(groups: list[str]) -> str | None:
    """The 11-digit mobile number the groups spell (after +86 / 0086 / 86), or None."""
    if len(groups) > 1 and groups[0] in ("86", "0086"):
        groups = groups[1:]
    if any(len(g) < 3 for g in groups) and len(groups) > 1:
        return None
    digits = "".join(groups)
    for prefix in ("0086", "86", ""):
        if digits.startswith(prefix) and _PHONE.fullmatch(digits[len(prefix) :]):
            return digits[len(prefix) :]
    return None


def _is_card(groups: list[str]) -> bool:
    digits = "".join(groups)
    if len(groups) > 1 and not (all(3 <= len(g) <= 6 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 6):
        return False
    return 13 <= len(digits) <= 19 and bool(_CARD.fullmatch(digits)) and luhn(digits)


def _kind(groups: list[str]) -> tuple[str, str] | None:
    """(kind, digits) of the number the groups spell, or None."""
    last_x = groups[-1].upper().endswith("X")
    bare = [*groups[:-1], groups[-1].rstrip("Xx")] if last_x else groups
    if not all(bare) or not all(g.isdigit() for g in bare):
        return None
    if len(groups) == 1 or all(len(g) >= 3 for g in bare):
        for candidate in ("".join(groups).upper(), "".join(bare)):
            if is_id_card(candidate):
                return "id_card", candidate
    if phone := _phone(bare):
        return "phone", phone
    if _is_card(bare):
        return "card", "".join(bare)
    return None


def _candidates(folded: str) -> list[tuple[int, int, str, str]]:
    hex_ids: list[tuple[int, int]] | None = None
    found: list[tuple[int, int, str, str]] = []
    runs = (run for dense in _DENSE.finditer(folded) for run in _RUN.finditer(folded, *dense.span()))
    for run in runs:
        groups = [
            (m.start() + run.start(), m.end() + run.start(), m.group()) for m in _GROUP.finditer(run.group())
        ]
        if len(groups) > 1 and groups[-1][2] in ("X", "x"):  # "... 002 X": the check character set apart
            groups[-2:] = [(groups[-2][0], groups[-1][1], groups[-2][2] + "X")]
        for i in range(len(groups)):
            digits = 0
            for j in range(i, min(len(groups), i + _MAX_GROUPS_PER_NUMBER)):
                digits += len(groups[j][2])
                if digits > _MAX_DIGITS:
                    break
                if digits < _MIN_DIGITS:
                    continue
                hit = _kind([g[2] for g in groups[i : j + 1]])
                if hit is None:
                    continue
                start, end = groups[i][0], groups[j][1]
                if hex_ids is None:
                    hex_ids = [m.span() for m in _HEX_ID.finditer(folded)]
                if not any(s < end and start < e for s, e in hex_ids):
                    found.append((start, end, *hit))
    return found


def find_personal_numbers(text: str) -> list[Finding]:
    """Every phone, ID-card and card number in `text`, leftmost-longest, not overlapping."""
    if _ENOUGH_DIGITS.search(text) is None:
        return []
    folded, index = fold(text)
    chosen: list[Finding] = []
    taken_until = -1
    for start, end, kind, digits in sorted(_candidates(folded), key=lambda c: (c[0], c[0] - c[1])):
        if start < taken_until:
            continue
        taken_until = end
        if index is not None:
            start, end = index[start], index[end - 1] + 1
        chosen.append(Finding(kind=kind, start=start, end=end, digits=digits))
    return chosen


def contains_personal_number(text: str) -> bool:
    return bool(find_personal_numbers(text))


def scrub(text: str, *, replacement: str = REPLACEMENT) -> str:
    """`text` with every personal number replaced."""
    found = find_personal_numbers(text)
    for f in reversed(found):
        text = text[: f.start] + replacement + text[f.end :]
    return text
