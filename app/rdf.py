"""RDF representations: content negotiation (RFC 9110 Accept) and serialisation.

JSON-LD is written with rdflib's own serializer and no remote context, so serving it never
makes an outgoing request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Response
from rdflib import RDFS, SKOS, BNode, Graph, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV

from indexer.namespaces import CANDIDATE, CONCEPT, LG

from .errors import NotAcceptable

RDF_MEDIA_TYPES: dict[str, str] = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
}
_CHARSET = {"text/turtle", "application/n-triples"}


@dataclass(frozen=True, slots=True)
class _Range:
    type: str
    subtype: str
    q: float
    order: int

    def matches(self, media_type: str) -> bool:
        kind, _, sub = media_type.partition("/")
        return self.type in ("*", kind) and self.subtype in ("*", sub)

    @property
    def specificity(self) -> int:
        return (self.type != "*") + (self.subtype != "*")


def _parse_accept(accept: str) -> list[_Range]:
    ranges = []
    for order, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        kind, _, sub = fields[0].lower().partition("/")
        if not kind or not sub:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append(_Range(kind, sub, q, order))
    return ranges


def choose_media_type(accept: str | None, offered: Sequence[str]) -> str:
    """The offered media type the client prefers: highest q of the most specific range that
    matches it, ties broken by the order of `offered`. No Accept (or only */*) → offered[0]."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = _parse_accept(accept)
    if not ranges:
        return offered[0]
    best: tuple[float, int] | None = None
    choice = None
    for position, media_type in enumerate(offered):
        matching = [r for r in ranges if r.matches(media_type)]
        if not matching:
            continue
        # the most specific matching range decides the quality (RFC 9110 §12.5.1)
        decisive = max(matching, key=lambda r: (r.specificity, -r.order))
        if decisive.q <= 0.0:
            continue
        key = (decisive.q, -position)
        if best is None or key > best:
            best, choice = key, media_type
    if choice is None:
        raise NotAcceptable(
            f"cannot answer with {accept!r}; this resource offers: {', '.join(offered)}"
        )
    return choice


def bind_prefixes(graph: Graph) -> Graph:
    for prefix, ns in (
        ("lg", LG),
        ("c", CONCEPT),
        ("cand", CANDIDATE),
        ("skos", SKOS),
        ("dcterms", DCTERMS),
        ("prov", PROV),
        ("owl", OWL),
        ("rdfs", RDFS),
    ):
        graph.bind(prefix, ns, override=True)
    return graph


def concept_graph(graph: Graph, uri: str) -> Graph:
    """The description of one concept: its own triples (blank nodes followed), the triples
    that point at it from other concepts, and the labels of every resource it names."""
    node = URIRef(uri)
    out = bind_prefixes(Graph())
    todo: list[URIRef | BNode] = [node]
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
            elif isinstance(o, URIRef):
                for label in graph.objects(o, SKOS.prefLabel):
                    out.add((o, SKOS.prefLabel, label))
                for label in graph.objects(o, RDFS.label):
                    out.add((o, RDFS.label, label))
    for s, p in graph.subject_predicates(node):
        if isinstance(s, URIRef) and (s, SKOS.prefLabel, None) in graph:
            out.add((s, p, node))
    return out


def serialize(graph: Graph, media_type: str) -> bytes:
    data = graph.serialize(format=RDF_MEDIA_TYPES[media_type], encoding="utf-8")
    return data


def content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8" if media_type in _CHARSET else media_type


def rdf_response(graph: Graph, media_type: str) -> Response:
    return Response(serialize(graph, media_type), media_type=content_type(media_type))
