"""Concept lookup, concept pages and concept neighbourhoods, over the loaded index.

Lookup ranks every label (prefLabel and altLabels) of every concept against the query in four
tiers whose score bands never overlap, so a better kind of match always ranks first:

    exact     0.95..1.00  same words up to case and inflection (stems)
    prefix    0.70..0.90  the query starts the label, or one of its words (autocomplete)
    fuzzy     0.50..0.70  near spelling (rapidfuzz Indel ratio), for typos
    semantic  0.00..0.50  cosine of the query and the closest facet of a concept (its
                          description, a label, its definition), only when no label equals or
                          starts with the query: for words that are no label at all
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from indexer.embedder import Embedder, Vectors
from indexer.models import Candidate, Concept, Cooccurrence, Mention, RelationEvidence
from indexer.namespaces import short_id
from indexer.store import Index
from indexer.text import label_key, tokenize

from ..errors import NotFound, Unprocessable
from ..limits import is_blank
from ..schemas import (
    ConceptDetail,
    ConceptGraph,
    ConceptHit,
    ConceptList,
    ConceptRef,
    Cooccurring,
    EvidenceOut,
    GraphEdge,
    GraphNode,
    MentionOut,
    RelationOut,
    RelationQuote,
)

MatchKind = Literal["exact", "prefix", "fuzzy", "semantic"]
EdgeKind = Literal["hierarchy", "related", "relation", "cooccurs"]

EXACT_PREF = 1.0
EXACT_ALT = 0.95
PREFIX_BASE = 0.75  # + PREFIX_SPAN x share of the label the query covers
PREFIX_SPAN = 0.15
WORD_PREFIX_BASE = 0.70  # the query starts a later word of the label ("safety")
WORD_PREFIX_SPAN = 0.05
ALT_PENALTY = 0.02  # a prefLabel match beats the same match on an altLabel
MIN_PREFIX_CHARS = 2
FUZZY_MIN_CHARS = 4  # shorter queries are prefixes, not typos
FUZZY_MIN_RATIO = 80.0  # rapidfuzz ratio, 0..100
FUZZY_TRUNCATED_PENALTY = 5.0  # comparing with the label's first len(q) characters only
FUZZY_BASE = 0.50
FUZZY_SPAN = 0.19
SEMANTIC_SCALE = 0.49
# Cosine (to the closest facet of a concept) below which it is not offered as a meaning match.
# all-MiniLM-L6-v2, best facet of any concept: "bouncing back from setbacks" 0.48 (Resilience),
# "trustworthy" 0.54 (Trust), "the middleman" 0.71 (Manager); off-topic "capital of france"
# 0.17, "tax law" 0.2, "python programming" 0.32.
SEMANTIC_MIN_COSINE = 0.35

COOCCURRING_MAX = 20
GRAPH_COOCCURRENCES_PER_NODE = 3


@dataclass(frozen=True, slots=True)
class Entry:
    """A curated concept or a candidate, as the API shows it."""

    uri: str
    id: str
    label: str
    alt_labels: tuple[str, ...]
    definition: str
    candidate: bool

    @property
    def ref(self) -> ConceptRef:
        return ConceptRef(id=self.id, label=self.label)


@dataclass(frozen=True, slots=True)
class _Label:
    entry: Entry
    text: str  # normalised words joined by one space ("go-between" -> "go between")
    key: tuple[str, ...]  # stems
    preferred: bool


def _words(text: str) -> str:
    return " ".join(t.norm for t in tokenize(text))


def _entry(concept: Concept) -> Entry:
    return Entry(
        concept.uri,
        concept.id,
        concept.pref_label,
        concept.alt_labels,
        concept.definition,
        concept.candidate,
    )


def _candidate_entry(candidate: Candidate) -> Entry:
    return Entry(candidate.uri, candidate.id, candidate.label, (), "", True)


def concept_ref(index: Index, uri: str) -> ConceptRef:
    """The {id, label} of a concept URI (the short id stands in for an unknown label)."""
    concept = index.concepts.get(uri)
    return ConceptRef(id=short_id(uri), label=concept.pref_label if concept else short_id(uri))


def passage_concepts(index: Index, passage_id: str) -> list[ConceptRef]:
    """Concepts a passage mentions, each once, strongest mention first."""
    best: dict[str, float] = {}
    for m in index.mentions_by_passage.get(passage_id, ()):
        best[m.concept_uri] = max(best.get(m.concept_uri, 0.0), m.score)
    ranked = sorted(best, key=lambda uri: (-best[uri], uri))
    return [concept_ref(index, uri) for uri in ranked if uri in index.concepts]


def local_name(uri: str) -> str:
    """`https://leadgraph.dev/ontology#provides` -> `provides`."""
    return re.split(r"[#/]", uri.rstrip("/#"))[-1]


class ConceptService:
    """Read-only views of the concepts of one loaded index. Build once per index."""

    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self._embedder = embedder
        curated = [_entry(c) for c in index.concepts.values() if not c.candidate]
        curated.sort(key=lambda e: (e.label.casefold(), e.id))
        mined = [_entry(c) for c in index.concepts.values() if c.candidate]
        mined += [_candidate_entry(c) for c in index.candidates]
        mined.sort(key=lambda e: (e.label.casefold(), e.id))
        self.curated: tuple[Entry, ...] = tuple(curated)
        self.candidates: tuple[Entry, ...] = tuple(mined)
        self._by_id: dict[str, Entry] = {}
        for e in (*mined, *curated):  # a curated concept wins an id clash
            self._by_id[e.id] = e
        self._by_uri = {e.uri: e for e in (*mined, *curated)}
        self._candidate_evidence = {c.uri: c.evidence for c in index.candidates}
        self._labels = {
            False: self._label_table(curated),
            True: self._label_table([*curated, *mined]),
        }
        self._concept_rows = {uri: row for row, uri in enumerate(index.concept_order)}
        self._cooccurring: dict[str, list[tuple[str, Cooccurrence]]] = defaultdict(list)
        for c in index.cooccurrences:
            self._cooccurring[c.a].append((c.b, c))
            self._cooccurring[c.b].append((c.a, c))
        for items in self._cooccurring.values():
            items.sort(key=lambda item: (-item[1].npmi, -item[1].count, item[0]))
        self._evidence: dict[tuple[str, str, str], list[RelationEvidence]] = defaultdict(list)
        for ev in index.evidence:
            self._evidence[(ev.subject, ev.predicate, ev.object)].append(ev)
        self._edges = self._structural_edges()
        self._facet_cache: tuple[tuple[Entry, ...], Vectors, npt.NDArray[np.int64]] | None = None
        self._facet_lock = threading.Lock()

    @staticmethod
    def _label_table(entries: Iterable[Entry]) -> list[_Label]:
        table = []
        for e in entries:
            for i, label in enumerate((e.label, *e.alt_labels)):
                text = _words(label)
                if text:
                    table.append(_Label(e, text, label_key(label), preferred=i == 0))
        return table

    # --- resolving ids ---------------------------------------------------------------------

    def resolve(self, concept_id: str) -> Entry:
        """The concept or candidate with this short id; NotFound naming near ids otherwise."""
        entry = self._by_id.get(concept_id)
        if entry is not None:
            return entry
        folded = {k.casefold(): e for k, e in self._by_id.items()}
        entry = folded.get(concept_id.casefold())
        if entry is not None:
            return entry
        near = process.extract(concept_id, list(self._by_id), scorer=fuzz.ratio, limit=3)
        hint = ", ".join(repr(name) for name, score, _ in near if score >= 70)
        detail = f"no concept {concept_id!r}; "
        detail += f"did you mean {hint}? " if hint else ""
        detail += "GET /concepts?q=... finds concepts by label"
        raise NotFound(detail, code="concept_not_found")

    def entry(self, uri: str) -> Entry | None:
        return self._by_uri.get(uri)

    def passage_rows(self, entry: Entry) -> list[int]:
        """Rows (in index.passages) of the passages mentioning a concept, or supporting a
        candidate."""
        if entry.uri in self._candidate_evidence:
            rows = self.index.passage_rows
            return sorted(rows[p] for p in self._candidate_evidence[entry.uri] if p in rows)
        return [int(r) for r in self.index.rows_for_concept(entry.uri)]

    # --- lookup ----------------------------------------------------------------------------

    def lookup(
        self,
        q: str | None,
        *,
        limit: int,
        offset: int,
        include_candidates: bool,
        max_k: int,
        max_chars: int,
    ) -> ConceptList:
        if not 1 <= limit <= max_k:
            raise Unprocessable(f"limit: must be between 1 and {max_k} (max_k), got {limit}")
        if offset < 0:
            raise Unprocessable("offset: must be 0 or more")
        if q is None:
            entries = [*self.curated, *(self.candidates if include_candidates else ())]
            items = [self._hit(e, 1.0, "all") for e in entries]
            return ConceptList(items=items[offset : offset + limit], total=len(items))
        if is_blank(q):
            raise Unprocessable("q: must not be blank; leave it out to list every concept")
        if len(q) > max_chars:
            raise Unprocessable(f"q: at most {max_chars} characters (max_text_chars), got {len(q)}")
        ranked = self.match(q, include_candidates=include_candidates)
        items = [self._hit(e, score, kind) for e, score, kind in ranked]
        return ConceptList(items=items[offset : offset + limit], total=len(items))

    def match(
        self, q: str, *, include_candidates: bool = False
    ) -> list[tuple[Entry, float, MatchKind]]:
        """Every concept matching `q`, best first (score, then label)."""
        text = _words(q)
        key = label_key(q)
        best: dict[str, tuple[float, MatchKind, Entry]] = {}

        def offer(entry: Entry, score: float, kind: MatchKind) -> None:
            if entry.uri not in best or score > best[entry.uri][0]:
                best[entry.uri] = (score, kind, entry)

        if text:
            for label in self._labels[include_candidates]:
                scored = _lexical_score(text, key, label)
                if scored is not None:
                    offer(label.entry, *scored)
        if not any(kind in ("exact", "prefix") for _, kind, _ in best.values()):
            for entry, score in self._semantic(q, include_candidates=include_candidates):
                offer(entry, score, "semantic")
        ranked = sorted(best.values(), key=lambda b: (-b[0], b[2].label.casefold(), b[2].id))
        return [(entry, round(score, 4), kind) for score, kind, entry in ranked]

    def _semantic(self, q: str, *, include_candidates: bool) -> list[tuple[Entry, float]]:
        """Entries whose closest facet (description, one label, or definition) reaches
        SEMANTIC_MIN_COSINE, with their score in the semantic band."""
        entries, facets, owners = self._facets()
        if not entries:
            return []
        vector = self._embedder.encode([q])[0]
        # inner product of L2-normalised vectors is cosine similarity
        cosines = facets @ vector
        best = np.full(len(entries), -1.0, dtype=np.float32)
        np.maximum.at(best, owners, cosines)
        out = []
        for i, cosine in enumerate(best.tolist()):
            entry = entries[i]
            if (include_candidates or not entry.candidate) and cosine >= SEMANTIC_MIN_COSINE:
                out.append((entry, SEMANTIC_SCALE * min(1.0, cosine)))
        return out

    def _facets(self) -> tuple[tuple[Entry, ...], Vectors, npt.NDArray[np.int64]]:
        """Vectors of every entry's facets and, per vector, the entry it belongs to. The
        description vectors come from the index; labels and definitions are embedded on first
        use, because a query often matches one label or the definition better than the whole
        description ("bouncing back from setbacks": 0.31 to Resilience's description, 0.48 to
        its definition)."""
        if self._facet_cache is None:
            # concurrent first lookups wait for one computation rather than each embedding every
            # label (bench.load, 8 clients on a cold index: /concepts p95 16 s before, 0.2 s after)
            with self._facet_lock:
                if self._facet_cache is None:
                    self._facet_cache = self._embed_facets()
        return self._facet_cache

    def _embed_facets(self) -> tuple[tuple[Entry, ...], Vectors, npt.NDArray[np.int64]]:
        entries = (*self.curated, *self.candidates)
        texts: list[str] = []
        owners: list[int] = []
        rows: list[int] = []
        row_owners: list[int] = []
        for i, e in enumerate(entries):
            for text in (e.label, *e.alt_labels, e.definition):
                if text:
                    texts.append(text)
                    owners.append(i)
            if e.uri in self._concept_rows:
                rows.append(self._concept_rows[e.uri])
                row_owners.append(i)
        parts = [self._embedder.encode(texts)] if texts else []
        if rows:
            parts.append(np.asarray(self.index.concept_vectors.vectors[rows]))
        facets = (
            np.concatenate(parts).astype(np.float32)
            if parts
            else np.zeros((0, 1), dtype=np.float32)
        )
        return entries, facets, np.asarray(owners + row_owners, dtype=np.int64)

    @staticmethod
    def _hit(entry: Entry, score: float, kind: Literal[MatchKind, "all"]) -> ConceptHit:
        return ConceptHit(
            id=entry.id,
            uri=entry.uri,
            label=entry.label,
            alt_labels=list(entry.alt_labels),
            definition=entry.definition,
            score=score,
            match=kind,
            candidate=entry.candidate,
        )

    # --- one concept -----------------------------------------------------------------------

    def detail(self, concept_id: str, *, evidence_limit: int) -> ConceptDetail:
        entry = self.resolve(concept_id)
        concept = self.index.concepts.get(entry.uri)
        refs = self._refs
        relations = []
        if concept is not None:
            for rel in concept.relations:
                prop = self.index.properties.get(rel.predicate)
                quotes = self._evidence.get((entry.uri, rel.predicate, rel.target), [])
                relations.append(
                    RelationOut(
                        predicate=local_name(rel.predicate),
                        predicate_uri=rel.predicate,
                        label=prop.label if prop else local_name(rel.predicate),
                        target=concept_ref(self.index, rel.target),
                        evidence=[self._quote(ev) for ev in quotes],
                    )
                )
        cooccurring = [
            Cooccurring(
                id=short_id(other),
                label=concept_ref(self.index, other).label,
                npmi=round(c.npmi, 4),
                count=c.count,
            )
            for other, c in self._cooccurring.get(entry.uri, [])[:COOCCURRING_MAX]
        ]
        evidence = self._concept_evidence(entry)
        return ConceptDetail(
            id=entry.id,
            uri=entry.uri,
            label=entry.label,
            alt_labels=list(entry.alt_labels),
            definition=entry.definition,
            candidate=entry.candidate,
            broader=refs(concept.broader if concept else ()),
            narrower=refs(concept.narrower if concept else ()),
            related=refs(concept.related if concept else ()),
            relations=relations,
            cooccurring=cooccurring,
            evidence=evidence[:evidence_limit],
            evidence_total=len(evidence),
        )

    def _refs(self, uris: Sequence[str]) -> list[ConceptRef]:
        refs = [concept_ref(self.index, uri) for uri in uris]
        return sorted(refs, key=lambda r: r.label.casefold())

    def _quote(self, ev: RelationEvidence) -> RelationQuote:
        passage = self.index.passages[self.index.passage_rows[ev.passage_id]]
        return RelationQuote(
            passage_id=ev.passage_id,
            document_id=passage.document_id,
            quote=ev.quote,
            start=ev.start,
            end=ev.end,
            score=round(ev.score, 4),
        )

    def _concept_evidence(self, entry: Entry) -> list[EvidenceOut]:
        index = self.index
        if entry.uri in self._candidate_evidence:
            by_passage: dict[str, list[Mention]] = {}
            pattern = re.compile(re.escape(entry.label), re.IGNORECASE)
            for passage_id in self._candidate_evidence[entry.uri]:
                if passage_id not in index.passage_rows:
                    continue
                passage = index.passages[index.passage_rows[passage_id]]
                by_passage[passage_id] = [
                    Mention(
                        passage_id,
                        entry.uri,
                        1.0,
                        "lexical",
                        passage.start + m.start(),
                        passage.start + m.end(),
                        m.group(),
                    )
                    for m in pattern.finditer(passage.text)
                ] or [Mention(passage_id, entry.uri, 1.0, "lexical")]
        else:
            by_passage = defaultdict(list)
            for m in index.mentions_by_concept.get(entry.uri, ()):
                by_passage[m.passage_id].append(m)
        out = []
        for passage_id, mentions in by_passage.items():
            passage = index.passages[index.passage_rows[passage_id]]
            spans = [
                MentionOut(start=m.start, end=m.end, surface=m.surface or "")
                for m in mentions
                if m.start is not None and m.end is not None
            ]
            out.append(
                EvidenceOut(
                    passage_id=passage_id,
                    document_id=passage.document_id,
                    text=passage.text,
                    score=round(max(m.score for m in mentions), 4),
                    method="lexical" if spans else "semantic",
                    start=passage.start,
                    end=passage.end,
                    mentions=spans,
                )
            )
        order = index.passage_rows
        out.sort(key=lambda e: (-e.score, -len(e.mentions), order[e.passage_id]))
        return out

    # --- neighbourhood ---------------------------------------------------------------------

    def _structural_edges(self) -> dict[str, list[GraphEdge]]:
        """Edges of the concept scheme, each once, listed under both of its ends."""
        index = self.index
        edges: dict[tuple[str, str, str], GraphEdge] = {}

        def add(source: str, target: str, predicate: str, label: str, kind: EdgeKind) -> None:
            if source not in index.concepts or target not in index.concepts:
                return
            if kind == "related":
                source, target = sorted((source, target))
            key = (source, target, predicate)
            if key not in edges:
                edges[key] = GraphEdge(
                    source=source,
                    target=target,
                    predicate=predicate,
                    label=label,
                    kind=kind,
                )

        for c in index.concepts.values():
            for b in c.broader:
                add(c.uri, b, "broader", "has broader", "hierarchy")
            for n in c.narrower:
                add(n, c.uri, "broader", "has broader", "hierarchy")
            for r in c.related:
                add(c.uri, r, "related", "related to", "related")
            for rel in c.relations:
                prop = index.properties.get(rel.predicate)
                name = local_name(rel.predicate)
                add(c.uri, rel.target, name, prop.label if prop else name, "relation")
        by_node: dict[str, list[GraphEdge]] = defaultdict(list)
        for edge in edges.values():  # URIs for now; short ids when served
            by_node[edge.source].append(edge)
            by_node[edge.target].append(edge)
        return dict(by_node)

    def neighbourhood(self, concept_id: str, *, depth: int) -> ConceptGraph:
        """Concepts within `depth` hops over broader/narrower/related/typed relations, plus the
        strongest co-occurrences of each expanded concept (not expanded further)."""
        focus = self.resolve(concept_id)
        depths = {focus.uri: 0}
        edges: dict[tuple[str, str, str], GraphEdge] = {}
        frontier = [focus.uri]
        for level in range(depth):
            following = []
            for uri in frontier:
                for edge in self._edges.get(uri, ()):
                    edges[(edge.source, edge.target, edge.predicate)] = edge
                    other = edge.target if edge.source == uri else edge.source
                    if other not in depths:
                        depths[other] = level + 1
                        following.append(other)
                cooccurring = [
                    (other, c) for other, c in self._cooccurring.get(uri, []) if c.npmi > 0
                ]
                for other, c in cooccurring[:GRAPH_COOCCURRENCES_PER_NODE]:
                    a, b = sorted((uri, other))
                    edges[(a, b, "cooccurs")] = GraphEdge(
                        source=a,
                        target=b,
                        predicate="cooccurs",
                        label=f"co-occurs in {c.count} passages",
                        kind="cooccurs",
                        weight=round(c.npmi, 4),
                    )
                    depths.setdefault(other, level + 1)
            frontier = following
        nodes = []
        for uri, hops in sorted(depths.items(), key=lambda d: (d[1], d[0])):
            entry = self._by_uri.get(uri)
            label = entry.label if entry else short_id(uri)
            kind = "focus" if hops == 0 else "candidate" if entry and entry.candidate else "concept"
            nodes.append(GraphNode(id=short_id(uri), label=label, kind=kind, depth=hops))
        shown = [
            e.model_copy(update={"source": short_id(e.source), "target": short_id(e.target)})
            for e in edges.values()
            if e.source in depths and e.target in depths
        ]
        shown.sort(key=lambda e: (e.kind, e.source, e.target, e.predicate))
        return ConceptGraph(nodes=nodes, edges=shown)


def _lexical_score(
    text: str, key: tuple[str, ...], label: _Label
) -> tuple[float, MatchKind] | None:
    """The best exact / prefix / fuzzy score of query words `text` (stems `key`) for a label."""
    penalty = 0.0 if label.preferred else ALT_PENALTY
    if text == label.text or (key and key == label.key):
        return (EXACT_PREF if label.preferred else EXACT_ALT), "exact"
    if len(text) >= MIN_PREFIX_CHARS:
        coverage = len(text) / len(label.text)
        if label.text.startswith(text):
            return PREFIX_BASE + PREFIX_SPAN * coverage - penalty, "prefix"
        if f" {text}" in label.text:
            return WORD_PREFIX_BASE + WORD_PREFIX_SPAN * coverage - penalty, "prefix"
    if len(text) >= FUZZY_MIN_CHARS:
        ratio = fuzz.ratio(text, label.text)
        if len(label.text) > len(text):
            truncated = fuzz.ratio(text, label.text[: len(text)]) - FUZZY_TRUNCATED_PENALTY
            ratio = max(ratio, truncated)
        if ratio >= FUZZY_MIN_RATIO:
            share = (ratio - FUZZY_MIN_RATIO) / (100.0 - FUZZY_MIN_RATIO)
            return FUZZY_BASE + FUZZY_SPAN * share - penalty, "fuzzy"
    return None
