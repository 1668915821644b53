"""The API's request and response bodies: one pydantic family per resource.

Ids at this edge are short ids ("BridgeRole", "synergy-of-success:p3"); URIs appear only in
`uri` / `predicate_uri` fields. Offsets (`start`, `end`) are character offsets into the text of
the document named beside them, end exclusive: `document.text[start:end]` is the quoted span.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# --- shared ------------------------------------------------------------------------------------

# longest concept or document id accepted in a path or a filter: document ids are at most 128
# characters (indexer.corpus.DOCUMENT_ID), concept and candidate ids are shorter
MAX_ID_CHARS = 128

SOURCE_FIELD = (
    "where the document comes from, as its front matter says: the address of the original "
    "article (an absolute http or https URL), or another reference such as a file name; null "
    "when it says nothing. Never a path on the server"
)


def _integral(value: object) -> object:
    """A JSON number with no fraction (`5.0`) as the integer it is: JSON Schema's `integer`
    counts it as one. `true`, `"5"` and `5.5` stay refused by the strict models."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# an integer field of a request body, read strictly but as JSON Schema reads `integer`
JsonInt = Annotated[int, BeforeValidator(_integral)]


class ConceptRef(BaseModel):
    """A concept as a link target: enough to label it and to fetch it."""

    id: str = Field(description="short id, as in GET /concepts/{id}")
    label: str


class SpanOut(BaseModel):
    """A concept label found in a document's text, for highlighting."""

    concept: ConceptRef
    start: int
    end: int
    surface: str = Field(description="the text at start:end")


# --- concepts ----------------------------------------------------------------------------------


class ConceptHit(BaseModel):
    id: str
    uri: str
    label: str
    alt_labels: list[str]
    definition: str
    score: float = Field(
        ge=0.0,
        le=1.0,
        description="match strength in bands that never overlap: exact 0.93-1, prefix "
        "0.70-0.90, fuzzy 0.50-0.69, semantic 0-0.49 (0.49 x cosine)",
    )
    match: Literal["exact", "prefix", "fuzzy", "semantic", "all"] = Field(
        description="how the query matched: `exact` the same words as a label up to case, "
        "inflection, word order and link words, or an abbreviation that is an altLabel "
        "(OKRs, KPI) or a label's initials; `prefix` each query word starts a word of the "
        "label (autocomplete); `fuzzy` a typo of a label (a few edits, Damerau-Levenshtein; "
        "never a real word, never a label plus other words); `semantic` close in meaning "
        "(embedding cosine), also for a query holding a label plus words of its own; `all` "
        "when no query was given"
    )
    candidate: bool = False
    weak: bool = Field(
        False,
        description="a semantic match below the calibrated threshold: listed only with "
        "include_weak=true",
    )


class ConceptList(BaseModel):
    items: list[ConceptHit] = Field(
        description="best first; empty when no concept fits the query (no such concept)"
    )
    total: int = Field(description="all matches listed, before limit and offset")
    candidates: list[ConceptRef] = Field(
        default_factory=list,
        description="candidate terms mined from the corpus (not yet curated) that match the "
        "query, best first, at most 5, whether or not include_candidates lists them in items; "
        "GET /concepts/{id} shows their evidence",
    )
    weak_omitted: int = Field(
        0, description="weak semantic matches left out of items and total (include_weak=true)"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "BridgeRole",
                            "uri": "https://leadgraph.dev/concept/BridgeRole",
                            "label": "bridge role",
                            "alt_labels": ["bridge between leaders and workforce", "linking pin"],
                            "definition": "The position of managers between leaders and staff.",
                            "score": 0.87,
                            "match": "prefix",
                            "candidate": False,
                            "weak": False,
                        }
                    ],
                    "total": 1,
                    "candidates": [],
                    "weak_omitted": 0,
                },
                {
                    "items": [],
                    "total": 0,
                    "candidates": [{"id": "burnout", "label": "burnout"}],
                    "weak_omitted": 2,
                },
            ]
        }
    )


class RelationQuote(BaseModel):
    """A sentence of the corpus that states a typed relation."""

    passage_id: str
    document_id: str
    quote: str
    start: int
    end: int
    score: float


class RelationOut(BaseModel):
    predicate: str = Field(description="short name of the property, e.g. `provides`")
    predicate_uri: str
    label: str = Field(description="the property's label")
    target: ConceptRef
    evidence: list[RelationQuote] = Field(default_factory=list)


class Cooccurring(BaseModel):
    id: str
    label: str
    npmi: float = Field(description="normalised pointwise mutual information over passages")
    count: int = Field(description="passages mentioning both concepts")


