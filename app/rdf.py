"""RDF representations: content negotiation (RFC 9110 Accept) and serialisation.

JSON-LD is written with rdflib's own serializer and no context (expanded form), so serving it
never makes an outgoing request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Response
from rdflib import RDFS, SKOS, BNode, Graph, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV

from leadgraph.indexer.namespaces import CANDIDATE, CONCEPT, DOC, LG, PASSAGE

from .errors import NotAcceptable

RDF_MEDIA_TYPES: dict[str, str] = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
}
_CHARSET = {"text/turtle", "application/n-triples"}  # text formats without an encoding of their own
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_RANGE = re.compile(rf"^({_TOKEN})/({_TOKEN})$")
_QVALUE = re.compile(r"^(0(\.\d{0,3})?|1(\.0{0,3})?)$")
_ELEMENTS = re.compile(r'(?:"(?:\\.|[^"\\])*"|[^,"])+')  # comma-separated, quoted strings kept


@dataclass(frozen=True, slots=True)
class _Range:
    type: str
    subtype: str
    q: float
    order: int

    def matches(self, media_type: str) -> bool:
        kind, _, sub = media_type.lower().partition("/")
        return self.type in ("*", kind) and self.subtype in ("*", sub)

    @property
    def specificity(self) -> int:
        return (self.type != "*") + (self.subtype != "*")


def _parse_accept(accept: str) -> list[_Range]:
    """The well-formed media ranges of an Accept header; malformed elements are skipped."""
    ranges = []
    for order, element in enumerate(_ELEMENTS.findall(accept)):
        fields = [f.strip() for f in element.split(";")]
        match = _MEDIA_RANGE.match(fields[0])
        if match is None:
            continue
        kind, sub = match.group(1).lower(), match.group(2).lower()
        if kind == "*" and sub != "*":
            continue  # "*/json" is not a media range
        q: float | None = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                q = float(value) if _QVALUE.match(value) else None
                break  # parameters after q are accept-extensions
        if q is not None:
            ranges.append(_Range(kind, sub, q, order))
    return ranges


def choose_media_type(accept: str | None, offered: Sequence[str]) -> str:
    """The offered media type the client prefers (RFC 9110 §12.5.1): each is weighed by the q of
    the most specific range matching it, q=0 excludes, ties go to the order of `offered`.

    No Accept header, an empty one or one with no well-formed range → `offered[0]`; nothing
    acceptable → NotAcceptable naming what is offered."""
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
    """`graph` with the leadgraph and vocabulary prefixes bound, for readable Turtle."""
    for prefix, ns in (
        ("lg", LG),
        ("c", CONCEPT),
        ("cand", CANDIDATE),
        ("doc", DOC),
        ("passage", PASSAGE),
        ("skos", SKOS),
        ("dcterms", DCTERMS),
        ("prov", PROV),
        ("owl", OWL),
        ("rdfs", RDFS),
    ):
        graph.bind(prefix, ns, override=True)
    return graph


def concept_graph(graph: Graph, uri: str) -> Graph:
    """The description of one resource: its outgoing triples (blank nodes followed to their own
    triples), plus the skos:prefLabel and rdfs:label of every resource it points to."""
    out = bind_prefixes(Graph())
    todo: list[URIRef | BNode] = [URIRef(uri)]
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
                for label_property in (SKOS.prefLabel, RDFS.label):
                    for label in graph.objects(o, label_property):
                        out.add((o, label_property, label))
    return out


def content_type(media_type: str) -> str:
    """The Content-Type header for an RDF media type (charset on the plain-text syntaxes)."""
    return f"{media_type}; charset=utf-8" if media_type in _CHARSET else media_type


def serialize(graph: Graph, media_type: str) -> bytes:
    """`graph` in the syntax of `media_type`, one of RDF_MEDIA_TYPES, UTF-8 encoded."""
    return graph.serialize(format=RDF_MEDIA_TYPES[media_type], encoding="utf-8")


def rdf_response(graph: Graph, media_type: str) -> Response:
    """`graph` serialized as `media_type` (one of RDF_MEDIA_TYPES), with Vary: Accept."""
    return Response(
        serialize(graph, media_type),
        media_type=content_type(media_type),
        headers={"Vary": "Accept"},
    )
