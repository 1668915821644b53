"""Grounding for chatbot backends: passages, concepts and an answer as one prompt-ready block."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from ..deps import QADep, ResourcesDep, SearchDep
from ..errors import ERROR_RESPONSES
from ..schemas import ContextRequest, ContextResponse
from ..services.context import ContextService

router = APIRouter(tags=["qa"], responses=ERROR_RESPONSES)


@router.post(
    "/context",
    summary="A grounding bundle for a chatbot prompt: numbered sources quoting the corpus, "
    "concept definitions and the extractive answer, within a token budget",
)
def context(
    resources: ResourcesDep,
    search: SearchDep,
    qa: QADep,
    request: Annotated[
        ContextRequest,
        Body(
            openapi_examples={
                "in the corpus": {
                    "value": {
                        "question": "Who is the bridge between leaders and the workforce?",
                        "k": 5,
                        "max_tokens": 800,
                    }
                },
                "small budget": {
                    "value": {"question": "What does management do?", "k": 3, "max_tokens": 120}
                },
            }
        ),
    ],
) -> ContextResponse:
    service = ContextService(resources.index, search, qa)
    return service.build(request.question, k=request.k, max_tokens=request.max_tokens)
