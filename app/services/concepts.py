"""Concept pages and concept neighbourhoods over the loaded index; lookup by label, prefix,
typo or meaning lives in `lookup.py` (`ConceptMatcher`), which this service holds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from rapidfuzz import fuzz, process

from leadgraph.indexer.embedder import Embedder
from leadgraph.indexer.models import Cooccurrence, Mention, RelationEvidence
from leadgraph.indexer.namespaces import short_id
from leadgraph.indexer.store import Index

from ..errors import NotFound
from ..schemas import (
    ConceptDetail,
    ConceptGraph,
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
from .lookup import ConceptMatcher, Entry, Match, candidate_entry, concept_entry

__all__ = ["ConceptService", "Entry", "Match", "concept_ref", "local_name", "passage_concepts"]

EdgeKind = Literal["hierarchy", "related", "relation", "cooccurs"]

COOCCURRING_MAX = 20
GRAPH_COOCCURRENCES_PER_NODE = 3


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
        curated = [concept_entry(c) for c in index.concepts.values() if not c.candidate]
        curated.sort(key=lambda e: (e.label.casefold(), e.id))
        mined = [concept_entry(c) for c in index.concepts.values() if c.candidate]
        mined += [candidate_entry(c) for c in index.candidates]
        mined.sort(key=lambda e: (e.label.casefold(), e.id))
        self.curated: tuple[Entry, ...] = tuple(curated)
        self.candidates: tuple[Entry, ...] = tuple(mined)
        self._by_id: dict[str, Entry] = {}
        for e in (*mined, *curated):  # a curated concept wins an id clash
            self._by_id[e.id] = e
        self._by_uri = {e.uri: e for e in (*mined, *curated)}
        self._candidate_evidence = {c.uri: c.evidence for c in index.candidates}
        self.matcher = ConceptMatcher(index, embedder, self.curated, self.candidates)
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

    # --- lookup ----------------------------------------------------------------------------

    def lookup(
        self,
        q: str | None,
        *,
        limit: int,
        offset: int,
        include_candidates: bool,
        include_weak: bool = False,
        max_k: int,
        max_chars: int,
    ) -> ConceptList:
        """`ConceptMatcher.lookup`: the concepts `q` names, best first, or every concept."""
        return self.matcher.lookup(
            q,
            limit=limit,
            offset=offset,
            include_candidates=include_candidates,
            include_weak=include_weak,
            max_k=max_k,
            max_chars=max_chars,
        )

    def match(
        self, q: str, *, include_candidates: bool = False, include_weak: bool = False
    ) -> list[Match]:
        """`ConceptMatcher.match`: every match of `q`, best first."""
        return self.matcher.match(
            q, include_candidates=include_candidates, include_weak=include_weak
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
