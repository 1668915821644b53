"""Documents of the corpus: a catalogue, and each document with its passages and concept spans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from leadgraph.indexer.models import Document
from leadgraph.indexer.store import Index

from ..deps import ResourcesDep
from ..errors import ERROR_RESPONSES, NotFound
from ..schemas import (
    MAX_ID_CHARS,
    DocumentDetail,
    DocumentList,
    DocumentSummary,
    PassageOut,
    SpanOut,
)
from ..services.concepts import concept_ref, passage_concepts

router = APIRouter(prefix="/documents", tags=["documents"], responses=ERROR_RESPONSES)


@router.get("", summary="Every document of the corpus, by title")
def list_documents(resources: ResourcesDep) -> DocumentList:
    index = resources.index
    counts: dict[str, int] = {}
    for p in index.passages:
        counts[p.document_id] = counts.get(p.document_id, 0) + 1
    items = [
        DocumentSummary(
            id=d.id,
            title=d.title,
            kind=d.kind,
            date=d.date,
            source=d.source,
            passage_count=counts.get(d.id, 0),
        )
        for d in sorted(index.documents.values(), key=lambda d: (d.title.casefold(), d.id))
    ]
    return DocumentList(items=items, total=len(items))


@router.get("/{document_id}", summary="A document: its text, passages and concept spans")
def get_document(
    resources: ResourcesDep,
    document_id: Annotated[
        str,
        Path(
            max_length=MAX_ID_CHARS,
            openapi_examples={"synergy": {"value": "synergy-of-success"}},
        ),
    ],
) -> DocumentDetail:
    index = resources.index
    document = _document(index, document_id)
    passages = [p for p in index.passages if p.document_id == document.id]
    mentions = [
        SpanOut(
            concept=concept_ref(index, m.concept_uri),
            start=m.start,
            end=m.end,
            surface=m.surface or document.text[m.start : m.end],
        )
        for p in passages
        for m in index.mentions_by_passage.get(p.id, ())
        if m.start is not None and m.end is not None and m.concept_uri in index.concepts
    ]
    mentions.sort(key=lambda s: (s.start, s.end))
    return DocumentDetail(
        id=document.id,
        title=document.title,
        kind=document.kind,
        date=document.date,
        source=document.source,
        text=document.text,
        passages=[
            PassageOut(
                id=p.id,
                start=p.start,
                end=p.end,
                text=p.text,
                concepts=passage_concepts(index, p.id),
            )
            for p in passages
        ],
        mentions=mentions,
    )


def _document(index: Index, document_id: str) -> Document:
    document = index.documents.get(document_id)
    if document is None:
        raise NotFound(
            f"no document {document_id!r}; GET /documents lists them", code="document_not_found"
        )
    return document
