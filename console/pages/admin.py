"""Administration (系统管理): operators and roles, apps and editions, signing keys. Every change is the API's,
audited there; secrets it answers are shown once on the answer page, never put in a URL."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from console.api import ApiProblem, OpsApi, OpsApiDep
from console.formatting import csv_response, local_time
from console.nav import NavEntry
from console.templating import render, translator

router = APIRouter(prefix="/admin")
ADMIN = ("admin",)
NAV = [
    NavEntry(label="admin.nav_operators", path="/admin/operators", order=10, section="admin", roles=ADMIN),
    NavEntry(label="admin.nav_apps", path="/admin/apps", order=20, section="admin", roles=ADMIN),
    NavEntry(label="admin.nav_partners", path="/admin/partners", order=30, section="admin", roles=ADMIN),
    NavEntry(label="admin.nav_keys", path="/admin/keys", order=40, section="admin", roles=ADMIN),
    NavEntry(label="admin.nav_policy", path="/admin/reach-policy", order=50, section="admin", roles=ADMIN),
]
ROLES = ("viewer", "operator", "reviewer", "admin")
EDITIONS = ("standard", "elderly", "student", "rural", "private_banking", "inclusive")
BRANCH = r"^([a-z][a-z0-9_-]{1,39}|-)?$"


def crumbs(t: Any, title: str) -> list[tuple[str, str | None]]:
    return [(t("nav.section_admin"), None), (title, None)]


async def _operators_page(
    request: Request,
    api: OpsApi,
    *,
    filters: dict[str, str],
    form: dict[str, str] | None = None,
    problem: ApiProblem | None = None,
    created: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    page = await api.get("/v1/ops/operators", {**filters, "page_size": 50})
    return await render(
        request,
        "admin/operators.html",
        title=t("admin.operators_title"),
        breadcrumb=crumbs(t, t("admin.operators_title")),
        operators=page["items"],
        next_page_token=page["next_page_token"],
        page_params={k: filters[k] for k in ("branch", "role")},
        filters=filters,
        roles=ROLES,
        form=form or {},
        problem=problem,
        errors=problem.field_errors if problem else {},
        created=created,
        status_code=status_code,
    )


@router.get("/operators")
async def operators(
    request: Request,
    api: OpsApiDep,
    branch: Annotated[str, Query(pattern=BRANCH)] = "",
    role: Annotated[str, Query(pattern=r"^(viewer|operator|reviewer|admin)?$")] = "",
    page_token: Annotated[str, Query(max_length=40, pattern=r"^[a-z0-9_-]*$")] = "",
    export: Annotated[str, Query(pattern=r"^(csv)?$")] = "",
) -> Response:
    filters = {"branch": branch, "role": role, "page_token": page_token}
    if export:
        page = await api.get("/v1/ops/operators", {"branch": branch, "role": role, "page_size": 200})
        header = ("operator_id", "role", "branch", "created_at")
        rows = (
            [o["operator_id"], o["role"], o["branch"] or "", local_time(o["created_at"])]
            for o in page["items"]
        )
        return csv_response("operators.csv", header, rows)
    return await _operators_page(request, api, filters=filters)


@router.post("/operators")
async def add_operator(
    request: Request,
    api: OpsApiDep,
    operator_id: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    branch: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Register a member of staff; the client secret the API answers is shown once, here."""
    form = {"operator_id": operator_id, "role": role, "branch": branch}
    filters = {"branch": "", "role": "", "page_token": ""}
    body = {"operator_id": operator_id.strip(), "role": role, "branch": branch.strip() or None}
    try:
        created = await api.post("/v1/ops/operators", body)
    except ApiProblem as problem:
        if problem.status not in (403, 409, 422):
            raise
        return await _operators_page(
            request, api, filters=filters, form=form, problem=problem, status_code=problem.status
        )
    return await _operators_page(request, api, filters=filters, created=created)


