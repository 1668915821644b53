"""The RDF graph of an index: ontology + documents + passages + mentions + relations + provenance.

Vocabularies: SKOS for concepts, Dublin Core terms and schema.org for documents, PROV-O for
provenance, RDF reification (rdf:subject/predicate/object) for relation evidence, and a few
`lg:` terms of our own (declared here with labels) for mentions, offsets and scores.

    doc:<id>          a schema:CreativeWork ; dcterms:title ; dcterms:date ; schema:text ;
                      dcterms:source <url> ; schema:url <url>  (an http(s) source: the original)
                      dcterms:source "reference"              (any other source, as written)
    passage:<id>      a lg:Passage ; dcterms:isPartOf doc ; lg:start ; lg:end ; schema:text ;
                      dcterms:subject <concept>              (one per linked concept)
    mention:<n>       a lg:Mention ; lg:passage ; lg:concept ; lg:score ; lg:method ; lg:start ...
    _:cooc            a lg:Cooccurrence ; lg:concept a, b ; lg:count ; lg:npmi
    _:evidence        a lg:RelationEvidence ; rdf:subject ; rdf:predicate ; rdf:object ; lg:quote
    candidate:<id>    a skos:Concept, lg:CandidateConcept ; skos:inScheme candidate:scheme
    run:<version>     a prov:Activity ; prov:used ... ; every generated node prov:wasGeneratedBy it

The graph is made as Oxigraph triples, not in an rdflib store: rdflib's `Graph.add` was two
thirds of this step on SciFact (290,000 triples), and the triples go to Oxigraph's Turtle writer
anyway. Literals are written as rdflib writes them (an int is xsd:integer, a str a plain string,
a decimal the `str` of the rounded float), so the file is the one the rdflib version wrote.
Blank nodes get labels from their position (`cooc3`, `evidence0`), so two builds of one corpus
write the same file but for the run's version and times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import pyoxigraph as ox
from rdflib import RDF, RDFS, SKOS, XSD, Graph, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV

from .corpus import web_url_problem
from .models import Candidate, Cooccurrence, Document, Mention, Passage, RelationEvidence
from .namespaces import (
    BASE,
    CANDIDATE,
    CANDIDATE_SCHEME,
    CONCEPT,
    DOC,
    LG,
    MENTION,
    PASSAGE,
    RUN,
    document_uri,
    passage_uri,
)
from .rdfio import ox_triples, triples_turtle

SCHEMA = Namespace("https://schema.org/")

_TERMS = {
    "Passage": "a span of a document, the unit of search and linking",
    "Mention": "a concept found in a passage, with the score and method that found it",
    "Cooccurrence": "two concepts mentioned in the same passages, weighted by NPMI",
    "RelationEvidence": "a sentence that evidences a typed relation between two concepts",
    "CandidateConcept": "a key phrase of the corpus that matches no concept, for review",
    "passage": "the passage a mention or evidence lies in",
    "concept": "the concept a mention or co-occurrence is about",
    "score": "confidence in [0, 1]",
    "method": "how a mention was found: lexical or semantic",
    "start": "character offset into the document text where the span starts",
    "end": "character offset into the document text where the span ends (exclusive)",
    "surface": "the text of the span as it stands in the document",
    "quote": "the exact sentence quoted",
    "ordinal": "position of a passage within its document, from 0",
    "tokenCount": "tokens of the passage for the embedding model",
    "count": "number of passages",
    "npmi": "normalised pointwise mutual information over passages, in [-1, 1]",
    "frequency": "occurrences in the corpus",
    "documentFrequency": "documents the phrase occurs in",
    "evidence": "a passage that supports a candidate concept",
}


@dataclass(frozen=True)
class IndexGraph:
    """The triples of an index's graph, each once, in the order they were made, and the
    prefixes its Turtle may declare (prefix -> namespace)."""

    triples: tuple[ox.Triple, ...]
    prefixes: dict[str, str]

    def __len__(self) -> int:
        return len(self.triples)

    def turtle(self) -> bytes:
        return triples_turtle(self.triples, self.prefixes)


def build_graph(
    ontology: Graph,
    documents: Sequence[Document],
    passages: Sequence[Passage],
    mentions: Sequence[Mention],
    cooccurrences: Sequence[Cooccurrence],
    evidence: Sequence[RelationEvidence],
    candidates: Sequence[Candidate],
    *,
    version: str,
    model: str,
    started: datetime,
    ended: datetime | None = None,
) -> IndexGraph:
    """One graph holding everything; its Turtle loads in plain rdflib."""
    names = Graph()  # rdflib's default prefixes, then ours
    for prefix, ns in (
        ("lg", LG),
        ("c", CONCEPT),
        ("cand", CANDIDATE),
        ("doc", DOC),
        ("passage", PASSAGE),
        ("mention", MENTION),
        ("run", RUN),
        ("schema", SCHEMA),
        ("skos", SKOS),
        ("dcterms", DCTERMS),
        ("prov", PROV),
        ("owl", OWL),
    ):
        names.bind(prefix, ns, override=True)
    prefixes = {prefix: str(ns) for prefix, ns in names.namespaces() if prefix}

    made: dict[ox.Triple, None] = {}  # an ordered set: a triple made twice is stored once

    def add(subject: ox.NamedNode | ox.BlankNode, predicate: URIRef, obj: _Object) -> None:
        made[ox.Triple(subject, _iri(predicate), obj)] = None

    # in a fixed order: an rdflib graph's order follows its terms' hashes, which differ from one
    # process to the next, and with them the order of a subject's objects in the Turtle
    made.update(dict.fromkeys(sorted(ox_triples(ontology), key=str)))
    _declare_terms(add, {str(s) for s in ontology.subjects(RDF.type, None)})

    run = _iri(RUN[version])
    agent = ox.NamedNode(BASE + "software/leadgraph")
    add(agent, RDF.type, _iri(PROV.SoftwareAgent))
    add(agent, RDFS.label, _plain("leadgraph indexer"))
    add(run, RDF.type, _iri(PROV.Activity))
    add(run, RDFS.label, _plain(f"leadgraph index build {version}"))
    add(run, PROV.wasAssociatedWith, agent)
    add(run, PROV.startedAtTime, _typed(_iso(started), XSD.dateTime))
    add(run, PROV.endedAtTime, _typed(_iso(ended or datetime.now(UTC)), XSD.dateTime))
    add(run, LG.model, _plain(model))

    for d in documents:
        node = ox.NamedNode(document_uri(d.id))
        add(node, RDF.type, _iri(SCHEMA.CreativeWork))
        add(node, RDF.type, _iri(PROV.Entity))
        add(node, DCTERMS.identifier, _plain(d.id))
        add(node, DCTERMS.title, _plain(d.title))
        add(node, DCTERMS.type, _plain(d.kind))
        add(node, SCHEMA.text, _plain(d.text))
        if d.date:
            add(node, DCTERMS.date, _typed(d.date, XSD.date))
        # the article's own address or reference; never the file it was read from, which
        # says where the server keeps its corpus and nothing about the article
        if d.source is not None:
            if web_url_problem(d.source) is None:
                original = ox.NamedNode(d.source)
                add(node, DCTERMS.source, original)
                add(node, SCHEMA.url, original)
            else:
                add(node, DCTERMS.source, _plain(d.source))
        add(run, PROV.used, node)

    for p in passages:
        node = ox.NamedNode(passage_uri(p.id))
        document = ox.NamedNode(document_uri(p.document_id))
        add(node, RDF.type, _iri(LG.Passage))
        add(node, DCTERMS.identifier, _plain(p.id))
        add(node, DCTERMS.isPartOf, document)
        add(node, LG.ordinal, _integer(p.ordinal))
        add(node, LG.start, _integer(p.start))
        add(node, LG.end, _integer(p.end))
        add(node, LG.tokenCount, _integer(p.token_count))
        add(node, SCHEMA.text, _plain(p.text))
        add(node, PROV.wasDerivedFrom, document)

    for n, m in enumerate(mentions):
        node = _iri(MENTION[str(n)])
        concept = ox.NamedNode(m.concept_uri)
        passage = ox.NamedNode(passage_uri(m.passage_id))
        add(passage, DCTERMS.subject, concept)
        add(node, RDF.type, _iri(LG.Mention))
        add(node, LG.passage, passage)
        add(node, LG.concept, concept)
        add(node, LG.score, _decimal(m.score))
        add(node, LG.method, _plain(m.method))
        if m.start is not None and m.end is not None:
            add(node, LG.start, _integer(m.start))
            add(node, LG.end, _integer(m.end))
        if m.surface is not None:
            add(node, LG.surface, _plain(m.surface))
        add(node, PROV.wasGeneratedBy, run)

    for n, c in enumerate(cooccurrences):
        cooc = ox.BlankNode(f"cooc{n}")
        add(cooc, RDF.type, _iri(LG.Cooccurrence))
        add(cooc, LG.concept, ox.NamedNode(c.a))
        add(cooc, LG.concept, ox.NamedNode(c.b))
        add(cooc, LG["count"], _integer(c.count))
        add(cooc, LG.npmi, _decimal(c.npmi))
        add(cooc, PROV.wasGeneratedBy, run)

    for n, e in enumerate(evidence):
        ev = ox.BlankNode(f"evidence{n}")
        add(ev, RDF.type, _iri(LG.RelationEvidence))
        add(ev, RDF.subject, ox.NamedNode(e.subject))
        add(ev, RDF.predicate, ox.NamedNode(e.predicate))
        add(ev, RDF.object, ox.NamedNode(e.object))
        add(ev, LG.passage, ox.NamedNode(passage_uri(e.passage_id)))
        add(ev, LG.start, _integer(e.start))
        add(ev, LG.end, _integer(e.end))
        add(ev, LG.quote, _plain(e.quote))
        add(ev, LG.score, _decimal(e.score))
        add(ev, PROV.wasGeneratedBy, run)

    scheme = _iri(CANDIDATE_SCHEME)
    add(scheme, RDF.type, _iri(SKOS.ConceptScheme))
    add(scheme, DCTERMS.title, ox.Literal("Candidate concepts for review", language="en"))
    add(scheme, PROV.wasGeneratedBy, run)
    for cand in candidates:
        node = ox.NamedNode(cand.uri)
        add(node, RDF.type, _iri(SKOS.Concept))
        add(node, RDF.type, _iri(LG.CandidateConcept))
        add(node, SKOS.inScheme, scheme)
        add(node, SKOS.prefLabel, ox.Literal(cand.label, language="en"))
        add(node, LG.frequency, _integer(cand.frequency))
        add(node, LG.documentFrequency, _integer(cand.document_frequency))
        add(node, LG.score, _decimal(cand.score))
        for passage_id in cand.evidence:
            add(node, LG.evidence, ox.NamedNode(passage_uri(passage_id)))
        add(node, PROV.wasGeneratedBy, run)
    return IndexGraph(tuple(made), prefixes)


_Object = ox.NamedNode | ox.BlankNode | ox.Literal
_Adder = Callable[[ox.NamedNode | ox.BlankNode, URIRef, _Object], None]
_INTEGER = ox.NamedNode(str(XSD.integer))
_DECIMAL = ox.NamedNode(str(XSD.decimal))


def _declare_terms(add: _Adder, typed: Iterable[str]) -> None:
    """Class or annotation property, label and comment of each `lg:` term `_TERMS` describes,
    unless the ontology already gives it a type (`typed`: IRIs with an rdf:type)."""
    declared = set(typed)
    for name, comment in _TERMS.items():
        term = LG[name]
        if str(term) in declared:
            continue
        kind = OWL.Class if name[0].isupper() else OWL.AnnotationProperty
        add(_iri(term), RDF.type, _iri(kind))
        add(_iri(term), RDFS.label, _plain(name))
        add(_iri(term), RDFS.comment, ox.Literal(comment, language="en"))


@lru_cache(maxsize=256)  # the vocabulary's few dozen IRIs, made once each
def _iri(uri: str) -> ox.NamedNode:
    return ox.NamedNode(uri)


def _plain(value: str) -> ox.Literal:
    return ox.Literal(value)


def _typed(lexical: str, datatype: URIRef) -> ox.Literal:
    return ox.Literal(lexical, datatype=ox.NamedNode(str(datatype)))


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=_INTEGER)


def _decimal(value: float) -> ox.Literal:
    """`value` to four places, written as rdflib writes a float typed xsd:decimal."""
    return ox.Literal(str(round(value, 4)), datatype=_DECIMAL)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
