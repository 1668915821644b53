"""Concept lookup's match kinds, weak matches and candidate pointer, on a small ontology of our
own (abbreviations as altLabels, a label made of initials) and a small corpus, with the fake
embedder; GET /concepts over the same index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bench import lookup_eval
from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from leadgraph.app.services import lookup
from leadgraph.app.services.concepts import ConceptService
from leadgraph.indexer.build import build_index
from leadgraph.indexer.store import load_index
from tests.fakes import HashingEmbedder

ONTOLOGY = """\
@prefix c: <https://leadgraph.dev/concept/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .

c:scheme a skos:ConceptScheme .

c:Leadership a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "leadership"@en ; skos:altLabel "leading people"@en ;
    skos:definition "Guiding a group toward a shared direction."@en .
c:PsychologicalSafety a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "psychological safety"@en ;
    skos:definition "Team members feel free to speak up without fear."@en .
c:Trust a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "trust"@en ; skos:altLabel "trustworthiness"@en , "credibility"@en ;
    skos:definition "Confidence that others will act with integrity."@en .
c:Accountability a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "accountability"@en ;
    skos:definition "Answering for commitments and their results."@en .
c:Engagement a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "engagement"@en ; skos:altLabel "employee engagement"@en ;
    skos:definition "The energy and commitment people bring to their work."@en .
c:Controlling a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "controlling"@en ; skos:altLabel "monitoring"@en ;
    skos:definition "Checking progress against plans and correcting course."@en .
c:Goals a skos:Concept ; skos:inScheme c:scheme ; skos:narrower c:SmartGoals ;
    skos:prefLabel "goals and objectives"@en ; skos:altLabel "goals"@en , "OKR"@en , "KPI"@en ;
    skos:definition "The ends an organisation sets out to reach, and how it measures them."@en .
c:SmartGoals a skos:Concept ; skos:inScheme c:scheme ; skos:broader c:Goals ;
    skos:prefLabel "SMART goals"@en ;
    skos:definition "Goals that are specific, measurable, achievable, relevant and timed."@en .
c:EmotionalIntelligence a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "emotional intelligence"@en ; skos:altLabel "EQ"@en ;
    skos:definition "Noticing and handling one's own feelings and those of others."@en .
c:DiversityEquityInclusion a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "diversity, equity and inclusion"@en ;
    skos:definition "Fair access and a welcome for people of every background."@en .
c:OrganizationalCulture a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "organizational culture"@en ; skos:altLabel "workplace culture"@en ;
    skos:definition "Shared habits and beliefs of a workplace."@en .
c:Resilience a skos:Concept ; skos:inScheme c:scheme ;
    skos:prefLabel "resilience"@en ;
    skos:definition "Recovering quickly from setbacks, shocks and adversity."@en .
