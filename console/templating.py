"""Rendering: one Jinja2 environment (autoescape everywhere) and the context every page shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context

from console import formatting
from console.api import OpsApi
from console.i18n import LANGUAGES, pick_language, translate
from console.nav import SECTIONS, NavEntry, counts_for

TEMPLATES_DIR = Path(__file__).with_name("templates")


@pass_context
def _t(context: Any, key: str, /, **values: Any) -> str:
    return translate(key, context.get("lang", ""), **values)


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # compiled once per process: no stat of every template on every page
        cache_size=-1,
    )
    env.globals.update(t=_t, languages=LANGUAGES)
    env.filters.update(
        money=formatting.money, local_time=formatting.local_time, local_date=formatting.local_date
    )
    return env


ENVIRONMENT = make_environment()


def language_of(request: Request) -> str:
    return pick_language(request.state.session.language)


def translator(request: Request) -> Callable[..., str]:
    """`t = translator(request); t("home.title")`: the glossary in the session's language."""
    language = language_of(request)
    return lambda key, /, **values: translate(key, language, **values)


def trace_url(request: Request, trace_id: str) -> str:
    """The trace of a request: in the collector's UI when one is set, else on the console's traces page."""
    jaeger = request.app.state.settings.jaeger_url.rstrip("/")
    return f"{jaeger}/trace/{trace_id}" if jaeger else f"/traces/{trace_id}"


def base_context(request: Request) -> dict[str, Any]:
    session = request.state.session
    return {
        "request": request,
        # the glossary bound to the page's language: a plain function, so Jinja calls it directly (the
        # global `t` reads the language from the template context, which copies it on every call in a loop)
        "t": translator(request),
        "lang": language_of(request),
        "session": session,
        "csrf_token": session.csrf_token,
        "current_path": request.url.path,
        "trace_ids": list(request.state.trace_ids),
        "trace_url": lambda trace_id: trace_url(request, trace_id),
    }


async def navigation(request: Request) -> list[dict[str, Any]]:
    """The left navigation: the sections with the entries this operator may see, with their badges."""
    session = request.state.session
    if not session.signed_in:
        return []
    entries: list[NavEntry] = [e for e in request.app.state.nav if e.visible_to(session)]
    api = OpsApi(request.app.state.http, session, [])
    counts = await counts_for(entries, api, session)
    sections = []
    for section in SECTIONS:
        items = sorted((e for e in entries if e.section == section), key=lambda e: (e.order, e.path))
        if items:
            sections.append(
                {
                    "name": section,
                    "entries": [
                        {"label": e.label, "path": e.path, "count": counts.get(e.path), "entry": e}
                        for e in items
                    ],
                }
            )
    return sections


async def render(
    request: Request,
    template: str,
    *,
    title: str,
    breadcrumb: Sequence[tuple[str, str | None]] = (),
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A whole page in base.html; `breadcrumb` is (text, link or None) after the home link."""
    page = {
        **base_context(request),
        "title": title,
        "breadcrumb": list(breadcrumb),
        "nav_sections": await navigation(request),
        **context,
    }
    return HTMLResponse(ENVIRONMENT.get_template(template).render(page), status_code=status_code)


def render_fragment(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A part of a page for htmx (no layout, no navigation)."""
    page = {**base_context(request), **context}
    return HTMLResponse(ENVIRONMENT.get_template(template).render(page), status_code=status_code)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"
