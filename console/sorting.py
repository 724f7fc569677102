"""Server-side sorting of the console's lists: `?sort=field` (`-field` descending) goes to the API as is.

The API knows each list's sortable fields and answers an unknown one with a 422 problem, which the
console shows like any refusal; a sorted page's token is longer than an id (it carries the sort).
Column headers link to the other direction (partials/sort.html), keeping the filters in the URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

Sort = Annotated[str, Query(max_length=40, pattern=r"^(-?[a-z_]{1,30})?$")]
SortedPageToken = Annotated[str, Query(max_length=1024, pattern=r"^[A-Za-z0-9_~.-]*$")]