class MentionOut(BaseModel):
    start: int
    end: int
    surface: str


class EvidenceOut(BaseModel):
    """A passage that mentions the concept."""

    passage_id: str
    document_id: str
    text: str
    score: float = Field(description="strength of the best mention in the passage, 0..1")
    method: Literal["lexical", "semantic"]
    start: int = Field(description="passage start in the document text")
    end: int
    mentions: list[MentionOut] = Field(description="the label occurrences, for highlighting")


class ConceptDetail(BaseModel):
    id: str
    uri: str
    label: str
    alt_labels: list[str]
    definition: str
    candidate: bool = Field(description="a term mined from the corpus, not yet curated")
    broader: list[ConceptRef]
    narrower: list[ConceptRef]
    related: list[ConceptRef]
    relations: list[RelationOut]
    cooccurring: list[Cooccurring] = Field(description="by npmi, strongest first")
    evidence: list[EvidenceOut] = Field(description="best score first")
    evidence_total: int = Field(description="passages mentioning the concept, before the limit")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "BridgeRole",
                    "uri": "https://leadgraph.dev/concept/BridgeRole",
                    "label": "bridge role",
                    "alt_labels": ["linking pin"],
                    "definition": "The position of managers between leaders and staff.",
                    "candidate": False,
                    "broader": [{"id": "OrganizationalRole", "label": "organizational role"}],
                    "narrower": [],
                    "related": [{"id": "Manager", "label": "manager"}],
                    "relations": [
                        {
                            "predicate": "bridges",
                            "predicate_uri": "https://leadgraph.dev/ontology#bridges",
                            "label": "bridges",
                            "target": {"id": "Workforce", "label": "workforce"},
                            "evidence": [],
                        }
                    ],
                    "cooccurring": [
                        {"id": "Workforce", "label": "workforce", "npmi": 0.61, "count": 2}
                    ],
                    "evidence": [
                        {
                            "passage_id": "organizational-leadership-and-management:p3",
                            "document_id": "organizational-leadership-and-management",
                            "text": "In essence, managers provide the bridge between leaders ...",
                            "score": 0.9,
                            "method": "lexical",
                            "start": 1710,
                            "end": 2120,
                            "mentions": [{"start": 1790, "end": 1840, "surface": "..."}],
                        }
                    ],
                    "evidence_total": 1,
                }
            ]
        }
    )


class GraphNode(BaseModel):
    id: str
    label: str
    kind: Literal["focus", "concept", "candidate"]
    depth: int = Field(description="hops from the focus concept")


class GraphEdge(BaseModel):
    source: str
    target: str
    predicate: str = Field(description="broader, related, a typed property name, or cooccurs")
    label: str
    kind: Literal["hierarchy", "related", "relation", "cooccurs"]
    weight: float | None = Field(None, description="npmi, for cooccurs edges")


class ConceptGraph(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "nodes": [
                        {"id": "BridgeRole", "label": "bridge role", "kind": "focus", "depth": 0},
                        {"id": "Manager", "label": "manager", "kind": "concept", "depth": 1},
                    ],
                    "edges": [
                        {
                            "source": "Manager",
                            "target": "BridgeRole",
                            "predicate": "provides",
                            "label": "provides",
                            "kind": "relation",
                            "weight": None,
                        }
                    ],
                }
            ]
        }
    )


# --- search ------------------------------------------------------------------------------------


class SearchMode(StrEnum):
    hybrid = "hybrid"
    dense = "dense"
    lexical = "lexical"


class QueryConcept(BaseModel):
    id: str
    label: str
    score: float
    method: Literal["lexical", "semantic"]


class SearchHit(BaseModel):
    passage_id: str
    document_id: str
    document_title: str
    source: str | None = Field(description=SOURCE_FIELD)
    text: str
    score: float = Field(description="hybrid: fused score in 0..1; dense: cosine; lexical: BM25")
    start: int
    end: int
    concepts: list[ConceptRef] = Field(description="concepts the passage mentions")
    dense_score: float | None = Field(None, description="cosine of query and passage")
    lexical_score: float | None = Field(None, description="BM25 of the passage for the query")


class SearchResponse(BaseModel):
    query: str
    mode: SearchMode
    query_concepts: list[QueryConcept] = Field(description="concepts found in the query")
    hits: list[SearchHit]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "who connects leaders and staff",
                    "mode": "hybrid",
                    "query_concepts": [
                        {"id": "Leader", "label": "leader", "score": 1.0, "method": "lexical"}
                    ],
                    "hits": [
                        {
                            "passage_id": "organizational-leadership-and-management:p3",
                            "document_id": "organizational-leadership-and-management",
                            "document_title": "What Is the Connection between ...",
                            "text": "There is also an important workforce connection ...",
                            "score": 0.93,
                            "start": 1710,
                            "end": 2120,
                            "concepts": [{"id": "BridgeRole", "label": "bridge role"}],
                            "dense_score": 0.61,
                            "lexical_score": 7.2,
                        }
                    ],
                }
            ]
        }
    )


