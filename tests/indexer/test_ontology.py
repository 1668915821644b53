from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import OWL, RDF, RDFS, SKOS, Literal, URIRef

from leadgraph.indexer.errors import OntologyError
from leadgraph.indexer.models import Concept, Relation
from leadgraph.indexer.namespaces import LG, SCHEME, concept_uri
from leadgraph.indexer.ontology import (
    DEFAULT_ONTOLOGY,
    DEFAULT_SHAPES,
    Ontology,
    ValidationReport,
    load_ontology,
    validate_ontology,
)

REQUIRED_IDS = """
    Leadership Management Vision Purpose Execution StrategicAlignment Trust Influence BridgeRole
    PsychologicalSafety Accountability Planning Organizing Controlling ResourceAllocation
    Communication Flexibility CollaborativeCulture LeadershipMindset ContinuousImprovement
    Empowerment Motivation Innovation Mission OrganizationalCulture Resilience Engagement
    Leader Manager Workforce RoleDuality LeadershipWithoutManagement ManagementWithoutLeadership
""".split()

# Concepts of the field beyond the first three articles: styles, feedback, change models, ...
FIELD_IDS = """
    LeadershipStyle TransformationalLeadership TransactionalLeadership SituationalLeadership
    ServantLeadership AuthenticLeadership DemocraticLeadership AutocraticLeadership
    LaissezFaireLeadership Delegation Feedback Coaching Mentoring EmotionalIntelligence
    ChangeManagement KotterModel ADKAR LewinModel ResistanceToChange OKR KPI SMARTGoals
    CognitiveBias ConflictManagement ThomasKilmannModel RemoteWork HybridWork TuckmanModel
    Burnout ActiveListening Empathy PerformanceManagement PerformanceReview EmployeeRecognition
    IntrinsicMotivation DiversityEquityInclusion SuccessionPlanning Onboarding ScheinModel
    OneOnOneMeeting MiddleManager Integrity Humility SelfAwareness Vulnerability
    DifficultConversations Transparency
""".split()

PROPERTY_NAMES = (
    "provides operationalizes complements bridges dependsOn enables answersQuestion "
    "mitigates undermines causes hasStage precedes"
)

# Everyday words that name a concept only in context: weak labels, never alt labels.
MOVED_TO_WEAK = {
    "OrganizationalSuccess": {"success", "results", "outcomes"},
    "Values": {"values", "principles"},
    "OrganizationalDirection": {"direction"},
    "Structure": {"structure", "processes", "systems"},
    "OrganizationalRole": {"roles", "position"},
    "Purpose": {"meaning"},
    "Engagement": {"commitment"},
    "Motivation": {"passion"},
}

PREFIXES = """\
@prefix c:    <https://leadgraph.dev/concept/> .
@prefix lg:   <https://leadgraph.dev/ontology#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix owl:  <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""

# A minimal ontology that conforms; the broken variants below each add one fault to it.
VALID_SMALL = (
    PREFIXES
    + """
c:scheme a skos:ConceptScheme ;
    <http://purl.org/dc/terms/title> "t"@en ;
    <http://purl.org/dc/terms/description> "d"@en ;
    <http://purl.org/dc/terms/created> "2025-01-01"^^<http://www.w3.org/2001/XMLSchema#date> ;
    <http://purl.org/dc/terms/license> <https://creativecommons.org/licenses/by/4.0/> ;
    skos:hasTopConcept c:Leadership .
lg:Role a owl:Class ; rdfs:subClassOf skos:Concept .
lg:bridges a owl:ObjectProperty ; rdfs:label "bridges"@en ; rdfs:comment "x"@en ;
    rdfs:domain lg:Role ; rdfs:range lg:Role ; lg:cueWord "bridge" .
c:Leadership a skos:Concept ; skos:prefLabel "leadership"@en ; skos:definition "d"@en ;
    skos:inScheme c:scheme ; skos:topConceptOf c:scheme ;
    skos:narrower c:Leader , c:Vision .
c:Vision a skos:Concept ; skos:prefLabel "vision"@en ; skos:definition "d"@en ;
    skos:inScheme c:scheme ; skos:broader c:Leadership .