"""

DIMENSION = 1024  # few hash collisions, so cosines follow the words shared

ARTICLE = """\
---
id: notes
title: Notes on teams
kind: article
---
Mentoring helps new staff. Good mentoring takes time, and burnout follows when it does not.
Burnout is common where nobody listens. Leaders who notice burnout early keep their teams.
Trust grows where people keep their word.
"""


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lookup")
    (folder / "ontology.ttl").write_text(ONTOLOGY, encoding="utf-8")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text(ARTICLE, encoding="utf-8")
    root = folder / "index"
    build_index(
        [corpus],
        root,
        embedder=HashingEmbedder(dimension=DIMENSION),
        ontology_path=folder / "ontology.ttl",
    )
    return root


@pytest.fixture(scope="module")
def service(small_index: Path) -> ConceptService:
    return ConceptService(load_index(small_index), HashingEmbedder(dimension=DIMENSION))


@pytest.fixture(scope="module")
def small_client(small_index: Path) -> Iterator[TestClient]:
    app = create_app(Settings(index=small_index), embedder=HashingEmbedder(dimension=DIMENSION))
    with TestClient(app) as client:
        yield client


def first(service: ConceptService, q: str, **flags: bool) -> tuple[str, str] | None:
    matches = service.match(q, **flags)
    return (matches[0].entry.id, matches[0].kind) if matches else None


def lookup_body(client: TestClient, q: str, **params: Any) -> dict[str, Any]:
    response = client.get("/concepts", params={"q": q, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- match kinds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("psycological safety", "PsychologicalSafety"),
        ("trustworthyness", "Trust"),
        ("accountablity", "Accountability"),
        ("leadrship", "Leadership"),
        ("psychological safty", "PsychologicalSafety"),
        # shares its stem ("engag") with the label, but nobody writes it: a typo, not inflection
        ("employee engagment", "Engagement"),
    ],
)
def test_typos_are_fuzzy(service: ConceptService, q: str, expected: str) -> None:
    assert first(service, q) == (expected, "fuzzy")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("trust", "Trust"),
        ("Psychological Safety", "PsychologicalSafety"),
        ("credibility", "Trust"),  # an altLabel
        ("employee engagements", "Engagement"),  # a plural
        ("OKR", "Goals"),  # abbreviations through altLabels
        ("OKRs", "Goals"),
        ("KPIs", "Goals"),
        ("EQ", "EmotionalIntelligence"),
        ("DEI", "DiversityEquityInclusion"),  # the label's initials, typed as an abbreviation
        ("culture of the workplace", "OrganizationalCulture"),  # other order, link words
    ],
)
def test_same_words_and_abbreviations_are_exact(
    service: ConceptService, q: str, expected: str
) -> None:
    assert first(service, q) == (expected, "exact")


def test_initials_count_only_when_typed_as_an_abbreviation(service: ConceptService) -> None:
    assert first(service, "dei") != ("DiversityEquityInclusion", "exact")


@pytest.mark.parametrize(
    ("q", "expected"),
    [("psych", "PsychologicalSafety"), ("psych saf", "PsychologicalSafety"), ("safety", None)],
)
def test_prefixes_autocomplete(service: ConceptService, q: str, expected: str | None) -> None:
    matches = service.match(q)
    assert matches[0].kind == "prefix"
    assert matches[0].entry.id == (expected or "PsychologicalSafety")


def test_short_words_have_no_typos(service: ConceptService) -> None:
    # one edit from the altLabel "KPI", but a three-letter word is another word, not a typo
    assert not [m for m in service.match("kpo", include_weak=True) if m.kind == "fuzzy"]
    assert first(service, "trst") == ("Trust", "fuzzy")  # four letters: one edit


def test_a_word_of_the_corpus_is_not_a_typo(service: ConceptService) -> None:
    # "mentoring" is two edits from the altLabel "monitoring", but the corpus writes it
    assert not [m for m in service.match("mentoring", include_weak=True) if m.kind == "fuzzy"]
    assert first(service, "monitorng") == ("Controlling", "fuzzy")


@pytest.mark.parametrize(
    "q", ["transformational leadership", "leadership in hospitals", "trust building workshop"]
)
def test_a_label_plus_words_of_its_own_is_no_label_match(service: ConceptService, q: str) -> None:
    kinds = {m.kind for m in service.match(q, include_weak=True)}
    assert not kinds & {"exact", "prefix", "fuzzy"}


def test_a_contained_label_is_not_a_facet_of_meaning(service: ConceptService) -> None:
    # the fake embedder gives "transformational leadership" cosine 0.71 to the label
    # "leadership" alone; without that facet Leadership is not even a weak match
    ids = [m.entry.id for m in service.match("transformational leadership", include_weak=True)]
    assert "Leadership" not in ids


# --- weak matches, empty answers, candidates ---------------------------------------------------


def test_weak_meaning_matches_are_left_out_unless_asked(
    small_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one word of Resilience's definition: cosine 0.45 to it with the fake embedder
    monkeypatch.setattr(lookup, "SEMANTIC_MIN_COSINE", 0.5)
    monkeypatch.setattr(lookup, "WEAK_FLOOR_COSINE", 0.3)
    body = lookup_body(small_client, "adversity")
    assert body["items"] == [] and body["total"] == 0
    assert body["weak_omitted"] >= 1
    weak = lookup_body(small_client, "adversity", include_weak=True)
    assert weak["items"][0]["id"] == "Resilience"
    assert weak["items"][0]["match"] == "semantic" and weak["items"][0]["weak"] is True
    assert weak["total"] == len(weak["items"]) == body["weak_omitted"]
    assert weak["weak_omitted"] == 0
    strong = lookup_body(small_client, "setbacks and adversity")
    assert strong["items"][0]["id"] == "Resilience" and strong["items"][0]["weak"] is False


def test_no_fitting_concept_is_an_empty_list_pointing_to_candidates(
    small_client: TestClient,
) -> None:
    body = lookup_body(small_client, "burnout")
    assert body["items"] == [] and body["total"] == 0
    assert {"id": "burnout", "label": "burnout"} in body["candidates"]
    listed = lookup_body(small_client, "burnout", include_candidates=True)
    assert listed["items"][0]["id"] == "burnout" and listed["items"][0]["candidate"] is True
    assert listed["items"][0]["match"] == "exact"
    assert listed["candidates"] == body["candidates"]


def test_off_topic_text_is_an_empty_list(small_client: TestClient) -> None:
    body = lookup_body(small_client, "quantum chromodynamics lecture")
    assert body == {"items": [], "total": 0, "candidates": [], "weak_omitted": 0}


def test_total_counts_what_is_listed(small_client: TestClient) -> None:
    body = lookup_body(small_client, "goals", limit=1)
    everything = lookup_body(small_client, "goals", limit=100)
    assert body["total"] == everything["total"] == len(everything["items"])
    assert all(item["weak"] is False for item in everything["items"])


def test_validation_is_unchanged(small_client: TestClient) -> None:
    response = small_client.get("/concepts", params={"q": "  ", "include_weak": True})
    assert response.status_code == 422
    assert response.json() == {
        "error": "validation_error",
        "detail": "q: must not be blank; leave it out to list every concept",
    }
    bad = small_client.get("/concepts", params={"q": "trust", "include_weak": "maybe"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("include_weak")


def test_openapi_documents_the_match_kinds(small_client: TestClient) -> None:
    spec = small_client.get("/openapi.json").json()
    hit = spec["components"]["schemas"]["ConceptHit"]["properties"]
    for kind in ("`exact`", "`prefix`", "`fuzzy`", "`semantic`", "`all`"):
        assert kind in hit["match"]["description"]
    assert "typo" in hit["match"]["description"]
    assert "include_weak" in hit["weak"]["description"]
    lst = spec["components"]["schemas"]["ConceptList"]["properties"]
    assert {"items", "total", "candidates", "weak_omitted"} <= set(lst)
    operation = spec["paths"]["/concepts"]["get"]
    assert "no such concept" in operation["description"]
    assert "include_weak" in {p["name"] for p in operation["parameters"]}


# --- bench/lookup_eval.py ----------------------------------------------------------------------


def test_lookup_eval_counts_narrower_concepts_and_empty_answers(small_index: Path) -> None:
    queries = [
        {"id": "q1", "query": "SMART goals", "expected": "Goals"},  # narrower: right
        {"id": "q2", "query": "goals", "expected": "SmartGoals"},  # broader: wrong
        {"id": "q3", "query": "quantum chromodynamics", "expected": "none"},
        {"id": "q4", "query": "trust", "expected": "none"},
    ]
    totals = lookup_eval.evaluate(small_index, queries, embedder=HashingEmbedder(DIMENSION))
    assert (totals["queries"], totals["right"], totals["wrong"]) == (4, 2, 2)
    assert (totals["expected_none"], totals["none_right"]) == (2, 1)
    assert totals["overrides_applied"] == 0


def test_lookup_eval_overrides_apply_only_to_concepts_of_the_index(small_index: Path) -> None:
    # the development set's "EQ" was written as none; this ontology models it
    queries = [
        {"id": "c03", "query": "EQ", "expected": "none"},
        {"id": "c27", "query": "burnout", "expected": "none"},  # no Burnout concept here
    ]
    totals = lookup_eval.evaluate(small_index, queries, embedder=HashingEmbedder(DIMENSION))
    assert (totals["right"], totals["right_with_overrides"]) == (1, 2)
    assert totals["overrides_applied"] == 1


def test_lookup_eval_sweep_and_best_threshold(service: ConceptService) -> None:
    queries = [{"query": "setbacks and adversity", "expected": "Resilience"}]
    table = lookup_eval.sweep(service, queries, [0.3, 0.5, 0.6, 0.7])
    assert table == [(0.3, 1), (0.5, 1), (0.6, 1), (0.7, 0)]  # its cosine is 0.63
    assert lookup_eval.best_threshold(table) == 0.5
