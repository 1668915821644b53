"""SPARQL 1.1 Protocol, read-only: GET ?query=, POST form, POST application/sparql-query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, Query, Request, Response

from ..deps import SettingsDep, SparqlDep
from ..errors import ERROR_RESPONSES, BadRequest
from ..rdf import RDF_MEDIA_TYPES
from ..services.sparql import SELECT_MEDIA_TYPES, SparqlService

router = APIRouter(tags=["sparql"])

SELECT_EXAMPLE = (
    'SELECT ?concept ?label WHERE { ?concept skos:prefLabel ?label FILTER(lang(?label) = "en") }'
    " ORDER BY ?label LIMIT 5"
)
ASK_EXAMPLE = "ASK { c:BridgeRole skos:broader c:OrganizationalRole }"
CONSTRUCT_EXAMPLE = "CONSTRUCT { c:BridgeRole ?p ?o } WHERE { c:BridgeRole ?p ?o }"
_FORM = "application/x-www-form-urlencoded"
_SPARQL_QUERY = "application/sparql-query"
_DESCRIPTION = (
    "Read-only SPARQL 1.1 over the index graph (one default graph). The graph's prefixes "
    "(`skos:`, `lg:`, `c:`, `dcterms:`, `prov:`, ...) are predeclared.\n\n"
    "SELECT and ASK answer in SPARQL JSON (default), XML, CSV or TSV (CSV/TSV for SELECT only); "
    "CONSTRUCT and DESCRIBE in Turtle (default), JSON-LD, N-Triples or RDF/XML, by `Accept`. "
    "At most `sparql_max_rows` rows or triples are returned, with `X-Leadgraph-Truncated: true` "
    "when more there were more. Updates, SERVICE, FROM/FROM NAMED, GRAPH and the "
    "`default-graph-uri`/`named-graph-uri` parameters are refused with 400; a query running "
    "past `sparql_timeout_s` is stopped with 503 `query_timeout`. Nesting deeper than "
    "`sparql_max_depth` is refused with 400. Queries are evaluated `sparql_workers` at a time; "
    "at most `sparql_queue` more wait, for at most `sparql_queue_wait_s`, and any beyond are "
    "answered 503 `busy` with `Retry-After`."
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the results in the negotiated syntax",
        "headers": {
            "X-Leadgraph-Truncated": {
                "description": "`true` when rows or triples were cut at sparql_max_rows",
                "schema": {"type": "string"},
            }
        },
        "content": {
            "application/sparql-results+json": {
                "example": {
                    "head": {"vars": ["concept", "label"]},
                    "results": {
                        "bindings": [
                            {
                                "concept": {
                                    "type": "uri",
                                    "value": "https://leadgraph.dev/concept/BridgeRole",
                                },
                                "label": {
                                    "type": "literal",
                                    "xml:lang": "en",
                                    "value": "bridge role",
                                },
                            }
                        ]
                    },
                }
            },
            "text/csv": {"example": "concept,label\r\nhttps://leadgraph.dev/concept/BridgeRole,"},
            "text/turtle": {
                "example": "@prefix c: <https://leadgraph.dev/concept/> .\n"
                "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n\n"
                'c:BridgeRole skos:prefLabel "bridge role"@en .\n'
            },
        },
    },
    400: {**ERROR_RESPONSES[400], "description": "missing, over-long, malformed or refused query"},
    406: ERROR_RESPONSES[406],
    503: {
        **ERROR_RESPONSES[503],
        "description": "index not ready; busy (with Retry-After), query_timeout, "
        "query_too_costly or query_crashed",
    },
}
AcceptHeader = Annotated[
    str | None,
    Header(
        description="SELECT/ASK: "
        + ", ".join(SELECT_MEDIA_TYPES)
        + "; CONSTRUCT/DESCRIBE: "
        + ", ".join(RDF_MEDIA_TYPES),
        openapi_examples={
            "SPARQL JSON": {"value": "application/sparql-results+json"},
            "CSV": {"value": "text/csv"},
            "Turtle": {"value": "text/turtle"},
        },
    ),
]


@router.get(
    "/sparql",
    summary="Run a read-only SPARQL query given as ?query=",
    description=_DESCRIPTION,
    response_class=Response,
    responses=_RESPONSES,
)
async def sparql_get(
    request: Request,
    service: SparqlDep,
    accept: AcceptHeader = None,
    query: Annotated[
        str | None,
        Query(
            description="the SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE)",
            openapi_examples={
                "SELECT concepts by label": {"value": SELECT_EXAMPLE},
                "ASK": {"value": ASK_EXAMPLE},
                "CONSTRUCT": {"value": CONSTRUCT_EXAMPLE},
            },
        ),
    ] = None,
) -> Response:
    # async: the query waits for a thread of the SPARQL service's own executor, holding none
    # of the threadpool that other endpoints share
    _refuse_datasets(request.query_params)
    return await _answer(service, _one_query(request.query_params.getlist("query")), accept)


@router.post(
    "/sparql",
    summary="Run a read-only SPARQL query sent as a form field or an application/sparql-query body",
    description=_DESCRIPTION,
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _SPARQL_QUERY: {"schema": {"type": "string"}, "example": SELECT_EXAMPLE},
                _FORM: {
                    "schema": {
                        "type": "object",
                        "properties": {"query": {"type": "string"}},
                        "required": ["query"],
                    },
                    "example": {"query": SELECT_EXAMPLE},
                },
            },
        }
    },
)
async def sparql_post(
    request: Request, service: SparqlDep, settings: SettingsDep, accept: AcceptHeader = None
) -> Response:
    _refuse_datasets(request.query_params)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (_FORM, _SPARQL_QUERY):
        raise BadRequest(
            f"Content-Type {kind or '(none)'}: send {_SPARQL_QUERY} or {_FORM}", code="bad_query"
        )
    body = await _read_body(request, settings.sparql_max_chars)
    try:
        if kind == _SPARQL_QUERY:
            text = body.decode("utf-8")
        else:
            fields = parse_qs(
                body.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=16
            )
            _refuse_datasets(fields)
            text = _one_query(fields.get("query", []))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"request body: not decodable ({exc})", code="bad_query") from None
    return await _answer(service, text, accept)


async def _answer(service: SparqlService, text: str, accept: str | None) -> Response:
    result = await service.answer(text, accept)
    headers = {"Vary": "Accept"}
    if result.truncated:
        headers["X-Leadgraph-Truncated"] = "true"
    return Response(result.body, media_type=result.media_type, headers=headers)


def _one_query(values: Sequence[str]) -> str:
    if not values:
        raise BadRequest(
            "query: missing; send it as ?query=, as the form field `query`, or as an "
            f"{_SPARQL_QUERY} body",
            code="bad_query",
        )
    if len(values) > 1:
        raise BadRequest(f"query: given {len(values)} times; send exactly one", code="bad_query")
    return values[0]


def _refuse_datasets(params: Mapping[str, Any]) -> None:
    for name in ("default-graph-uri", "named-graph-uri"):
        if name in params:
            raise BadRequest(
                f"{name}: refused; queries run over the single default graph of the index",
                code="bad_query",
            )


async def _read_body(request: Request, max_chars: int) -> bytes:
    """The body, read no further than a `max_chars` query could take (percent-encoded UTF-8
    is at most 12 bytes a character), so an endless upload is cut off early."""
    limit = 12 * max_chars + 1024
    too_long = BadRequest(
        f"request body is longer than a query of {max_chars} characters could be "
        "(sparql_max_chars, LEADGRAPH_SPARQL_MAX_CHARS)",
        code="bad_query",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_long
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_long
        chunks.append(chunk)
    return b"".join(chunks)
