"""GET /search: hybrid, dense and lexical; filters; validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from leadgraph.app.config import Settings
from leadgraph.app.deps import Services
from leadgraph.app.schemas import SearchMode
from leadgraph.app.services.concepts import passage_concepts
from leadgraph.app.services.search import DENSE_WEIGHT
from leadgraph.app.state import load_resources
from tests.fakes import HashingEmbedder

QUERY = "bridge between leaders and the workforce"
BRIDGE_PASSAGE = "organizational-leadership-and-management:p3"


def test_hybrid_search_finds_the_passage(client: TestClient) -> None:
    body = client.get("/search", params={"q": QUERY, "k": 5}).json()
    assert body["mode"] == "hybrid"
    assert body["query"] == QUERY
    hits = body["hits"]
    assert 0 < len(hits) <= 5
    assert hits[0]["passage_id"] == BRIDGE_PASSAGE
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    first = hits[0]
    assert set(first) >= {
        "passage_id",
        "document_id",
        "document_title",
        "text",
        "score",
        "concepts",
        "start",
        "end",
    }
    assert {"id": "BridgeRole", "label": "bridge role"} in first["concepts"]
    assert first["dense_score"] is not None and first["lexical_score"] is not None


def test_hits_quote_their_document(client: TestClient) -> None:
    for hit in client.get("/search", params={"q": QUERY}).json()["hits"]:
        text = client.get(f"/documents/{hit['document_id']}").json()["text"]
        assert text[hit["start"] : hit["end"]] == hit["text"]


def test_query_concepts_are_reported(client: TestClient) -> None:
    body = client.get("/search", params={"q": "the bridge role of managers"}).json()
    found = {c["id"]: c for c in body["query_concepts"]}
    assert found["BridgeRole"]["method"] == "lexical"


@pytest.mark.parametrize("mode", ["dense", "lexical"])
def test_single_retriever_modes(client: TestClient, mode: str) -> None:
    body = client.get("/search", params={"q": QUERY, "mode": mode, "k": 3}).json()
    assert body["mode"] == mode
    assert body["hits"][0]["passage_id"] == BRIDGE_PASSAGE
    assert len(body["hits"]) <= 3
    assert all(h["score"] > 0 for h in body["hits"])


def test_lexical_mode_returns_only_matching_passages(client: TestClient) -> None:
    body = client.get("/search", params={"q": "zeppelin", "mode": "lexical"}).json()
    assert body["hits"] == []


def test_search_filters_by_concept(client: TestClient) -> None:
    body = client.get("/search", params={"q": "vision", "concept": "Trust", "k": 20}).json()
    assert body["hits"]
    for hit in body["hits"]:
        assert "Trust" in {c["id"] for c in hit["concepts"]}


def test_search_filters_by_document(client: TestClient) -> None:
    doc = "synergy-of-success"
    body = client.get("/search", params={"q": QUERY, "document": doc, "k": 50}).json()
    assert body["hits"]
    assert {h["document_id"] for h in body["hits"]} == {doc}


def test_search_filters_combine(client: TestClient) -> None:
    params = {"q": QUERY, "concept": "BridgeRole", "document": "synergy-of-success"}
    for hit in client.get("/search", params=params).json()["hits"]:
        assert hit["document_id"] == "synergy-of-success"


def test_search_unknown_concept_is_404(client: TestClient) -> None:
    response = client.get("/search", params={"q": QUERY, "concept": "Nope"})
    assert response.status_code == 404
    assert response.json()["error"] == "concept_not_found"


def test_search_unknown_document_is_404(client: TestClient) -> None:
    response = client.get("/search", params={"q": QUERY, "document": "nope"})
    assert response.status_code == 404
    assert response.json()["error"] == "document_not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": QUERY, "k": 0}, "k"),
        ({"q": QUERY, "k": 101}, "k"),
        ({"q": QUERY, "k": "many"}, "k"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 1001}, "q"),
        ({"q": QUERY, "mode": "fuzzy"}, "mode"),
        ({}, "q"),
    ],
)
def test_search_rejects_bad_parameters(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/search", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["detail"].startswith(field)


def test_search_accepts_the_longest_query(client: TestClient) -> None:
    assert client.get("/search", params={"q": "leadership " * 90}).status_code == 200


@pytest.mark.model
def test_hybrid_finds_the_why_passage(real_client: TestClient) -> None:
    body = real_client.get("/search", params={"q": "why does the organization exist"}).json()
    top = body["hits"][:3]
    assert any(
        h["document_id"] == "leadership-vs-management-power-duo"
        and "“why" in h["text"]
        and "“how" in h["text"]
        for h in top
    ), [h["passage_id"] for h in top]


@pytest.mark.model
def test_real_model_search_ranks_the_bridge_passage_first(real_client: TestClient) -> None:
    for mode in ("hybrid", "dense", "lexical"):
        body = real_client.get("/search", params={"q": QUERY, "mode": mode}).json()
        assert body["hits"][0]["passage_id"] == BRIDGE_PASSAGE, mode


def test_hybrid_ranks_the_union_of_both_proposals_by_exact_scores(api_index: Path) -> None:
    search = Services.build(load_resources(Settings(index=api_index), HashingEmbedder())).search
    index = search.index
    vector = search.embed(QUERY)
    depth = 4
    cosines = np.asarray(index.passage_vectors.vectors) @ vector
    bm25 = index.lexical.scores(QUERY)
    dense = set(np.argsort(-cosines, kind="stable")[:depth].tolist())
    lexical = {int(r) for r in np.argsort(-bm25, kind="stable")[:depth] if bm25[r] > 0}
    assert lexical - dense and dense - lexical  # each retriever proposes a row the other misses
    union = sorted(dense | lexical)
    dense_part = np.maximum(cosines[union], 0) / max(cosines[union].max(), 1e-9)
    lexical_part = bm25[union] / bm25[union].max()
    fused = DENSE_WEIGHT * dense_part + (1 - DENSE_WEIGHT) * lexical_part
    expected = [union[i] for i in np.argsort(-fused, kind="stable")[:depth]]

    ranked = search.rank(QUERY, depth, SearchMode.hybrid, depth=depth, concept_boost=0.0)
    rows = [index.passage_rows[r.passage_id] for r in ranked]
    assert rows == expected
    for r, row in zip(ranked, rows, strict=True):  # one retriever's row has the other's score
        assert r.dense == pytest.approx(float(cosines[row]), abs=1e-6)
        assert r.lexical == pytest.approx(float(bm25[row]), abs=1e-6)


def test_hit_concepts_are_kept_made_but_each_hit_has_its_own_list(api_index: Path) -> None:
    search = Services.build(load_resources(Settings(index=api_index), HashingEmbedder())).search
    first = search.search(QUERY, k=3, mode=SearchMode.hybrid).hits[0]
    assert first.passage_id == BRIDGE_PASSAGE
    assert first.concepts == passage_concepts(search.index, BRIDGE_PASSAGE)
    first.concepts.clear()  # a caller changing its response changes no later one
    again = search.search(QUERY, k=3, mode=SearchMode.hybrid).hits[0]
    assert again.concepts == passage_concepts(search.index, BRIDGE_PASSAGE) != []