c:Leader a skos:Concept , lg:Role ; skos:prefLabel "leader"@en ; skos:definition "d"@en ;
    skos:inScheme c:scheme ; skos:broader c:Leadership .
"""
)


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return load_ontology(DEFAULT_ONTOLOGY)


@pytest.fixture(scope="module")
def shipped_report() -> ValidationReport:
    return validate_ontology(DEFAULT_ONTOLOGY, DEFAULT_SHAPES)


def _validate(tmp_path: Path, turtle: str) -> ValidationReport:
    path = tmp_path / "broken.ttl"
    path.write_text(turtle, encoding="utf-8")
    return validate_ontology(path, DEFAULT_SHAPES)


def short(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def _relation(ontology: Ontology, subject: str, predicate: str, target: str) -> bool:
    return Relation(str(LG[predicate]), concept_uri(target)) in ontology.by_id(subject).relations


# --- the shipped ontology -------------------------------------------------------------------


def test_default_paths_point_at_the_repo_ontology_folder() -> None:
    assert DEFAULT_ONTOLOGY.is_file() and DEFAULT_ONTOLOGY.name == "leadership.ttl"
    assert DEFAULT_SHAPES.is_file() and DEFAULT_SHAPES.parent == DEFAULT_ONTOLOGY.parent


def test_shipped_ontology_has_at_least_150_concepts_including_the_required_ones(
    ontology: Ontology,
) -> None:
    ids = {c.id for c in ontology.concepts}
    assert len(ontology.concepts) >= 150
    assert set(REQUIRED_IDS) <= ids
    assert set(FIELD_IDS) <= ids


def test_concepts_are_sorted_by_pref_label(ontology: Ontology) -> None:
    labels = [c.pref_label.casefold() for c in ontology.concepts]
    assert labels == sorted(labels)


def test_every_concept_has_one_english_pref_label_a_definition_and_the_scheme(
    ontology: Ontology,
) -> None:
    g = ontology.graph
    for c in ontology.concepts:
        prefs = list(g.objects(URIRef(c.uri), SKOS.prefLabel))
        assert len(prefs) == 1, c.id
        assert isinstance(prefs[0], Literal) and prefs[0].language == "en", c.id
        assert c.definition.strip(), c.id
        assert (URIRef(c.uri), SKOS.inScheme, SCHEME) in g, c.id
        assert c.uri == concept_uri(c.id)


def test_no_label_names_two_concepts(ontology: Ontology) -> None:
    owner: dict[str, str] = {}
    for c in ontology.concepts:
        for label in c.labels:
            key = label.casefold()
            assert owner.setdefault(key, c.id) == c.id, f"{label!r}: {owner[key]} and {c.id}"


def _labels(ontology: Ontology, predicate: URIRef) -> dict[str, set[str]]:
    """Concept id -> its English literals of `predicate`, read from the graph."""
    out: dict[str, set[str]] = {}
    for c in ontology.concepts:
        out[c.id] = {
            str(o)
            for o in ontology.graph.objects(URIRef(c.uri), predicate)
            if isinstance(o, Literal) and o.language == "en"
        }
    return out


def test_every_concept_has_a_definition_of_its_own(ontology: Ontology) -> None:
    definitions = [c.definition.strip() for c in ontology.concepts]
    assert all(len(d.split()) >= 6 for d in definitions)
    assert len(set(definitions)) == len(definitions)


def test_pref_alt_and_weak_labels_name_one_concept_each(ontology: Ontology) -> None:
    weak = _labels(ontology, LG.weakLabel)
    owner: dict[str, str] = {}
    for c in ontology.concepts:
        for label in (*c.labels, *weak[c.id]):
            key = label.casefold()
            assert owner.setdefault(key, c.id) == c.id, f"{label!r}: {owner[key]} and {c.id}"


def test_generic_words_are_weak_labels_not_alt_labels(ontology: Ontology) -> None:
    weak = _labels(ontology, LG.weakLabel)
    for concept_id, words in MOVED_TO_WEAK.items():
        assert words <= weak[concept_id], concept_id
        assert not words & {a.casefold() for a in ontology.by_id(concept_id).alt_labels}
    assert ontology.by_id("Values").pref_label == "core values"
    # specific labels of the same concepts stay ordinary labels
    assert "extraordinary results" in ontology.by_id("OrganizationalSuccess").alt_labels
    assert "sense of direction" in ontology.by_id("OrganizationalDirection").alt_labels


def test_weak_label_property_is_declared_as_a_hidden_label(ontology: Ontology) -> None:
    g = ontology.graph
    assert (LG.weakLabel, RDF.type, OWL.AnnotationProperty) in g
    assert (LG.weakLabel, RDFS.subPropertyOf, SKOS.hiddenLabel) in g
    definition = str(g.value(LG.weakLabel, SKOS.definition))
    assert "only where the same passage also names the concept" in definition
    assert "by its preferred label or by an alternative label of several words" in definition


def test_more_specific_concepts_took_labels_and_sit_below_the_old_owner(
    ontology: Ontology,
) -> None:
    moves = {  # label -> (new concept, the concept that used to carry it)
        "delegation": ("Delegation", "Empowerment"),
        "autonomy": ("Autonomy", "Empowerment"),
        "intrinsic motivation": ("IntrinsicMotivation", "Motivation"),
        "middle manager": ("MiddleManager", "Manager"),
    }
    for label, (new, old) in moves.items():
        assert label in {lab.casefold() for lab in ontology.by_id(new).labels}, label
        assert concept_uri(old) in ontology.by_id(new).broader, new
    assert concept_uri("Goals") in ontology.by_id("OKR").broader
    assert concept_uri("Goals") in ontology.by_id("KPI").broader
    assert {"OKR", "objectives and key results"} <= set(ontology.by_id("OKR").labels)
    assert {"KPI", "EQ", "DEI"} <= {
        label
        for cid in ("KPI", "EmotionalIntelligence", "DiversityEquityInclusion")
        for label in ontology.by_id(cid).alt_labels
    }


def test_labels_the_development_set_looks_up_are_kept(ontology: Ontology) -> None:
    kept = {
        "Goals": {"objectives", "targets"},
        "Trust": {"trustworthiness", "credibility"},
        "Engagement": {"employee engagement"},
        "ResourceAllocation": {"resource management"},
        "Strategy": {"strategic plan"},
        "RoleModeling": {"leading by example", "walking the talk"},
        "StrategicAlignment": {"aligned goals"},
        "OrganizationalCulture": {"culture", "workplace culture"},
        "Mission": {"mission statement"},
        "DecisionMaking": {"judgement"},
        "Collaboration": {"teamwork"},
        "ContinuousImprovement": {"kaizen"},
        "Flexibility": {"agility"},
        "Controlling": {"oversight"},
    }
    for concept_id, labels in kept.items():
        concept = ontology.by_id(concept_id)
        # lookup finds a concept by an altLabel or a weakLabel alike
        assert labels <= {*concept.alt_labels, *concept.weak_labels}, concept_id


def test_hierarchy_has_no_cycle_and_every_concept_reaches_a_top_concept(
    ontology: Ontology,
) -> None:
    tops = {str(t) for t in ontology.graph.objects(SCHEME, SKOS.hasTopConcept)}
    assert tops == {str(s) for s in ontology.graph.subjects(SKOS.topConceptOf, SCHEME)}
    by_uri = {c.uri: c for c in ontology.concepts}
    for c in ontology.concepts:
        ancestors = _ancestors(by_uri, c.uri)
        assert c.uri not in ancestors, f"{c.id} is its own ancestor"
        assert c.uri in tops or ancestors & tops, f"{c.id} reaches no top concept"
    for c in ontology.concepts:  # SKOS: related is disjoint with the transitive hierarchy
        for other in c.related:
            assert other not in _ancestors(by_uri, c.uri), f"{c.id} related to its ancestor"
            assert c.uri not in _ancestors(by_uri, other), f"{c.id} related to a descendant"


def _ancestors(by_uri: dict[str, Concept], uri: str) -> set[str]:
    out: set[str] = set()
    frontier = list(by_uri[uri].broader)
    while frontier:
        parent = frontier.pop()
        if parent not in out:
            out.add(parent)
            frontier.extend(by_uri[parent].broader)
    return out


def test_leadership_styles_sit_under_leadership_style(ontology: Ontology) -> None:
    style = concept_uri("LeadershipStyle")
    for cid in (
        "TransformationalLeadership TransactionalLeadership SituationalLeadership "
        "ServantLeadership AuthenticLeadership DemocraticLeadership AutocraticLeadership "
        "LaissezFaireLeadership"
    ).split():
        assert style in ontology.by_id(cid).broader, cid
    assert ontology.by_id("LeadershipStyle").broader == (concept_uri("Leadership"),)
    stages = {"Forming", "Storming", "Norming", "Performing", "Adjourning"}
    assert {short(u) for u in ontology.by_id("TuckmanModel").narrower} == stages
    assert _relation(ontology, "Forming", "precedes", "Storming")
    assert _relation(ontology, "LewinModel", "hasStage", "Refreezing")
    change = concept_uri("ChangeManagement")
    for cid in ("KotterModel", "ADKAR", "LewinModel", "ResistanceToChange"):
        assert change in ontology.by_id(cid).broader, cid


def test_alt_labels_carry_synonyms(ontology: Ontology) -> None:
    assert {"adaptability", "agility"} <= set(ontology.by_id("Flexibility").alt_labels)
    assert {"the why", "sense of purpose", "shared purpose"} <= set(
        ontology.by_id("Purpose").alt_labels
    )
    assert {"the how", "implementation"} <= set(ontology.by_id("Execution").alt_labels)
    assert "linking pin" in ontology.by_id("BridgeRole").alt_labels


def test_words_reserved_for_the_semantic_fallback_are_no_labels(ontology: Ontology) -> None:
    labels = {label.casefold() for c in ontology.concepts for label in c.labels}
    assert not any("bouncing back" in label for label in labels)


def test_go_between_is_a_curated_synonym_of_bridge_role(ontology: Ontology) -> None:
    # all-MiniLM-L6-v2 places "go-between" at cosine 0.17 from "bridge role" and 0.46 from
    # "direction": no embedding of the concept finds it, so curators name it outright
    assert "go-between" in ontology.by_id("BridgeRole").alt_labels


def test_hierarchy_is_declared_in_both_directions(ontology: Ontology) -> None:
    g = ontology.graph
    for c in ontology.concepts:
        node = URIRef(c.uri)
        for parent in g.objects(node, SKOS.broader):
            assert (parent, SKOS.narrower, node) in g, f"{c.id} broader {parent}"
        for child in g.objects(node, SKOS.narrower):
            assert (child, SKOS.broader, node) in g, f"{c.id} narrower {child}"
    assert concept_uri("Vision") in ontology.by_id("Leadership").narrower
    assert ontology.by_id("Planning").broader == (concept_uri("Management"),)


def test_typed_relations_state_what_the_corpus_says(ontology: Ontology) -> None:
    assert _relation(ontology, "Leadership", "provides", "Vision")
    assert _relation(ontology, "Leadership", "provides", "Purpose")
    assert _relation(ontology, "Management", "operationalizes", "Vision")
    assert _relation(ontology, "Leadership", "complements", "Management")
    assert _relation(ontology, "Manager", "bridges", "Workforce")
    assert _relation(ontology, "Manager", "bridges", "Leader")
    assert _relation(ontology, "PsychologicalSafety", "enables", "Innovation")
    assert _relation(ontology, "Leadership", "answersQuestion", "Purpose")
    assert _relation(ontology, "Management", "answersQuestion", "Execution")
    assert _relation(ontology, "StrategicAlignment", "dependsOn", "Communication")
    total = sum(len(c.relations) for c in ontology.concepts)
    assert total >= 25


def test_symmetric_relations_are_seen_from_both_ends(ontology: Ontology) -> None:
    assert _relation(ontology, "Management", "complements", "Leadership")


def test_relation_targets_are_concepts_of_the_ontology(ontology: Ontology) -> None:
    props = {p.uri for p in ontology.properties}
    for c in ontology.concepts:
        for r in c.relations:
            assert r.predicate in props
            ontology.concept(r.target)  # raises if unknown


def test_properties_have_label_definition_domain_range_and_cue_words(ontology: Ontology) -> None:
    by_uri = {p.uri: p for p in ontology.properties}
    for name in PROPERTY_NAMES.split():
        assert str(LG[name]) in by_uri, name
    for p in ontology.properties:
        assert p.label and p.definition and p.domain and p.range, p.uri
        assert p.cue_words and all(w == w.lower() for w in p.cue_words), p.uri
    assert "provide" in by_uri[str(LG.provides)].cue_words
    assert "translate" in by_uri[str(LG.operationalizes)].cue_words
    assert by_uri[str(LG.bridges)].domain == str(LG.Role)
    assert by_uri[str(LG.provides)].inverse == str(LG.isProvidedBy)
    assert by_uri[str(LG.complements)].inverse == str(LG.complements)
    assert (LG.cueWord, RDF.type, OWL.AnnotationProperty) in ontology.graph


def test_every_object_property_has_a_domain_and_range_shape(ontology: Ontology) -> None:
    from rdflib import Graph
    from rdflib.namespace import SH

    shapes = Graph().parse(DEFAULT_SHAPES, format="turtle")
    targeted = {str(o) for o in shapes.objects(None, SH.targetSubjectsOf)}
    assert {p.uri for p in ontology.properties} <= targeted


def test_lookup_of_unknown_concept_raises_ontology_error(ontology: Ontology) -> None:
    assert ontology.by_id("Trust").uri == concept_uri("Trust")
    assert ontology.concept(concept_uri("Trust")).pref_label == "trust"
    with pytest.raises(OntologyError, match="NoSuchThing"):
        ontology.by_id("NoSuchThing")
    with pytest.raises(OntologyError, match="NoSuchThing"):
        ontology.concept(concept_uri("NoSuchThing"))


def test_shipped_ontology_conforms_to_its_shapes(shipped_report: ValidationReport) -> None:
    assert shipped_report.conforms, "\n".join(shipped_report.messages)
    assert shipped_report.messages == ()


# --- broken ontologies ----------------------------------------------------------------------


def test_small_valid_ontology_conforms(tmp_path: Path) -> None:
    report = _validate(tmp_path, VALID_SMALL)
    assert report.conforms, report.messages


def test_concept_without_definition_fails_validation(tmp_path: Path) -> None:
    report = _validate(
        tmp_path,
        VALID_SMALL.replace(
            'c:Vision a skos:Concept ; skos:prefLabel "vision"@en ; skos:definition "d"@en ;',
            'c:Vision a skos:Concept ; skos:prefLabel "vision"@en ;',
        ),
    )
    assert not report.conforms
    assert any("c:Vision" in m and "definition" in m for m in report.messages), report.messages


def test_two_english_pref_labels_fail_validation(tmp_path: Path) -> None:
    report = _validate(tmp_path, VALID_SMALL + 'c:Vision skos:prefLabel "big picture"@en .\n')
    assert not report.conforms
    assert any(
        "c:Vision" in m and "skos:prefLabel" in m and "one skos:prefLabel per language" in m
        for m in report.messages
    ), report.messages


def test_alt_label_without_language_fails_validation(tmp_path: Path) -> None:
    report = _validate(tmp_path, VALID_SMALL + 'c:Vision skos:altLabel "north star" .\n')
    assert not report.conforms
    assert any(
        "c:Vision" in m and "skos:altLabel" in m and "language-tagged" in m for m in report.messages
    ), report.messages


def test_alt_label_equal_to_pref_label_fails_validation(tmp_path: Path) -> None:
    report = _validate(tmp_path, VALID_SMALL + 'c:Vision skos:altLabel "vision"@en .\n')
    assert any("must differ from the skos:prefLabel" in m for m in report.messages)


def test_weak_label_without_language_fails_validation(tmp_path: Path) -> None:
    report = _validate(tmp_path, VALID_SMALL + 'c:Vision lg:weakLabel "picture" .\n')
    assert not report.conforms
    assert any(
        "c:Vision" in m and "lg:weakLabel" in m and "language-tagged" in m for m in report.messages
    ), report.messages


def test_weak_label_equal_to_an_alt_label_fails_validation(tmp_path: Path) -> None:
    report = _validate(
        tmp_path,
        VALID_SMALL + 'c:Vision skos:altLabel "picture"@en ; lg:weakLabel "picture"@en .\n',
    )
    assert any("both an lg:weakLabel and a skos:altLabel" in m for m in report.messages)


@pytest.mark.parametrize(
    "extra",
    [
        'c:Leader skos:altLabel "vision"@en .',  # an alt label equal to another's pref label
        'c:Leader lg:weakLabel "Vision"@en .',  # a weak one, in another case
        'c:Leader skos:altLabel "Big Picture"@en . c:Vision lg:weakLabel "big picture"@en .',
    ],
)
def test_label_naming_two_concepts_fails_validation(tmp_path: Path, extra: str) -> None:
    report = _validate(tmp_path, VALID_SMALL + extra + "\n")
    assert not report.conforms
    assert any("c:Leader" in m and "names another concept too" in m for m in report.messages), (
        report.messages
    )


def test_relation_object_outside_the_range_fails_validation(tmp_path: Path) -> None:
    report = _validate(tmp_path, VALID_SMALL + "c:Leader lg:bridges c:Vision .\n")
    assert not report.conforms
    assert any(
        "c:Leader" in m and "lg:bridges" in m and "range" in m and "c:Vision" in m
        for m in report.messages
    ), report.messages


def test_relation_subject_outside_the_domain_fails_validation(tmp_path: Path) -> None:
    report = _validate(tmp_path, VALID_SMALL + "c:Vision lg:bridges c:Leader .\n")
    assert any("c:Vision" in m and "domain" in m for m in report.messages), report.messages


def test_concept_broader_than_itself_fails_validation(tmp_path: Path) -> None:
    report = _validate(tmp_path, VALID_SMALL + "c:Vision skos:broader c:Vision .\n")
    assert any("c:Vision" in m and "its own skos:broader" in m for m in report.messages)


def test_one_sided_hierarchy_fails_validation(tmp_path: Path) -> None:
    report = _validate(tmp_path, VALID_SMALL.replace("c:Leader , c:Vision", "c:Leader"))
    assert any("c:Vision skos:broader" in m and "both be declared" in m for m in report.messages), (
        report.messages
    )


# --- files that cannot be loaded ------------------------------------------------------------


def test_turtle_syntax_error_raises_ontology_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.ttl"
    path.write_text(PREFIXES + "\nc:Vision a skos:Concept ;; skos:prefLabel .\n", encoding="utf-8")
    with pytest.raises(OntologyError, match=r"bad\.ttl:\d+: Turtle syntax error"):
        load_ontology(path)
    with pytest.raises(OntologyError, match=r"bad\.ttl"):
        validate_ontology(path, DEFAULT_SHAPES)


def test_missing_file_raises_ontology_error(tmp_path: Path) -> None:
    with pytest.raises(OntologyError, match=r"nope\.ttl: ontology file not found"):
        load_ontology(tmp_path / "nope.ttl")
    with pytest.raises(OntologyError, match=r"nope\.ttl: shapes file not found"):
        validate_ontology(DEFAULT_ONTOLOGY, tmp_path / "nope.ttl")


def test_file_without_concepts_raises_ontology_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.ttl"
    path.write_text(PREFIXES, encoding="utf-8")
    with pytest.raises(OntologyError, match=r"empty\.ttl: no skos:Concept"):
        load_ontology(path)


def test_duplicate_short_ids_raise_ontology_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.ttl"
    path.write_text(
        VALID_SMALL + '<https://example.org/x/Vision> a skos:Concept ; skos:prefLabel "v"@en .\n',
        encoding="utf-8",
    )
    with pytest.raises(OntologyError, match="short id 'Vision'"):
        load_ontology(path)


def test_small_ontology_loads_with_lenient_defaults(tmp_path: Path) -> None:
    path = tmp_path / "small.ttl"
    path.write_text(VALID_SMALL + "c:Leader lg:bridges c:Leader .\n", encoding="utf-8")
    loaded = load_ontology(path)
    assert [c.id for c in loaded.concepts] == ["Leader", "Leadership", "Vision"]
    assert loaded.by_id("Vision").broader == (concept_uri("Leadership"),)
    assert loaded.by_id("Leader").relations == (Relation(str(LG.bridges), concept_uri("Leader")),)
    assert [p.label for p in loaded.properties] == ["bridges"]