# --- question answering ------------------------------------------------------------------------


class AskRequest(BaseModel):
    question: str = Field(min_length=1, description="a question in natural language")
    k: JsonInt = Field(
        5,
        ge=1,
        description="passages retrieved to look for the answer in; the confidence is "
        "calibrated for the default 5 (more passages, more rivals: lower confidences)",
    )
    min_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="abstain below this confidence (default: the service's answer_threshold); "
        "the confidence is calibrated, so 0.8 means about 8 answers in 10 given it are right",
    )

    # strict: JSON true or "5" is not the integer the schema documents
    model_config = ConfigDict(
        strict=True,
        json_schema_extra={
            "examples": [
                {"question": "Who is the bridge between leaders and the workforce?", "k": 5}
            ]
        },
    )


class Citation(BaseModel):
    document_id: str
    passage_id: str
    source: str | None = Field(description=SOURCE_FIELD)
    quote: str = Field(description="exactly the document text at start:end")
    start: int
    end: int
    score: float = Field(
        description="the share of the answer model's belief, among the spans it read, that this "
        "span is the answer"
    )
    role: Literal["answer", "support"] = Field(
        "answer",
        description="`answer`: the span given as the answer (always the first citation); "
        "`support`: a span of another passage that says much the same",
    )


class ConceptDefinition(BaseModel):
    id: str
    label: str
    definition: str


class AskResponse(BaseModel):
    answer: str | None = Field(
        description="one span of one document, the quote of the first citation; null when "
        "abstaining"
    )
    abstained: bool = Field(description="true when nothing in the corpus answers confidently")
    confidence: float = Field(
        ge=0.0,
        le=1.0,
        description="calibrated probability that the answer is right (when abstaining: that the "
        "best span found would have been)",
    )
    citations: list[Citation]
    concepts: list[ConceptDefinition] = Field(description="concepts of the question")
    missing: list[str] = Field(
        default_factory=list,
        description="names, acronyms and figures of the question that no retrieved document "
        "mentions",
    )
    reason: str | None = Field(None, description="why the service abstained; null otherwise")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answer": "In essence, managers provide the bridge between leaders and the "
                    "rest of the workforce.",
                    "abstained": False,
                    "confidence": 0.82,
                    "citations": [
                        {
                            "document_id": "organizational-leadership-and-management",
                            "passage_id": "organizational-leadership-and-management:p3",
                            "source": "https://example.org/articles/leadership-and-management",
                            "quote": "In essence, managers provide the bridge between leaders "
                            "and the rest of the workforce.",
                            "start": 1776,
                            "end": 1860,
                            "score": 0.82,
                        }
                    ],
                    "concepts": [
                        {
                            "id": "Workforce",
                            "label": "workforce",
                            "definition": "The people who do the work of the organization.",
                        }
                    ],
                }
            ]
        }
    )


# --- documents ---------------------------------------------------------------------------------


class DocumentSummary(BaseModel):
    id: str
    title: str
    kind: str
    date: str | None
    source: str | None = Field(description=SOURCE_FIELD)
    passage_count: int


class DocumentList(BaseModel):
    items: list[DocumentSummary]
    total: int

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "synergy-of-success",
                            "title": "The Synergy of Success: Unveiling the Connection ...",
                            "kind": "article",
                            "date": None,
                            "source": "https://example.org/articles/synergy-of-success",
                            "passage_count": 14,
                        }
                    ],
                    "total": 1,
                }
            ]
        }
    )


class PassageOut(BaseModel):
    id: str
    start: int
    end: int
    text: str
    concepts: list[ConceptRef]


class DocumentDetail(BaseModel):
    id: str
    title: str
    kind: str
    date: str | None
    source: str | None = Field(description=SOURCE_FIELD)
    text: str
    passages: list[PassageOut]
    mentions: list[SpanOut] = Field(description="concept labels in the text, in text order")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "synergy-of-success",
                    "title": "The Synergy of Success",
                    "kind": "article",
                    "date": None,
                    "source": "https://example.org/articles/synergy-of-success",
                    "text": "The realms of leadership and management ...",
                    "passages": [
                        {
                            "id": "synergy-of-success:p0",
                            "start": 0,
                            "end": 43,
                            "text": "The realms of leadership and management ...",
                            "concepts": [{"id": "Leadership", "label": "leadership"}],
                        }
                    ],
                    "mentions": [
                        {
                            "concept": {"id": "Leadership", "label": "leadership"},
                            "start": 14,
                            "end": 24,
                            "surface": "leadership",
                        }
                    ],
                }
            ]
        }
    )


