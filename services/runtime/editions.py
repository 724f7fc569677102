"""The editions (版本) of the bank's apps: 千人千面 variants for groups of customers.

Shared by identity (which editions a customer is in), content (variants per edition), benefits
(benefits offered only in some editions) and the gateway (the edition a customer is served in).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

Edition = Literal["standard", "elderly", "student", "rural", "private_banking", "inclusive"]
EDITIONS: tuple[str, ...] = get_args(Edition)
STANDARD = "standard"


def served_edition(editions: Iterable[str]) -> str:
    """The edition a customer is served in: a specialised edition they are in (the first in the
    order of EDITIONS), else standard."""
    mine = set(editions)
    return next((e for e in EDITIONS if e != STANDARD and e in mine), STANDARD)
