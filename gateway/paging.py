"""The one list envelope, `{items, next_page_token}`, and the query parameters every paged list takes.

The services page (services/runtime/paging.py): a stable order and an opaque token of the last key. The
gateway bounds `page_size`, refuses a token of the wrong shape (422), passes the rest to the service
(which answers 422 `invalid_page_token` for a token it did not give out) and answers the envelope.
"""

from __future__ import annotations

from typing import Annotated, Generic, Self, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

MAX_PAGE_SIZE = 100  # as services/runtime/paging.py's MAX_PAGE

Item = TypeVar("Item")
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"items per page, 1..{MAX_PAGE_SIZE}")]
PageToken = Annotated[
    str,
    Query(
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="`next_page_token` of the previous page; absent for the first page",
    ),
]


class Page(BaseModel, Generic[Item]):
    """One page of a list: the envelope every list route answers. A list names its own subclass
    (`class AppPage(Page[AppPublic])`), so the OpenAPI document names its schema after it."""

    items: list[Item]
    next_page_token: str | None = Field(description="pass as `page_token` for the next page; null at the end")

    @classmethod
    def of(cls, items: list[Item], next_page_token: str) -> Self:
        """The page of a service's answer: its empty token (the last page) is null."""
        return cls(items=items, next_page_token=next_page_token or None)
