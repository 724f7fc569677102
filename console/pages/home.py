"""The workbench's home: who is signed in, their scope, and what waits for them across areas."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.nav import NavEntry
from console.session import OperatorSessionDep
from console.templating import render, translator

router = APIRouter()
NAV = NavEntry(label="nav.home", path="/", order=0, section="overview")


@router.get("/")
async def home(request: Request, session: OperatorSessionDep) -> Response:
    t = translator(request)
    return await render(request, "home/index.html", title=t("home.title"))
