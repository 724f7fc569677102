"""Hypothesis strategies: personal numbers (mobile, resident ID, card) in every form a client may write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import strategies as st

from services.runtime.personal_data import luhn

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_FULL_WIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")


@dataclass(frozen=True)
class Generated:
    """A personal number as sent (`text`) and its bare digits (what must never appear anywhere)."""

    kind: str
    text: str
    digits: str


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


phones = st.builds(lambda second, rest: f"1{second}{rest}", st.sampled_from("3456789"), _digits(9))


@st.composite
def id_cards(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from("12345678")) + draw(_digits(5))
    born = date(1930, 1, 1) + timedelta(days=draw(st.integers(0, 80 * 365)))
    body = f"{region}{born:%Y%m%d}{draw(_digits(3))}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix, length = draw(
        st.sampled_from([("4", 16), ("4", 13), ("51", 16), ("55", 16), ("62", 16), ("62", 19), ("37", 15)])
    )
    body = prefix + draw(_digits(length - len(prefix) - 1))
    return next(body + d for d in "0123456789" if luhn(body + d))


def _grouped(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    out, at = [], 0
    for size in sizes:
        out.append(digits[at : at + size])
        at += size
    if at < len(digits):
        out.append(digits[at:])
    return sep.join(p for p in out if p)


def _zero_width(text: str, every: int, mark: str) -> str:
    return mark.join(text[i : i + every] for i in range(0, len(text), every))


@st.composite
def phone_forms(draw: st.DrawFn) -> Generated:
    phone = draw(phones)
    sep = draw(st.sampled_from([" ", "-", ".", ""]))
    spaced = _grouped(phone, (3, 4, 4), sep)
    form = draw(
        st.sampled_from(
            [
                phone,
                spaced,
                f"+86 {spaced}",
                f"+86{phone}",
                f"0086-{spaced}",
                f"86-{phone}",
                phone.translate(_FULL_WIDTH),
                f"＋８６ {spaced.translate(_FULL_WIDTH)}",
                _zero_width(phone, 3, draw(st.sampled_from(_ZERO_WIDTH))),
            ]
        )
    )
    return Generated("phone", form, phone)


@st.composite
def id_card_forms(draw: st.DrawFn) -> Generated:
    number = draw(id_cards())
    sep = draw(st.sampled_from([" ", "-", "."]))
    form = draw(
        st.sampled_from(
            [
                number,
                number.lower(),
                _grouped(number, (6, 8, 4), sep),
                number[:17].translate(_FULL_WIDTH) + number[17],
                _zero_width(number, 6, draw(st.sampled_from(_ZERO_WIDTH))),
            ]
        )
    )
    return Generated("id_card", form, number)


@st.composite
def card_forms(draw: st.DrawFn) -> Generated:
    number = draw(cards())
    sep = draw(st.sampled_from([" ", "-", "."]))
    form = draw(
        st.sampled_from(
            [
                number,
                _grouped(number, (4, 4, 4, 4), sep),
                number.translate(_FULL_WIDTH),
                _zero_width(number, 4, draw(st.sampled_from(_ZERO_WIDTH))),
            ]
        )
    )
    return Generated("card", form, number)


def personal_numbers() -> st.SearchStrategy[Generated]:
    """One personal number of any kind in any form, sometimes inside ordinary identifier text."""
    number = st.one_of(phone_forms(), id_card_forms(), card_forms())
    wrap = st.sampled_from(["{}", "user-{}", "tel:{}", "ref_{}", "{} ", "u{}x", "订单{}号"])
    return st.builds(lambda n, w: Generated(n.kind, w.format(n.text), n.digits), number, wrap)
