from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..deps import StateDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/health", summary="Liveness: the process answers")
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    summary="Readiness: 200 with the manifest summary once the index is loaded, 503 before",
    responses={503: {"description": "index not loaded; `detail` says what to run"}},
)
def ready(state: StateDep) -> JSONResponse:
    if state.resources is None:
        body: dict[str, Any] = {
            "error": "index_not_ready",
            "detail": state.problem or "index not loaded",
        }
        return JSONResponse(status_code=503, content=body)
    return JSONResponse({"status": "ready", "index": state.resources.index.manifest.summary()})
