"""The MCP server: the graph and the corpus as typed tools and resources for LLM agents.

One `MCPServer` (the official `mcp` SDK; FastMCP is called MCPServer since mcp 2) built by
`build_mcp` over a callable returning the app's `Services`, so every tool calls the same services
as the REST API. It is served two ways:

- streamable HTTP at `/mcp` of the FastAPI app (`MCPEndpoint`, run in the app's lifespan);
- stdio, by `leadgraph mcp`, for desktop agents.

Tool arguments are validated by the services, whose messages name the argument ("k: must be
between 1 and 100, got 0"); a service error becomes an MCP tool error (`isError`), never a
protocol error or a crash. Results are pydantic models, sent as `structuredContent` with an
output schema.

Annotations here are evaluated when the tools are defined (no `from __future__ import
annotations`): the input schemas carry limits from the settings, and the SDK reads a tool's
signature with the module's globals only.
"""

import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal, TypeVar

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field
from rdflib import BNode, Graph, URIRef
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from .config import Settings
from .deps import Services, app_services
from .errors import ApiError, IndexNotReady, NotFound, error_response
from .rdf import bind_prefixes, concept_graph
from .schemas import (
    AskResponse,
    ConceptDetail,
    ConceptGraph,
    ConceptList,
    SearchMode,
    SearchResponse,
)

log = logging.getLogger("leadgraph")
ServicesGetter = Callable[[], Services]
ToolFunction = TypeVar("ToolFunction", bound=Callable[..., BaseModel | Awaitable[BaseModel]])

INSTRUCTIONS = """\
leadgraph: a curated knowledge graph of leadership and management concepts (SKOS), linked to a \
small corpus of articles about leadership and management, with hybrid semantic search.

Which tool:
- a question to answer from the corpus, with quotes you can cite: answer_question
- passages to read or quote on a topic: search_passages (concept= keeps only passages that \
mention a concept)
- a word or phrase to turn into a concept id: lookup_concepts, then get_concept for its \
definition, relations and evidence, or related_concepts for its neighbourhood
- counting or listing over the graph itself: sparql_select (read-only SELECT/ASK)
Concept ids are short ids such as "BridgeRole". Quotes come with document ids and character \
offsets: document.text[start:end] is the quote; `source` names the original article (an http \
or https address to link when you cite it; null when unknown). Nothing outside this corpus is \
known here."""

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

# REST hints inside service messages, and what a model calling the tools should do instead
_TOOL_HINTS = (
    ("GET /concepts?q=... finds concepts by label", "lookup_concepts finds concept ids by label"),
    ("GET /documents lists them", "search_passages shows document ids"),
)

SPARQL_MAX_LIMIT = 500


class SparqlRows(BaseModel):
    """The result of a SELECT (variables and rows) or an ASK (boolean)."""

    form: Literal["SELECT", "ASK"]
    variables: list[str] = Field(description="SELECT: the projected variables, in order")
    rows: list[dict[str, str]] = Field(
        description="SELECT: one object per solution, variable -> value (URIs in full, literals "
        "as their text); unbound variables are left out"
    )
    boolean: bool | None = Field(None, description="ASK: the answer")
    truncated: bool = Field(description="true when more rows matched than `limit`")


def _tool_error(exc: ApiError, argument: str | None) -> ToolError:
    detail = exc.detail
    for rest, tool in _TOOL_HINTS:
        detail = detail.replace(rest, tool)
    if argument is not None and not detail.startswith(f"{argument}:"):
        detail = f"{argument}: {detail}"
    return ToolError(detail)


@contextmanager
def _as_tool_errors(default: str | None = None, **argument_of: str) -> Iterator[None]:
    """Turns the services' errors into tool errors; `argument_of` maps an error code to the
    argument at fault, named first in the message (`concept_not_found="concept_id"`), and
    `default` names the argument for every other code. Anything else raised is logged and
    becomes a tool error that says so, rather than the SDK's bare "Error executing tool"."""
    try:
        yield
    except ApiError as exc:
        raise _tool_error(exc, argument_of.get(exc.code, default)) from exc
    except ToolError:
        raise
    except Exception as exc:
        log.exception("unexpected error in an MCP tool")
        where = f"{default}: " if default is not None else ""
        raise ToolError(
            f"{where}unexpected error ({type(exc).__name__}); see the server log"
        ) from exc


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ToolError(f"{name}: must be between {low} and {high}, got {value}")


