"""Load the curated ontology (SKOS concepts + typed lg object properties) and check it with SHACL.

`load_ontology` turns `ontology/leadership.ttl` into `Concept` and `PropertyDef` values;
`validate_ontology` runs `ontology/shapes.ttl` over it with pySHACL. Both raise `OntologyError`
naming the file (and line, where rdflib reports one) when a file is missing or does not parse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import OWL, RDF, RDFS, SKOS, Graph, Literal, URIRef
from rdflib.namespace import SH
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.term import Node

from leadgraph.indexer.errors import OntologyError
from leadgraph.indexer.models import Concept, PropertyDef, Relation
from leadgraph.indexer.namespaces import LG, short_id

ONTOLOGY_DIR = Path(__file__).resolve().parent.parent / "ontology"
DEFAULT_ONTOLOGY = ONTOLOGY_DIR / "leadership.ttl"
DEFAULT_SHAPES = ONTOLOGY_DIR / "shapes.ttl"

_CUE_WORD = LG["cueWord"]
_WEAK_LABEL = LG["weakLabel"]
_LANG = "en"


@dataclass(frozen=True)
class Ontology:
    """The curated concepts (sorted by prefLabel) and typed properties, with the parsed graph."""

    concepts: tuple[Concept, ...]
    properties: tuple[PropertyDef, ...]
    graph: Graph = field(compare=False, repr=False)
    _by_uri: dict[str, Concept] = field(init=False, compare=False, repr=False)
    _by_id: dict[str, Concept] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_uri", {c.uri: c for c in self.concepts})
        object.__setattr__(self, "_by_id", {c.id: c for c in self.concepts})

    def concept(self, uri: str) -> Concept:
        """The concept named by `uri`; `OntologyError` if the ontology has none."""
        try:
            return self._by_uri[str(uri)]
        except KeyError:
            raise OntologyError(f"no concept {uri} in the ontology") from None

    def by_id(self, concept_id: str) -> Concept:
        """The concept whose short id (last URI segment, e.g. "BridgeRole") is `concept_id`."""
        try:
            return self._by_id[concept_id]
        except KeyError:
            raise OntologyError(f"no concept with id {concept_id!r} in the ontology") from None

    def property_def(self, uri: str) -> PropertyDef:
        """The object property named by `uri`; `OntologyError` if the ontology has none."""
        for prop in self.properties:
            if prop.uri == str(uri):
                return prop
        raise OntologyError(f"no object property {uri} in the ontology")


@dataclass(frozen=True, slots=True)
class ValidationReport:
    conforms: bool
    messages: tuple[str, ...]  # "<focus node> <path>: <sh:message>", one per SHACL result


def load_ontology(path: Path | str = DEFAULT_ONTOLOGY) -> Ontology:
    """Parse the Turtle ontology at `path` into concepts and object properties.

    Lenient about content (SHACL reports that); strict about what would make the result
    unusable: a missing or unparseable file, no concepts, or two concepts with one short id.
    """
    path = Path(path)
    graph = _parse(path, "ontology")
    properties = _properties(graph)
    symmetric = {URIRef(p.uri) for p in properties if p.inverse == p.uri}
    subjects = sorted(_concept_nodes(graph), key=str)
    if not subjects:
        raise OntologyError(f"{path}: no skos:Concept found; is this the ontology file?")

    concepts = [_concept(graph, node, properties, symmetric) for node in subjects]
    seen: dict[str, str] = {}
    for c in concepts:
        if c.id in seen:
            raise OntologyError(
                f"{path}: concepts {seen[c.id]} and {c.uri} share the short id {c.id!r}"
            )
        seen[c.id] = c.uri
    concepts.sort(key=lambda c: (c.pref_label.casefold(), c.id))
    return Ontology(concepts=tuple(concepts), properties=properties, graph=graph)


def validate_ontology(
    path: Path | str = DEFAULT_ONTOLOGY, shapes: Path | str = DEFAULT_SHAPES
) -> ValidationReport:
    """Check the ontology at `path` against the SHACL `shapes`, without inference or fetching."""
    import pyshacl  # imported here: it is slow to import and only the validation needs it

    data = _parse(Path(path), "ontology")
    shapes_graph = _parse(Path(shapes), "shapes")
    conforms, results, _text = pyshacl.validate(
        data,
        shacl_graph=shapes_graph,
        inference="none",
        abort_on_first=False,
        allow_warnings=False,
        advanced=True,  # SHACL-AF SPARQL targets: shapes.ttl explains why
        do_owl_imports=False,
    )
    if not isinstance(results, Graph):  # pySHACL returns, not raises, a failure of the shapes
        raise OntologyError(f"{shapes}: SHACL shapes are not usable: {results}")
    messages = sorted(
        _describe(results, r, data) for r in results.subjects(RDF.type, SH.ValidationResult)
    )
    return ValidationReport(conforms=bool(conforms), messages=tuple(messages))


def _parse(path: Path, what: str) -> Graph:
    if not path.is_file():
        raise OntologyError(f"{path}: {what} file not found")
    graph = Graph()
    try:
        graph.parse(path, format="turtle")
    except BadSyntax as e:
        # rdflib counts lines from 0
        raise OntologyError(f"{path}:{e.lines + 1}: Turtle syntax error: {e._why}") from e
    except (SyntaxError, ValueError) as e:
        raise OntologyError(f"{path}: cannot parse {what} as Turtle: {e}") from e
    return graph


def _concept_classes(graph: Graph) -> set[Node]:
    """skos:Concept and every class declared (transitively) below it, e.g. lg:Role."""
    classes: set[Node] = {SKOS.Concept}
    frontier: list[Node] = [SKOS.Concept]
    while frontier:
        for sub in graph.subjects(RDFS.subClassOf, frontier.pop()):
            if sub not in classes:
                classes.add(sub)
                frontier.append(sub)
    return classes


def _concept_nodes(graph: Graph) -> set[URIRef]:
    nodes: set[URIRef] = set()
    for cls in _concept_classes(graph):
        nodes.update(s for s in graph.subjects(RDF.type, cls) if isinstance(s, URIRef))
    return nodes


def _properties(graph: Graph) -> tuple[PropertyDef, ...]:
    props = []
    for node in set(graph.subjects(RDF.type, OWL.ObjectProperty)):
        if not isinstance(node, URIRef) or not str(node).startswith(str(LG)):
            continue
        inverse = graph.value(node, OWL.inverseOf) or graph.value(None, OWL.inverseOf, node)
        if inverse is None and (node, RDF.type, OWL.SymmetricProperty) in graph:
            inverse = node  # a symmetric property is its own inverse
        props.append(
            PropertyDef(
                uri=str(node),
                label=_text(graph, node, RDFS.label) or short_id(str(node)).rsplit("#", 1)[-1],
                definition=_text(graph, node, SKOS.definition) or _text(graph, node, RDFS.comment),
                domain=_uri(graph.value(node, RDFS.domain)),
                range=_uri(graph.value(node, RDFS.range)),
                inverse=_uri(inverse),
                cue_words=tuple(
                    sorted({str(w).strip().lower() for w in graph.objects(node, _CUE_WORD)})
                ),
            )
        )
    return tuple(sorted(props, key=lambda p: (p.label.casefold(), p.uri)))


def _concept(
    graph: Graph,
    node: URIRef,
    properties: Iterable[PropertyDef],
    symmetric: set[URIRef],
) -> Concept:
    pref = _text(graph, node, SKOS.prefLabel)
    alts = _literals(graph, node, SKOS.altLabel)
    # a word listed both ways is read as the stronger label
    weak = _literals(graph, node, _WEAK_LABEL) - alts - {pref}
    # Both directions are asserted in the shipped file; the union keeps a one-sided edit usable.
    broader = _uris(graph.objects(node, SKOS.broader)) | _uris(graph.subjects(SKOS.narrower, node))
    narrower = _uris(graph.objects(node, SKOS.narrower)) | _uris(graph.subjects(SKOS.broader, node))
    related = _uris(graph.objects(node, SKOS.related)) | _uris(graph.subjects(SKOS.related, node))
    relations: set[Relation] = set()
    for prop in properties:
        predicate = URIRef(prop.uri)
        relations.update(Relation(prop.uri, t) for t in _uris(graph.objects(node, predicate)))
        if predicate in symmetric:
            relations.update(Relation(prop.uri, s) for s in _uris(graph.subjects(predicate, node)))
    uri = str(node)
    return Concept(
        uri=uri,
        id=short_id(uri),
        pref_label=pref or short_id(uri),
        alt_labels=tuple(sorted(alts - {pref})),
        weak_labels=tuple(sorted(weak)),
        definition=_text(graph, node, SKOS.definition),
        broader=tuple(sorted(broader - {uri})),
        narrower=tuple(sorted(narrower - {uri})),
        related=tuple(sorted(related - {uri})),
        relations=tuple(sorted(relations, key=lambda r: (r.predicate, r.target))),
    )


def _literals(graph: Graph, node: Node, predicate: URIRef) -> set[str]:
    """The non-blank English or untagged literals of `predicate`, as written."""
    return {
        str(lit)
        for lit in graph.objects(node, predicate)
        if isinstance(lit, Literal) and lit.language in (None, _LANG) and str(lit).strip()
    }


def _text(graph: Graph, node: Node, predicate: URIRef) -> str:
    """The English (else untagged, else any) literal value of `predicate`, deterministic."""
    literals = [o for o in graph.objects(node, predicate) if isinstance(o, Literal)]
    for wanted in (_LANG, None):
        matching = sorted(str(o).strip() for o in literals if o.language == wanted)
        if matching:
            return matching[0]
    return min((str(o).strip() for o in literals), default="")


def _uri(node: Node | None) -> str | None:
    return str(node) if isinstance(node, URIRef) else None


def _uris(nodes: Iterable[Node]) -> set[str]:
    return {str(n) for n in nodes if isinstance(n, URIRef)}


def _describe(results: Graph, result: Node, data: Graph) -> str:
    focus = results.value(result, SH.focusNode)
    path = results.value(result, SH.resultPath)
    message = results.value(result, SH.resultMessage)
    value = results.value(result, SH.value)
    if message is None:
        component = results.value(result, SH.sourceConstraintComponent)
        message = Literal(f"violates {_name(component, data)}")
    where = _name(focus, data) + (f" {_name(path, data)}" if path is not None else "")
    text = f"{where}: {message}"
    if value is not None and value != focus:
        text += f" (value: {_name(value, data)})"
    return text


def _name(node: Node | None, graph: Graph) -> str:
    """A short, readable name: prefixed name where the data declares a prefix, else N3."""
    if node is None:
        return "?"
    if isinstance(node, URIRef):
        try:
            return graph.namespace_manager.normalizeUri(node)
        except Exception:  # noqa: BLE001 - naming must never hide the report
            return f"<{node}>"
    if isinstance(node, Literal):
        return str(node.n3())
    return "[]"  # a blank node, e.g. a complex SHACL path
