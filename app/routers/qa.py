"""Question answering: sentences of the corpus, cited exactly, or an abstention."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from ..deps import QADep
from ..errors import ERROR_RESPONSES
from ..schemas import AskRequest, AskResponse

router = APIRouter(tags=["qa"], responses=ERROR_RESPONSES)


@router.post(
    "/ask",
    summary="Answer a question with quoted sentences of the corpus, or abstain",
)
def ask(
    service: QADep,
    request: Annotated[
        AskRequest,
        Body(
            openapi_examples={
                "in the corpus": {
                    "value": {
                        "question": "Who is the bridge between leaders and the workforce?",
                        "k": 5,
                    }
                },
                "not in the corpus": {
                    "summary": "abstains",
                    "value": {"question": "What is the capital of France?", "k": 5},
                },
            }
        ),
    ],
) -> AskResponse:
    return service.ask(request.question, k=request.k, min_confidence=request.min_confidence)
