"""The whole index graph as one RDF document, in the syntax the client accepts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from ..deps import GraphExportDep, ResourcesDep
from ..errors import ERROR_RESPONSES
from ..rdf import RDF_MEDIA_TYPES, choose_media_type, content_type

router = APIRouter(tags=["graph"])

_OFFERED = list(RDF_MEDIA_TYPES)  # Turtle first: the default
_EXAMPLE = (
    "@prefix c: <https://leadgraph.dev/concept/> .\n"
    "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n\n"
    'c:BridgeRole a skos:Concept ;\n    skos:prefLabel "bridge role"@en ;\n'
    "    skos:broader c:OrganizationalRole .\n"
)


@router.get(
    "/graph",
    summary="The whole graph: ontology, documents, passages, mentions, relations, provenance",
    description="Turtle by default; JSON-LD, N-Triples or RDF/XML by `Accept`; 406 otherwise. "
    "Serialised once per loaded index; `ETag` changes with the index version.",
    response_class=Response,
    responses={
        200: {
            "description": "the graph in the negotiated syntax",
            "content": {
                "text/turtle": {"example": _EXAMPLE},
                **{media: {} for media in _OFFERED[1:]},
            },
        },
        304: {"description": "unchanged since the ETag sent in If-None-Match"},
        406: ERROR_RESPONSES[406],
        503: ERROR_RESPONSES[503],
    },
)
def get_graph(
    export: GraphExportDep,
    resources: ResourcesDep,
    accept: Annotated[
        str | None,
        Header(
            description=", ".join(_OFFERED),
            openapi_examples={
                "Turtle": {"value": "text/turtle"},
                "JSON-LD": {"value": "application/ld+json"},
            },
        ),
    ] = None,
    if_none_match: Annotated[str | None, Header(description="an ETag from before")] = None,
) -> Response:
    media_type = choose_media_type(accept, _OFFERED)
    etag = f'"{resources.index.manifest.version}-{RDF_MEDIA_TYPES[media_type]}"'
    headers = {"ETag": etag, "Vary": "Accept"}
    if if_none_match is not None and (
        if_none_match.strip() == "*" or etag in (t.strip() for t in if_none_match.split(","))
    ):
        return Response(status_code=304, headers=headers)
    return Response(export.body(media_type), media_type=content_type(media_type), headers=headers)
