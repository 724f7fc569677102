"""The `sort` query parameter of the operator lists: a field name, `-` in front for descending.

The service orders in SQL by the field and then by id (a stable order for paging) and ties its page
tokens to the sort; this parameter documents and checks the names, so an unknown one is a 422 whose
field error lists the allowed ones.
"""

from __future__ import annotations

from typing import Any

from fastapi import Query

# A sorted page's token carries the sort, the last field value and the last id: a name of 100
# characters is up to 600 bytes of JSON (escapes), about 900 characters of base64url.
SORTED_TOKEN_LENGTH = 1024


def sort_query(*fields: str) -> Any:
    """`Query` of a list's `sort`: one of `fields`, or `-field` for descending; empty: by id."""
    names = "|".join(fields)
    return Query(
        pattern=rf"^(-?({names}))?$",
        description=(
            f"order by one of {', '.join(fields)}; `-` in front for descending; ties by id. "
            "A page token is only valid with the sort it was issued for."
        ),
        examples=[fields[-1], f"-{fields[-1]}"],
    )


def token_query() -> Any:
    """`Query` of a sortable list's `page_token`."""
    return Query(max_length=SORTED_TOKEN_LENGTH, description="`next_page_token` of the previous page")