def build_mcp(get_services: ServicesGetter, *, settings: Settings) -> MCPServer:
    """The MCP server over whatever index `get_services` returns at call time (it raises
    IndexNotReady while none is loaded)."""
    max_k = settings.max_k
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer = MCPServer(
        "leadgraph",
        title="leadgraph: leadership and management knowledge graph",
        instructions=INSTRUCTIONS,
        version="0.1.0",
    )
    # the SDK configures the root logger when a server is made; logging is the CLI's to set up
    root.handlers[:] = handlers
    root.setLevel(level)

    def read_only_tool(title: str) -> Callable[[ToolFunction], ToolFunction]:
        """Registers a tool, its docstring (dedented) being the description a model reads."""

        def register(fn: ToolFunction) -> ToolFunction:
            description = inspect.cleandoc(fn.__doc__ or "")
            server.add_tool(fn, title=title, description=description, annotations=READ_ONLY)
            return fn

        return register

    def k_arg(default: int, what: str) -> Any:
        return Field(
            default,
            description=f"{what}, 1..{max_k}",
            json_schema_extra={"minimum": 1, "maximum": max_k},
        )

    @read_only_tool("Search passages")
    def search_passages(
        query: Annotated[str, Field(description="what to look for: a question, words or a topic")],
        k: Annotated[int, k_arg(5, "passages returned")] = 5,
        mode: Annotated[
            Literal["hybrid", "dense", "lexical"],
            Field(
                description="hybrid (default: meaning and words), dense (meaning only) or "
                "lexical (BM25 words only, for exact terms)"
            ),
        ] = "hybrid",
        concept: Annotated[
            str | None,
            Field(description="only passages mentioning this concept id (from lookup_concepts)"),
        ] = None,
        document: Annotated[
            str | None, Field(description="only passages of this document id")
        ] = None,
    ) -> SearchResponse:
        """Find passages of the corpus for a query, best first. Use it to read or quote what the
        articles say on a topic; for a direct answer to a question use answer_question instead.
        Returns per hit: passage_id, document_id, document_title, source (the original
        article's address, or null), the passage text, a score (hybrid: 0..1), start/end
        offsets of the passage in its document and the concepts it mentions; plus the concepts
        recognised in the query. Passages are about 100-200 words; k is at most the server's
        limit."""
        with _as_tool_errors(concept_not_found="concept", document_not_found="document"):
            service = get_services().search
            service.check_text(query, "query")
            return service.search(
                query, k=k, mode=SearchMode(mode), concept=concept, document=document
            )

    @read_only_tool("Look up concepts")
    def lookup_concepts(
        text: Annotated[
            str,
            Field(
                description="a label, the start of one (autocomplete), a misspelt label, or "
                "words of similar meaning"
            ),
        ],
        limit: Annotated[int, k_arg(10, "candidates returned")] = 10,
        include_candidates: Annotated[
            bool, Field(description="also terms mined from the corpus that are not yet curated")
        ] = False,
    ) -> ConceptList:
        """Turn text into concept ids: candidates best first, each with id, label, alternative
        labels, definition, a score and how it matched (exact > prefix > fuzzy: a typo >
        semantic meaning). Use it before get_concept, related_concepts or the concept filter of
        search_passages, which all need an id. `total` counts every match before `limit`. Empty
        `items` means the ontology has no such concept: say so rather than using a near one;
        `candidates` then may name terms mined from the corpus that match (ids for get_concept)."""
        if not text.strip():
            raise ToolError("text: must not be empty")
        with _as_tool_errors():
            services = get_services()
            services.search.check_text(text, "text")
            return services.concepts.lookup(
                text,
                limit=limit,
                offset=0,
                include_candidates=include_candidates,
                max_k=max_k,
                max_chars=settings.max_text_chars,
            )

    @read_only_tool("Get a concept")
    def get_concept(
        concept_id: Annotated[
            str, Field(description='a concept id such as "BridgeRole" (from lookup_concepts)')
        ],
        evidence_limit: Annotated[
            int,
            Field(
                description=f"passages listed as evidence, 0..{max_k}",
                json_schema_extra={"minimum": 0, "maximum": max_k},
            ),
        ] = 5,
    ) -> ConceptDetail:
        """One concept in full: labels, definition, broader/narrower/related concepts, typed
        relations (e.g. Manager provides BridgeRole) with the sentences that state them,
        co-occurring concepts by NPMI, and the passages that mention it (best first, with the
        mention offsets). Unknown ids fail with near ids suggested."""
        _check_range("evidence_limit", evidence_limit, 0, max_k)
        with _as_tool_errors(concept_not_found="concept_id"):
            return get_services().concepts.detail(concept_id, evidence_limit=evidence_limit)

    @read_only_tool("Related concepts")
    def related_concepts(
        concept_id: Annotated[str, Field(description="the concept id to start from")],
        depth: Annotated[
            int,
            Field(
                description="hops from the concept, 1..3",
                json_schema_extra={"minimum": 1, "maximum": 3},
            ),
        ] = 1,
    ) -> ConceptGraph:
        """The neighbourhood of a concept as nodes and edges: broader/narrower (hierarchy),
        related, typed relations (provides, bridges, ...) and the strongest co-occurrences
        (weight = NPMI). Each node has its id, label and depth (hops from the focus). Use it to
        explore how concepts connect; get_concept gives one concept's details."""
        _check_range("depth", depth, 1, 3)
        with _as_tool_errors(concept_not_found="concept_id"):
            return get_services().concepts.neighbourhood(concept_id, depth=depth)

    @read_only_tool("Answer a question")
    def answer_question(
        question: Annotated[str, Field(description="a question in natural language")],
        k: Annotated[int, k_arg(5, "passages searched for the answer")] = 5,
        min_confidence: Annotated[
            float | None,
            Field(
                description="abstain below this calibrated confidence, 0..1 (default: the "
                "service's answer_threshold)",
                json_schema_extra={"minimum": 0, "maximum": 1},
            ),
        ] = None,
    ) -> AskResponse:
        """Answer a question with one span quoted verbatim from one article (a sentence, a
        sentence and what continues it, or a list with the sentence announcing it), cited as
        the first citation (document_id, passage_id, source: the original article's address or
        null, exact quote, start/end character offsets); further citations with role "support"
        say much the same elsewhere. `confidence` is a calibrated probability that the answer
        is right. When nothing in the corpus answers confidently, `abstained` is true, `answer`
        is null and `reason` says why (e.g. "the corpus does not mention Herzberg"): say that
        the corpus does not cover it rather than guessing. Extractive: it never paraphrases."""
        with _as_tool_errors():
            return get_services().qa.ask(question, k=k, min_confidence=min_confidence)

    @read_only_tool("SPARQL SELECT/ASK")
    async def sparql_select(
        query: Annotated[
            str,
            Field(
                description="a SPARQL 1.1 SELECT or ASK query over the index graph; declare "
                "its PREFIXes"
            ),
        ],
        limit: Annotated[
            int,
            Field(
                description=f"rows returned at most, 1..{SPARQL_MAX_LIMIT}",
                json_schema_extra={"minimum": 1, "maximum": SPARQL_MAX_LIMIT},
            ),
        ] = 50,
    ) -> SparqlRows:
        """Read-only SPARQL over the whole graph, for counting and listing that the other tools
        do not offer. Only SELECT and ASK; updates, CONSTRUCT/DESCRIBE, SERVICE and FROM are
        refused; queries are stopped after the server's time limit. Vocabulary: concepts are
        skos:Concept in <https://leadgraph.dev/concept/> (skos:prefLabel, skos:definition,
        skos:broader, skos:related, typed properties lg: = <https://leadgraph.dev/ontology#>);
        passages are lg:Passage with dcterms:subject <concept>, dcterms:isPartOf <document>,
        schema:text; mentions are lg:Mention (lg:passage, lg:concept, lg:score, lg:method)."""
        _check_range("limit", limit, 1, SPARQL_MAX_LIMIT)
        # every failure names the argument: the query was refused, waited, ran too long or
        # found no index; async, so the wait for a SPARQL worker holds no shared thread
        with _as_tool_errors(default="query"):
            service = get_services().sparql
            answer = await service.answer(
                query, "application/sparql-results+json", forms=("SELECT", "ASK")
            )
        return _sparql_rows(json.loads(answer.body), limit, answer.truncated)

    ontology_cache: dict[str, tuple[Graph, str]] = {}  # the last index's, until it changes

    @server.resource(
        "leadgraph://ontology",
        name="ontology",
        title="leadgraph ontology (Turtle)",
        description="The curated ontology: the SKOS concept scheme with every concept's labels, "
        "definition and hierarchy, the OWL classes and the typed relations between concepts.",
        mime_type="text/turtle",
    )
    def ontology() -> str:
        graph = _services_for_resource(get_services).resources.graph
        cached = ontology_cache.get("turtle")
        if cached is None or cached[0] is not graph:
            cached = ontology_cache["turtle"] = (graph, _ontology_turtle(graph))
        return cached[1]

    @server.resource(
        "leadgraph://concept/{id}",
        name="concept",
        title="A concept (Turtle)",
        description="One concept's RDF description: labels, definition, broader/narrower/"
        "related and typed relations, with the labels of what it points to. {id} is a concept "
        'id such as "BridgeRole".',
        mime_type="text/turtle",
    )
    def concept(id: str) -> str:
        services = _services_for_resource(get_services)
        try:
            entry = services.concepts.resolve(id)
        except NotFound as exc:
            raise ResourceNotFoundError(_tool_error(exc, None).args[0]) from exc
        graph = concept_graph(services.resources.graph, entry.uri)
        return graph.serialize(format="turtle")

    return server


