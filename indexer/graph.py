"""The RDF graph of an index: ontology + documents + passages + mentions + relations + provenance.

Vocabularies: SKOS for concepts, Dublin Core terms and schema.org for documents, PROV-O for
provenance, RDF reification (rdf:subject/predicate/object) for relation evidence, and a few
`lg:` terms of our own (declared here with labels) for mentions, offsets and scores.

    doc:<id>          a schema:CreativeWork ; dcterms:title ; dcterms:date ; schema:text
    passage:<id>      a lg:Passage ; dcterms:isPartOf doc ; lg:start ; lg:end ; schema:text ;
                      dcterms:subject <concept>              (one per linked concept)
    mention:<n>       a lg:Mention ; lg:passage ; lg:concept ; lg:score ; lg:method ; lg:start ...
    _:cooc            a lg:Cooccurrence ; lg:concept a, b ; lg:count ; lg:npmi
    _:evidence        a lg:RelationEvidence ; rdf:subject ; rdf:predicate ; rdf:object ; lg:quote
    candidate:<id>    a skos:Concept, lg:CandidateConcept ; skos:inScheme candidate:scheme
    run:<version>     a prov:Activity ; prov:used ... ; every generated node prov:wasGeneratedBy it
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rdflib import RDF, RDFS, SKOS, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV

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
) -> Graph:
    """One graph holding everything; loadable by plain rdflib from its Turtle."""
    g = Graph()
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
        g.bind(prefix, ns, override=True)
    g += ontology
    _declare_terms(g)

    run = RUN[version]
    agent = URIRef(BASE + "software/leadgraph")
    g.add((agent, RDF.type, PROV.SoftwareAgent))
    g.add((agent, RDFS.label, Literal("leadgraph indexer")))
    g.add((run, RDF.type, PROV.Activity))
    g.add((run, RDFS.label, Literal(f"leadgraph index build {version}")))
    g.add((run, PROV.wasAssociatedWith, agent))
    g.add((run, PROV.startedAtTime, Literal(_iso(started), datatype=XSD.dateTime)))
    g.add((run, PROV.endedAtTime, Literal(_iso(ended or datetime.now(UTC)), datatype=XSD.dateTime)))
    g.add((run, LG.model, Literal(model)))

    for d in documents:
        node = URIRef(document_uri(d.id))
        g.add((node, RDF.type, SCHEMA.CreativeWork))
        g.add((node, RDF.type, PROV.Entity))
        g.add((node, DCTERMS.identifier, Literal(d.id)))
        g.add((node, DCTERMS.title, Literal(d.title)))
        g.add((node, DCTERMS.type, Literal(d.kind)))
        g.add((node, SCHEMA.text, Literal(d.text)))
        if d.date:
            g.add((node, DCTERMS.date, Literal(d.date, datatype=XSD.date)))
        if d.source:
            g.add((node, DCTERMS.source, Literal(d.source)))
        g.add((run, PROV.used, node))

    for p in passages:
        node = URIRef(passage_uri(p.id))
        g.add((node, RDF.type, LG.Passage))
        g.add((node, DCTERMS.identifier, Literal(p.id)))
        g.add((node, DCTERMS.isPartOf, URIRef(document_uri(p.document_id))))
        g.add((node, LG.ordinal, Literal(p.ordinal)))
        g.add((node, LG.start, Literal(p.start)))
        g.add((node, LG.end, Literal(p.end)))
        g.add((node, LG.tokenCount, Literal(p.token_count)))
        g.add((node, SCHEMA.text, Literal(p.text)))
        g.add((node, PROV.wasDerivedFrom, URIRef(document_uri(p.document_id))))

    for n, m in enumerate(mentions):
        node = MENTION[str(n)]
        concept = URIRef(m.concept_uri)
        passage = URIRef(passage_uri(m.passage_id))
        g.add((passage, DCTERMS.subject, concept))
        g.add((node, RDF.type, LG.Mention))
        g.add((node, LG.passage, passage))
        g.add((node, LG.concept, concept))
        g.add((node, LG.score, Literal(round(m.score, 4), datatype=XSD.decimal)))
        g.add((node, LG.method, Literal(m.method)))
        if m.start is not None and m.end is not None:
            g.add((node, LG.start, Literal(m.start)))
            g.add((node, LG.end, Literal(m.end)))
        if m.surface is not None:
            g.add((node, LG.surface, Literal(m.surface)))
        g.add((node, PROV.wasGeneratedBy, run))

    for c in cooccurrences:
        cooc = BNode()
        g.add((cooc, RDF.type, LG.Cooccurrence))
        g.add((cooc, LG.concept, URIRef(c.a)))
        g.add((cooc, LG.concept, URIRef(c.b)))
        g.add((cooc, LG["count"], Literal(c.count)))
        g.add((cooc, LG.npmi, Literal(round(c.npmi, 4), datatype=XSD.decimal)))
        g.add((cooc, PROV.wasGeneratedBy, run))

    for e in evidence:
        ev = BNode()
        g.add((ev, RDF.type, LG.RelationEvidence))
        g.add((ev, RDF.subject, URIRef(e.subject)))
        g.add((ev, RDF.predicate, URIRef(e.predicate)))
        g.add((ev, RDF.object, URIRef(e.object)))
        g.add((ev, LG.passage, URIRef(passage_uri(e.passage_id))))
        g.add((ev, LG.start, Literal(e.start)))
        g.add((ev, LG.end, Literal(e.end)))
        g.add((ev, LG.quote, Literal(e.quote)))
        g.add((ev, LG.score, Literal(round(e.score, 4), datatype=XSD.decimal)))
        g.add((ev, PROV.wasGeneratedBy, run))

    g.add((CANDIDATE_SCHEME, RDF.type, SKOS.ConceptScheme))
    g.add((CANDIDATE_SCHEME, DCTERMS.title, Literal("Candidate concepts for review", lang="en")))
    g.add((CANDIDATE_SCHEME, PROV.wasGeneratedBy, run))
    for cand in candidates:
        node = URIRef(cand.uri)
        g.add((node, RDF.type, SKOS.Concept))
        g.add((node, RDF.type, LG.CandidateConcept))
        g.add((node, SKOS.inScheme, CANDIDATE_SCHEME))
        g.add((node, SKOS.prefLabel, Literal(cand.label, lang="en")))
        g.add((node, LG.frequency, Literal(cand.frequency)))
        g.add((node, LG.documentFrequency, Literal(cand.document_frequency)))
        g.add((node, LG.score, Literal(round(cand.score, 4), datatype=XSD.decimal)))
        for passage_id in cand.evidence:
            g.add((node, LG.evidence, URIRef(passage_uri(passage_id))))
        g.add((node, PROV.wasGeneratedBy, run))
    return g


def _declare_terms(g: Graph) -> None:
    for name, comment in _TERMS.items():
        term = LG[name]
        kind = OWL.Class if name[0].isupper() else OWL.AnnotationProperty
        if (term, RDF.type, None) not in g:
            g.add((term, RDF.type, kind))
            g.add((term, RDFS.label, Literal(name)))
            g.add((term, RDFS.comment, Literal(comment, lang="en")))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
