"""The indexer's data model: plain frozen dataclasses shared by every stage and by the service.

Offsets are character offsets into `Document.text` (Python str indices), end exclusive, so that
`document.text[start:end]` is always the exact quoted span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DocumentKind = Literal["article", "video transcript"]
LinkMethod = Literal["lexical", "semantic"]


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    title: str
    text: str  # body text, unchanged from the source
    kind: DocumentKind = "article"
    date: str | None = None  # ISO 8601 date where the source gives one
    # where the article comes from, as its front matter (or BEIR record) says: an absolute
    # http(s) URL, or another reference such as a file name; None when it says nothing
    source: str | None = None
    # the file it was read from, POSIX, relative to the corpus folder (indexer.corpus); never
    # absolute, so that no index, graph or answer reveals where the server keeps its files
    path: str = ""
    line: int = 1  # first line of the body in `path` (a record's line in a .jsonl file)


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Passage:
    id: str  # stable: f"{document_id}:p{ordinal}"
    document_id: str
    ordinal: int
    start: int
    end: int
    text: str  # == document.text[start:end]
    sentences: tuple[Span, ...]  # absolute offsets into the document text
    token_count: int
    text_hash: str  # sha256 of text, keys the embedding cache for incremental rebuilds


@dataclass(frozen=True, slots=True)
class Relation:
    predicate: str  # URI of an object property, e.g. LG.provides
    target: str  # concept URI


@dataclass(frozen=True, slots=True)
class Concept:
    uri: str
    id: str  # short id used at the API edge, e.g. "BridgeRole"
    pref_label: str
    alt_labels: tuple[str, ...] = ()
    # lg:weakLabel: words that name the concept only in context (indexer.linking links them only
    # beside a non-weak label of the concept or of a neighbour); not part of `labels`
    weak_labels: tuple[str, ...] = ()
    definition: str = ""
    broader: tuple[str, ...] = ()
    narrower: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    relations: tuple[Relation, ...] = ()
    candidate: bool = False  # True for candidate concepts mined from the corpus

    @property
    def labels(self) -> tuple[str, ...]:
        """The prefLabel, then the altLabels: the labels that name the concept on their own."""
        return (self.pref_label, *self.alt_labels)

    @property
    def neighbours(self) -> frozenset[str]:
        """URIs of the concepts broader, narrower or related to this one."""
        return frozenset((*self.broader, *self.narrower, *self.related))

    def facet_texts(self) -> tuple[str, ...]:
        """What concept lookup compares a query with, one vector each: every label (weak ones
        too) and the definition. The build embeds them (`IndexContents.facet_vectors`)."""
        return tuple(t for t in (*self.labels, *self.weak_labels, self.definition) if t)

    def embedding_text(self) -> str:
        """Text embedded for semantic concept lookup and linking."""
        alts = "; ".join(self.alt_labels)
        return (
            f"{self.pref_label} ({alts}): {self.definition}"
            if alts
            else (f"{self.pref_label}: {self.definition}")
        )


@dataclass(frozen=True, slots=True)
class PropertyDef:
    """A typed object property of the ontology (provides, operationalizes, bridges, ...)."""

    uri: str
    label: str
    definition: str = ""
    domain: str | None = None
    range: str | None = None
    inverse: str | None = None
    cue_words: tuple[str, ...] = ()  # verbs and phrases that evidence the relation in text


@dataclass(frozen=True, slots=True)
class Mention:
    passage_id: str
    concept_uri: str
    score: float  # 0..1; lexical matches score by label specificity, semantic by cosine
    method: LinkMethod
    start: int | None = None  # absolute span of the matched surface text (lexical only)
    end: int | None = None
    surface: str | None = None


@dataclass(frozen=True, slots=True)
class Cooccurrence:
    a: str  # concept URI, a < b
    b: str
    count: int  # passages mentioning both
    npmi: float  # normalised pointwise mutual information over passages, -1..1


@dataclass(frozen=True, slots=True)
class RelationEvidence:
    subject: str
    predicate: str
    object: str
    passage_id: str
    start: int  # sentence span in the document
    end: int
    quote: str
    score: float


@dataclass(frozen=True, slots=True)
class Candidate:
    uri: str
    id: str
    label: str
    frequency: int  # occurrences in the corpus
    document_frequency: int
    score: float
    evidence: tuple[str, ...] = field(default=())  # passage ids