def _services_for_resource(get_services: ServicesGetter) -> Services:
    try:
        return get_services()
    except IndexNotReady as exc:
        raise ResourceError(f"index not ready: {exc.detail}") from exc


_ONTOLOGY_PREFIXES = ("https://leadgraph.dev/concept/", "https://leadgraph.dev/ontology")


def _ontology_turtle(graph: Graph) -> str:
    """The curated ontology inside the index graph, as Turtle: every triple about the ontology,
    its terms, the concept scheme and the curated concepts (blank nodes followed)."""
    out = bind_prefixes(Graph())
    todo: list[URIRef | BNode] = [
        s
        for s in set(graph.subjects())
        if isinstance(s, URIRef) and str(s).startswith(_ONTOLOGY_PREFIXES)
    ]
    seen: set[URIRef | BNode] = set()
    while todo:
        subject = todo.pop()
        if subject in seen:
            continue
        seen.add(subject)
        for p, o in graph.predicate_objects(subject):
            out.add((subject, p, o))
            if isinstance(o, BNode):
                todo.append(o)
    return out.serialize(format="turtle")


def _sparql_rows(results: dict[str, Any], limit: int, truncated: bool) -> SparqlRows:
    """SPARQL JSON results as SparqlRows, at most `limit` rows."""
    if "boolean" in results:
        return SparqlRows(
            form="ASK", variables=[], rows=[], boolean=bool(results["boolean"]), truncated=False
        )
    bindings = results.get("results", {}).get("bindings", [])
    rows = [
        {name: str(term.get("value", "")) for name, term in binding.items()}
        for binding in bindings[:limit]
    ]
    return SparqlRows(
        form="SELECT",
        variables=list(results.get("head", {}).get("vars", [])),
        rows=rows,
        truncated=truncated or len(bindings) > limit,
    )


def services_of(app: FastAPI) -> ServicesGetter:
    """The services over the app's loaded index, the same ones the REST handlers use."""
    return lambda: app_services(app)


class MCPEndpoint:
    """The ASGI app answering MCP's streamable HTTP transport on `path` of the main app.

    The SDK's session manager runs once per instance, so each lifespan of the app (`running`)
    makes a fresh one; outside a lifespan the endpoint answers 503. Stateless and JSON
    responses: every POST is complete in itself, so any worker can answer it."""

    def __init__(self, server: MCPServer, *, path: str = "/mcp", host: str = "127.0.0.1") -> None:
        self.server = server
        self.path = path
        self.host = host  # on localhost the SDK refuses other Host/Origin headers (DNS rebinding)
        self._http: Starlette | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        http = self.server.streamable_http_app(
            streamable_http_path=self.path,
            stateless_http=True,
            json_response=True,
            host=self.host,
        )
        async with self.server.session_manager.run():
            self._http = http
            try:
                yield
            finally:
                self._http = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._http is None:
            response = error_response(503, "mcp_not_running", "the MCP endpoint is not running")
            await response(scope, receive, send)
            return
        await self._http(scope, receive, send)
