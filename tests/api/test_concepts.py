"""GET /concepts, /concepts/{id} (JSON and RDF), /concepts/{id}/graph."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, URIRef

BRIDGE_URI = "https://leadgraph.dev/concept/BridgeRole"


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


def every_item(client: TestClient, **params: Any) -> tuple[int, list[dict[str, Any]]]:
    """(total, items) of GET /concepts read page by page: the scheme has more than one page."""
    items: list[dict[str, Any]] = []
    while True:
        body = client.get("/concepts", params={**params, "limit": 100, "offset": len(items)}).json()
        items += body["items"]
        if not body["items"] or len(items) >= body["total"]:
            return body["total"], items


# --- lookup ------------------------------------------------------------------------------------


def test_list_without_q_returns_the_scheme_in_label_order(client: TestClient) -> None:
    total, items = every_item(client)
    labels = [item["label"] for item in items]
    assert total == len(items) > 10
    assert labels == sorted(labels, key=str.casefold)
    assert all(item["score"] == 1.0 and not item["candidate"] for item in items)
    assert set(items[0]) >= {"id", "uri", "label", "alt_labels", "definition", "score"}


def test_list_pages_with_limit_and_offset(client: TestClient) -> None:
    everything = client.get("/concepts", params={"limit": 100}).json()
    page = client.get("/concepts", params={"limit": 5, "offset": 3}).json()
    assert page["total"] == everything["total"]
    assert ids(page) == ids(everything)[3:8]
    assert client.get("/concepts").json()["items"] == everything["items"][:10]


def test_candidates_only_when_asked(client: TestClient) -> None:
    curated_total, curated = every_item(client)
    both_total, both = every_item(client, include_candidates=True)
    assert both_total > curated_total
    assert not any(item["candidate"] for item in curated)
    assert any(item["candidate"] for item in both)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Psychological Safety", "PsychologicalSafety"),
        ("psychological safety", "PsychologicalSafety"),
        ("LEADERS", "Leader"),  # case and inflection
        ("linking pin", "BridgeRole"),  # an altLabel
    ],
)
def test_lookup_exact_label_ranks_first(client: TestClient, q: str, expected: str) -> None:
    first = client.get("/concepts", params={"q": q}).json()["items"][0]
    assert first["id"] == expected
    assert first["match"] == "exact"
    assert first["score"] >= 0.95


@pytest.mark.parametrize(
    ("q", "expected"), [("bridg", "BridgeRole"), ("psych", "PsychologicalSafety")]
)
def test_lookup_autocompletes_prefixes(client: TestClient, q: str, expected: str) -> None:
    first = client.get("/concepts", params={"q": q}).json()["items"][0]
    assert (first["id"], first["match"]) == (expected, "prefix")


def test_lookup_tolerates_typos(client: TestClient) -> None:
    first = client.get("/concepts", params={"q": "leadrship"}).json()["items"][0]
    assert (first["id"], first["match"]) == ("Leadership", "fuzzy")


def test_lookup_label_plus_words_is_not_a_typo(client: TestClient) -> None:
    # the case: once "fuzzy" by a truncated comparison; now never a label match
    body = client.get("/concepts", params={"q": "leadership in hospitals"}).json()
    assert all(item["match"] == "semantic" for item in body["items"])


def test_lookup_ranks_exact_over_prefix_over_fuzzy(client: TestClient) -> None:
    body = client.get("/concepts", params={"q": "leader", "limit": 100}).json()
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    tiers = {"exact": 3, "prefix": 2, "fuzzy": 1, "semantic": 0}
    order = [tiers[item["match"]] for item in body["items"]]
    assert order == sorted(order, reverse=True)
    assert body["items"][0]["id"] == "Leader"
    assert body["total"] == len(body["items"])


def test_lookup_total_counts_beyond_the_limit(client: TestClient) -> None:
    body = client.get("/concepts", params={"q": "lead", "limit": 2}).json()
    assert len(body["items"]) == 2
    assert body["total"] > 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"q": "   "}, "q"),
    ],
)
def test_lookup_rejects_bad_parameters(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/concepts", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["detail"].startswith(field)


# --- one concept -------------------------------------------------------------------------------


def test_concept_page_has_relations_cooccurrences_and_evidence(client: TestClient) -> None:
    body = client.get("/concepts/BridgeRole").json()
    assert body["id"] == "BridgeRole"
    assert body["uri"] == BRIDGE_URI
    assert body["candidate"] is False
    assert {"id": "OrganizationalRole", "label": "organizational role"} in body["broader"]
    assert any(r["id"] == "Manager" for r in body["related"])
    bridges = [r for r in body["relations"] if r["predicate"] == "bridges"]
    assert {r["target"]["id"] for r in bridges} >= {"Leader", "Workforce"}
    assert bridges[0]["predicate_uri"].endswith("#bridges")
    npmi = [c["npmi"] for c in body["cooccurring"]]
    assert npmi == sorted(npmi, reverse=True)
    assert body["evidence"], "the corpus names the bridge role"
    scores = [e["score"] for e in body["evidence"]]
    assert scores == sorted(scores, reverse=True)


def test_concept_evidence_spans_quote_the_document(client: TestClient) -> None:
    body = client.get("/concepts/Leadership").json()
    texts: dict[str, str] = {}
    spans = 0
    for evidence in body["evidence"]:
        doc = evidence["document_id"]
        if doc not in texts:
            texts[doc] = client.get(f"/documents/{doc}").json()["text"]
        assert texts[doc][evidence["start"] : evidence["end"]] == evidence["text"]
        for m in evidence["mentions"]:
            assert texts[doc][m["start"] : m["end"]] == m["surface"]
            spans += 1
    assert spans > 0
    assert body["evidence_total"] >= len(body["evidence"])


def test_candidate_resolves_and_is_marked(client: TestClient) -> None:
    _total, listing = every_item(client, include_candidates=True)
    candidate = next(item for item in listing if item["candidate"])
    body = client.get(f"/concepts/{candidate['id']}").json()
    assert body["candidate"] is True
    assert body["label"] == candidate["label"]
    assert body["evidence"]


def test_unknown_concept_is_404(client: TestClient) -> None:
    response = client.get("/concepts/NoSuchThing")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "concept_not_found"
    assert body["detail"].startswith("no concept 'NoSuchThing'")


def test_near_miss_id_suggests_the_concept(client: TestClient) -> None:
    body = client.get("/concepts/BridgeRol").json()
    assert "BridgeRole" in body["detail"]


@pytest.mark.parametrize(
    ("media_type", "rdf_format"),
    [
        ("text/turtle", "turtle"),
        ("application/ld+json", "json-ld"),
        ("application/n-triples", "nt"),
    ],
)
def test_concept_as_rdf_by_content_negotiation(
    client: TestClient, media_type: str, rdf_format: str
) -> None:
    response = client.get("/concepts/BridgeRole", headers={"Accept": media_type})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    graph = Graph().parse(data=response.text, format=rdf_format)
    assert (URIRef(BRIDGE_URI), None, None) in graph


def test_concept_json_when_json_is_preferred(client: TestClient) -> None:
    response = client.get(
        "/concepts/BridgeRole", headers={"Accept": "text/turtle;q=0.5, application/json"}
    )
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.text)["id"] == "BridgeRole"


def test_concept_unservable_accept_is_406(client: TestClient) -> None:
    response = client.get("/concepts/BridgeRole", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.json()["error"] == "not_acceptable"


# --- neighbourhood -----------------------------------------------------------------------------


def test_graph_links_the_neighbourhood(client: TestClient) -> None:
    body = client.get("/concepts/BridgeRole/graph").json()
    nodes = {n["id"]: n for n in body["nodes"]}
    assert nodes["BridgeRole"]["kind"] == "focus"
    assert {"Leader", "Workforce", "OrganizationalRole", "Manager"} <= set(nodes)
    assert all(n["depth"] <= 1 for n in body["nodes"])
    for edge in body["edges"]:
        assert edge["source"] in nodes and edge["target"] in nodes
        assert set(edge) >= {"source", "target", "predicate", "label"}
    predicates = {e["predicate"] for e in body["edges"]}
    assert {"broader", "related", "bridges"} <= predicates
    assert any(e["kind"] == "cooccurs" and e["weight"] is not None for e in body["edges"])


def test_graph_grows_with_depth(client: TestClient) -> None:
    one = client.get("/concepts/BridgeRole/graph", params={"depth": 1}).json()
    two = client.get("/concepts/BridgeRole/graph", params={"depth": 2}).json()
    assert {n["id"] for n in one["nodes"]} < {n["id"] for n in two["nodes"]}
    assert max(n["depth"] for n in two["nodes"]) == 2


@pytest.mark.parametrize("depth", [0, 4])
def test_graph_depth_out_of_range_is_422(client: TestClient, depth: int) -> None:
    response = client.get("/concepts/BridgeRole/graph", params={"depth": depth})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("depth")


def test_graph_of_unknown_concept_is_404(client: TestClient) -> None:
    assert client.get("/concepts/Nope/graph").json()["error"] == "concept_not_found"


# --- with the real model -----------------------------------------------------------------------


@pytest.mark.model
def test_lookup_go_between_finds_bridge_role(real_client: TestClient) -> None:
    first = real_client.get("/concepts", params={"q": "go-between"}).json()["items"][0]
    assert first["id"] == "BridgeRole"


@pytest.mark.model
@pytest.mark.parametrize(
    ("q", "expected"),
    [("making choices", {"DecisionMaking"}), ("the middleman", {"Manager", "MiddleManager"})],
)
def test_lookup_by_meaning_clears_the_calibrated_threshold(
    real_client: TestClient, q: str, expected: set[str]
) -> None:
    first = real_client.get("/concepts", params={"q": q}).json()["items"][0]
    assert first["id"] in expected
    assert first["match"] == "semantic" and first["weak"] is False
    assert first["score"] < 0.5


@pytest.mark.model
@pytest.mark.parametrize("q", ["banana bread recipe", "quantum physics", "sql join syntax"])
def test_lookup_off_topic_is_an_empty_list(real_client: TestClient, q: str) -> None:
    body = real_client.get("/concepts", params={"q": q}).json()
    assert body["items"] == [] and body["total"] == 0


@pytest.mark.model
def test_lookup_label_in_a_context_is_meaning_not_typo(real_client: TestClient) -> None:
    body = real_client.get("/concepts", params={"q": "leadership in hospitals"}).json()
    assert all(item["match"] == "semantic" for item in body["items"])


@pytest.mark.model
def test_lookup_typo_with_real_model(real_client: TestClient) -> None:
    assert ids(real_client.get("/concepts", params={"q": "leadrship"}).json())[0] == "Leadership"


@pytest.mark.model
def test_lookup_off_topic_finds_nothing(real_client: TestClient) -> None:
    assert real_client.get("/concepts", params={"q": "capital of france"}).json()["total"] == 0


def test_lookup_finds_a_concept_by_its_weak_label(client: TestClient) -> None:
    # "targets" links a passage only in context (lg:weakLabel), but names Goals in a lookup
    body = client.get("/concepts", params={"q": "targets"}).json()
    assert body["items"][0]["id"] == "Goals"
    assert body["items"][0]["match"] == "exact"
    assert "targets" not in body["items"][0]["alt_labels"]  # hidden labels are not shown
