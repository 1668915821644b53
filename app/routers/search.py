"""Passage search: hybrid (dense + BM25 + query concepts), dense or lexical."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..deps import SearchDep
from ..errors import ERROR_RESPONSES
from ..schemas import MAX_ID_CHARS, SearchMode, SearchResponse

router = APIRouter(tags=["search"], responses=ERROR_RESPONSES)


@router.get(
    "/search",
    summary="Search passages by meaning and words, optionally within a "
    "concept's passages or one document",
)
def search(
    service: SearchDep,
    q: Annotated[
        str,
        Query(
            description="the query; at most settings.max_text_chars characters",
            openapi_examples={
                "question": {"value": "why does the organization exist"},
                "words": {"value": "bridge between leaders and workforce"},
            },
        ),
    ],
    k: Annotated[int, Query(description="hits returned, 1..settings.max_k")] = 10,
    mode: Annotated[SearchMode, Query(description="hybrid, dense or lexical")] = (
        SearchMode.hybrid
    ),
    concept: Annotated[
        str | None,
        Query(
            description="only passages mentioning this concept (short id)",
            max_length=MAX_ID_CHARS,
            openapi_examples={"bridge role": {"value": "BridgeRole"}},
        ),
    ] = None,
    document: Annotated[
        str | None,
        Query(
            description="only passages of this document",
            max_length=MAX_ID_CHARS,
            openapi_examples={"synergy": {"value": "synergy-of-success"}},
        ),
    ] = None,
) -> SearchResponse:
    return service.search(q, k=k, mode=mode, concept=concept, document=document)