# --- grounding context -------------------------------------------------------------------------


CONTEXT_MIN_TOKENS = 50
CONTEXT_MAX_TOKENS = 8000


class ContextRequest(BaseModel):
    question: str = Field(min_length=1, description="the user's question, in natural language")
    k: JsonInt = Field(5, ge=1, description="passages retrieved, 1..settings.max_k")
    max_tokens: JsonInt = Field(
        800,
        ge=CONTEXT_MIN_TOKENS,
        le=CONTEXT_MAX_TOKENS,
        description="budget of `context`, in tokens of the embedding model's tokenizer",
    )

    model_config = ConfigDict(
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "question": "Who is the bridge between leaders and the workforce?",
                    "k": 5,
                    "max_tokens": 800,
                }
            ]
        },
    )


class SourceCitation(BaseModel):
    """Exactly the text a numbered source quotes: `document.text[start:end] == quote`."""

    document_id: str
    passage_id: str
    source: str | None = Field(description=SOURCE_FIELD)
    quote: str
    start: int
    end: int


class ContextPassage(BaseModel):
    passage_id: str
    document_id: str
    document_title: str
    text: str = Field(description="the whole passage")
    score: float = Field(description="hybrid retrieval score, 0..1")
    citation: SourceCitation = Field(
        description="the part of the passage quoted in `context` (all of it unless the budget "
        "cut it at a sentence or word boundary)"
    )


class ContextResponse(BaseModel):
    question: str
    passages: list[ContextPassage] = Field(
        description="the sources of `context`, in order: passages[i] is source [i+1]"
    )
    concepts: list[ConceptDefinition] = Field(description="concepts of the question in `context`")
    answer: str | None = Field(
        description="the extractive answer (sentences of the corpus); null when abstaining"
    )
    context: str = Field(
        description="a text block for a prompt: the answer, concept definitions and numbered "
        "sources [1], [2] … quoting the corpus, within max_tokens"
    )
    token_count: int = Field(
        description="tokens of `context`, counted with the embedding model's tokenizer"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": "Who is the bridge between leaders and the workforce?",
                    "passages": [
                        {
                            "passage_id": "organizational-leadership-and-management:p3",
                            "document_id": "organizational-leadership-and-management",
                            "document_title": "What Is the Connection between ...",
                            "text": "There is also an important workforce connection ...",
                            "score": 0.93,
                            "citation": {
                                "document_id": "organizational-leadership-and-management",
                                "passage_id": "organizational-leadership-and-management:p3",
                                "source": "https://example.org/articles/leadership-and-management",
                                "quote": "There is also an important workforce connection ...",
                                "start": 1710,
                                "end": 2120,
                            },
                        }
                    ],
                    "concepts": [
                        {
                            "id": "BridgeRole",
                            "label": "bridge role",
                            "definition": "The position of managers between leaders and staff.",
                        }
                    ],
                    "answer": "In essence, managers provide the bridge between leaders and the "
                    "rest of the workforce.",
                    "context": "Answer (quoted from [1]): In essence, managers provide the bridge "
                    "...\n\nConcepts:\n- bridge role: ...\n\nSources:\n[1] What Is the "
                    "Connection ... (organizational-leadership-and-management)\nThere is also ...",
                    "token_count": 212,
                }
            ]
        }
    )


# --- corpus updates (admin) --------------------------------------------------------------------


class UpdateResult(BaseModel):
    """What an update did: the index version now published and served, and what it cost."""

    action: Literal["created", "replaced", "deleted", "reindexed"]
    document: str | None = Field(description="the document id (PUT and DELETE)")
    version: str = Field(description="the index version now published and served")
    previous_version: str | None = Field(description="the version published before")
    counts: dict[str, int] = Field(description="documents, passages, mentions, ... of `version`")
    embedded: int = Field(description="passages embedded by this update: new or changed text")
    reused: int = Field(description="passages whose vectors were reused from `previous_version`")
    seconds: float = Field(description="time to rebuild and publish")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "created",
                    "document": "servant-leadership",
                    "version": "v20261123T101500Z-3f2a9c",
                    "previous_version": "v20261122T090000Z-18be04",
                    "counts": {"documents": 4, "passages": 41, "concepts": 48},
                    "embedded": 3,
                    "reused": 38,
                    "seconds": 2.4,
                }
            ]
        }
    )
