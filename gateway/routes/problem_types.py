"""The pages every problem `type` URI points at: what a code means and how to fix it.

`GET /problems/<code>` answers HTML to a browser (`Accept: text/html`) and JSON otherwise;
`GET /problems` lists the codes and the families. Public, like `/docs`.
"""

from __future__ import annotations

import html
import re

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from gateway.problem_catalogue import ProblemType, describe, documented_codes, families
from gateway.problems import Problem

router = APIRouter(tags=["system"])

_TICKS = re.compile(r"`([^`]+)`")


class ProblemTypePublic(BaseModel):
    code: str
    title: str
    meaning: str
    fix: str


class ProblemTypeIndex(BaseModel):
    codes: list[str]
    families: list[str]


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _inline(text: str) -> str:
    return _TICKS.sub(r"<code>\1</code>", html.escape(text, quote=True))


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - Lattice</title></head><body>{body}"
        '<p><a href="/problems">All problem codes</a> · <a href="/docs">API reference</a></p>'
        "</body></html>",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def _html(entry: ProblemType) -> HTMLResponse:
    return _page(
        entry.code,
        f"<h1>{_inline(entry.title)}</h1><p><code>{html.escape(entry.code)}</code></p>"
        f"<h2>What it means</h2><p>{_inline(entry.meaning)}</p>"
        f"<h2>How to fix it</h2><p>{_inline(entry.fix)}</p>"
        "<p>Every problem body carries <code>trace_id</code> and <code>request_id</code>: quote them "
        "to the bank's operations team, who find the request with <code>grep &lt;trace_id&gt;</code> "
        "in the logs.</p>",
    )


@router.get(
    "/problems",
    response_model=ProblemTypeIndex,
    summary="Every problem code the API answers",
    operation_id="list_problem_types",
)
async def list_problem_types(request: Request):
    """The documented codes and code families; an HTML page when the caller accepts `text/html`."""
    index = ProblemTypeIndex(codes=documented_codes(), families=families())
    if not _wants_html(request):
        return index
    items = "".join(f'<li><a href="/problems/{c}"><code>{c}</code></a></li>' for c in index.codes)
    patterns = "".join(f"<li><code>{html.escape(f)}</code></li>" for f in index.families)
    return _page(
        "Problem codes",
        f"<h1>Problem codes</h1><ul>{items}</ul><h2>Families</h2><ul>{patterns}</ul>",
    )


@router.get(
    "/problems/{code}",
    response_model=ProblemTypePublic,
    summary="What a problem code means and how to fix it",
    operation_id="get_problem_type",
    responses={404: {"description": "Lattice answers no problem with this code"}},
)
async def get_problem_type(
    request: Request, code: str = Path(max_length=64, pattern=r"^[a-z][a-z0-9_]{1,63}$")
):
    """The page a problem's `type` URI points at: what the code means and how the caller fixes it
    (HTML for a browser, JSON otherwise)."""
    entry = describe(code)
    if entry is None:
        raise Problem(404, "problem_type_not_found", "Lattice answers no problem with this code")
    if _wants_html(request):
        return _html(entry)
    return ProblemTypePublic(code=entry.code, title=entry.title, meaning=entry.meaning, fix=entry.fix)
