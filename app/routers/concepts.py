"""Concepts: lookup by label (autocomplete, typos, meaning), a concept's page, its neighbourhood."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response

from ..deps import ConceptsDep, ResourcesDep, SettingsDep
from ..errors import ERROR_RESPONSES
from ..rdf import RDF_MEDIA_TYPES, choose_media_type, concept_graph, rdf_response
from ..schemas import MAX_ID_CHARS, ConceptDetail, ConceptGraph, ConceptList

router = APIRouter(prefix="/concepts", tags=["concepts"], responses=ERROR_RESPONSES)

JSON = "application/json"
ConceptId = Annotated[
    str,
    Path(
        description=f"short concept id (or candidate id), at most {MAX_ID_CHARS} characters",
        max_length=MAX_ID_CHARS,
        openapi_examples={"bridge role": {"value": "BridgeRole"}},
    ),
]


LOOKUP_DESCRIPTION = """Concepts a short text names, best first, each with how it matched:

- `exact` (score 0.93-1): the same words as a label (prefLabel or altLabel) up to case and
  inflection ("LEADERS", "servant leaders"), word order and link words ("alignment of goals" for
  "aligned goals"), or an abbreviation that is an altLabel ("OKRs", "KPI") or, typed in capitals,
  a label's initials;
- `prefix` (0.70-0.90): each word of the query starts a word of the label, for autocomplete
  ("psych", "psych saf", "safety");
- `fuzzy` (0.50-0.69): a typo of a label: a few edits (Damerau-Levenshtein; 1 in a word of 4-6
  characters, 2 in a longer one, none under 4), never a word that the corpus or a label writes;
- `semantic` (0-0.49, 0.49 x cosine): close in meaning. A query holding a label plus words of its
  own ("transformational leadership", "leadership in hospitals") is not a label match: it is
  judged by meaning, without the label it contains.

A semantic match below the calibrated threshold is *weak*: left out unless `include_weak=true`
(then flagged `weak: true`). A text that names no concept gets an empty `items` list, meaning
no such concept; `candidates` still points to candidate terms mined from the corpus that match
it, even when `include_candidates` is false."""


@router.get(
    "",
    summary="Find concepts by label, prefix, typo or meaning (empty: no such concept)",
    description=LOOKUP_DESCRIPTION,
)
def list_concepts(
    service: ConceptsDep,
    settings: SettingsDep,
    q: Annotated[
        str | None,
        Query(
            description="label, start of a label, misspelt label or words of similar meaning; "
            "leave out to list the whole scheme in label order",
            openapi_examples={
                "autocomplete": {"value": "psych"},
                "typo": {"value": "leadrship"},
                "abbreviation": {"value": "OKRs"},
                "meaning": {"value": "the middleman"},
            },
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, description="at most settings.max_k")] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    include_candidates: Annotated[
        bool, Query(description="also terms mined from the corpus, not yet curated")
    ] = False,
    include_weak: Annotated[
        bool,
        Query(description="also semantic matches below the calibrated threshold (weak: true)"),
    ] = False,
) -> ConceptList:
    return service.lookup(
        q,
        limit=limit,
        offset=offset,
        include_candidates=include_candidates,
        include_weak=include_weak,
        max_k=settings.max_k,
        max_chars=settings.max_text_chars,
    )


@router.get(
    "/{concept_id}",
    summary="A concept: labels, definition, relations, co-occurring concepts and evidence "
    "(JSON, or RDF by content negotiation)",
    response_model=ConceptDetail,
    responses={
        200: {
            "description": "the concept as JSON, or its RDF description in the Accept'ed syntax",
            "content": {media: {} for media in RDF_MEDIA_TYPES},
        }
    },
)
def get_concept(
    concept_id: ConceptId,
    service: ConceptsDep,
    resources: ResourcesDep,
    settings: SettingsDep,
    accept: Annotated[
        str | None,
        Header(
            description="application/json (default), text/turtle, application/ld+json, "
            "application/n-triples or application/rdf+xml",
            openapi_examples={"turtle": {"value": "text/turtle"}},
        ),
    ] = None,
    evidence_limit: Annotated[
        int, Query(ge=0, description="passages listed as evidence, at most settings.max_k")
    ] = 20,
) -> ConceptDetail | Response:
    entry = service.resolve(concept_id)
    media_type = choose_media_type(accept, [JSON, *RDF_MEDIA_TYPES])
    if media_type != JSON:
        response: Response = rdf_response(concept_graph(resources.graph, entry.uri), media_type)
        return response
    return service.detail(entry.id, evidence_limit=min(evidence_limit, settings.max_k))


@router.get(
    "/{concept_id}/graph",
    summary="A concept's neighbourhood as nodes and edges, for drawing",
)
def get_concept_graph(
    concept_id: ConceptId,
    service: ConceptsDep,
    depth: Annotated[int, Query(ge=1, le=3, description="hops from the concept, 1..3")] = 1,
) -> ConceptGraph:
    return service.neighbourhood(concept_id, depth=depth)