async def _apps_page(
    request: Request,
    api: OpsApi,
    *,
    form: dict[str, Any] | None = None,
    problem: ApiProblem | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(request)
    apps = await api.get_all("/v1/ops/apps")
    return await render(
        request,
        "admin/apps.html",
        title=t("admin.apps_title"),
        breadcrumb=crumbs(t, t("admin.apps_title")),
        apps=apps,
        editions=EDITIONS,
        form=form or {"editions": ["standard"]},
        problem=problem,
        errors=problem.field_errors if problem else {},
        status_code=status_code,
    )


@router.get("/apps")
async def apps(
    request: Request, api: OpsApiDep, export: Annotated[str, Query(pattern=r"^(csv)?$")] = ""
) -> Response:
    if export:
        rows = (
            [a["app_id"], a["name"], a["role"], a["legal_entity"], " ".join(a["editions"])]
            for a in await api.get_all("/v1/ops/apps")
        )
        return csv_response("apps.csv", ("app_id", "name", "role", "legal_entity", "editions"), rows)
    return await _apps_page(request, api)


@router.post("/apps")
async def add_app(request: Request, api: OpsApiDep) -> Response:
    """Register an app of the matrix with its editions."""
    data = await request.form()
    form: dict[str, Any] = {k: str(data.get(k, ""))[:200] for k in ("app_id", "name", "role", "legal_entity")}
    form["editions"] = [e for e in data.getlist("editions") if e in EDITIONS]
    try:
        await api.post("/v1/ops/apps", {**form, "app_id": form["app_id"].strip()})
    except ApiProblem as problem:
        if problem.status not in (403, 409, 422):
            raise
        return await _apps_page(request, api, form=form, problem=problem, status_code=problem.status)
    return await _apps_page(request, api)


def _head_office_admin(request: Request) -> None:
    """The key pages read only the public JWKS: refuse them as the rotation APIs would refuse."""
    session = request.state.session
    if session.role != "admin":
        raise ApiProblem(403, "role_required", "this action needs the admin role")
    if session.branch:
        raise ApiProblem(403, "head_office_only", "signing keys are managed by head office")


async def _keys_page(
    request: Request,
    api: OpsApiDep,
    *,
    rotated: dict[str, Any] | None = None,
    link_rotated: dict[str, Any] | None = None,
) -> Response:
    """The keys page: the published token keys, with the answer of a rotation just made if any."""
    t = translator(request)
    jwks = await api.get("/v1/.well-known/jwks.json")
    return await render(
        request,
        "admin/keys.html",
        title=t("admin.keys_title"),
        breadcrumb=crumbs(t, t("admin.keys_title")),
        jwks=jwks.get("keys", []),
        rotated=rotated,
        link_rotated=link_rotated,
    )


@router.get("/keys")
async def keys(request: Request, api: OpsApiDep) -> Response:
    _head_office_admin(request)
    return await _keys_page(request, api)


@router.post("/keys/identity")
async def rotate_identity_key(
    request: Request, api: OpsApiDep, overlap_minutes: Annotated[int, Form(ge=0, le=7 * 24 * 60)] = 15
) -> Response:
    """Sign tokens with a new key; the previous one stays in the JWKS for the overlap."""
    rotated = await api.post(
        "/v1/ops/identity/signing-keys/rotate", {"overlap_seconds": overlap_minutes * 60}
    )
    return await _keys_page(request, api, rotated=rotated)


@router.post("/keys/links")
async def rotate_link_key(
    request: Request, api: OpsApiDep, overlap_days: Annotated[int, Form(ge=0, le=365)] = 30
) -> Response:
    """A new key for partner links; links signed with the previous key stay valid for the overlap."""
    link_rotated = await api.post("/v1/ops/conversion/link-keys/rotate", {"overlap_days": overlap_days})
    return await _keys_page(request, api, link_rotated=link_rotated)
