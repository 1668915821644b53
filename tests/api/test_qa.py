"""POST /ask: extractive answers cited exactly, abstention, validation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

BRIDGE_QUESTION = "Who is the bridge between leaders and the workforce?"
BRIDGE_SENTENCE = (
    "In essence, managers provide the bridge between leaders and the rest of the workforce."
)


def assert_cited_exactly(client: TestClient, body: dict[str, Any]) -> None:
    for citation in body["citations"]:
        text = client.get(f"/documents/{citation['document_id']}").json()["text"]
        assert text[citation["start"] : citation["end"]] == citation["quote"]
        assert citation["passage_id"].startswith(citation["document_id"] + ":")
    if body["abstained"]:
        assert body["answer"] is None and body["citations"] == []
    else:
        assert body["answer"] == " ".join(c["quote"] for c in body["citations"])


def test_ask_answers_with_the_sentence(client: TestClient) -> None:
    body = client.post("/ask", json={"question": BRIDGE_QUESTION}).json()
    assert body["abstained"] is False
    assert body["citations"][0]["quote"] == BRIDGE_SENTENCE
    assert 1 <= len(body["citations"]) <= 3
    assert 0.5 <= body["confidence"] <= 1.0
    assert_cited_exactly(client, body)


def test_ask_lists_the_question_concepts_with_definitions(client: TestClient) -> None:
    body = client.post("/ask", json={"question": BRIDGE_QUESTION, "k": 3}).json()
    concepts = {c["id"]: c for c in body["concepts"]}
    assert "BridgeRole" in concepts  # "bridge between leaders and the workforce"
    assert all(c["definition"] for c in concepts.values())


@pytest.mark.parametrize(
    "question",
    [
        "What does management do?",
        "Why is trust important?",
        "How does strategic alignment help the organization?",
    ],
)
def test_every_citation_is_an_exact_quote(client: TestClient, question: str) -> None:
    body = client.post("/ask", json={"question": question, "k": 5}).json()
    assert_cited_exactly(client, body)
    quotes = [c["quote"] for c in body["citations"]]
    assert len(quotes) == len(set(quotes))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "why? " * 300}, "question"),
        ({"question": BRIDGE_QUESTION, "k": 0}, "k"),
        ({"question": BRIDGE_QUESTION, "k": 101}, "k"),
        ({"question": 42}, "question"),
        ({}, "question"),
    ],
)
def test_ask_rejects_bad_input(client: TestClient, payload: dict[str, Any], field: str) -> None:
    response = client.post("/ask", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["detail"].startswith(field)


@pytest.mark.model
def test_real_model_answers_the_bridge_question(real_client: TestClient) -> None:
    body = real_client.post("/ask", json={"question": BRIDGE_QUESTION}).json()
    assert body["abstained"] is False
    assert BRIDGE_SENTENCE in body["answer"]
    assert body["citations"][0]["quote"] == BRIDGE_SENTENCE
    assert_cited_exactly(real_client, body)
    assert "BridgeRole" in {c["id"] for c in body["concepts"]}


@pytest.mark.model
@pytest.mark.parametrize(
    "question", ["What is the capital of France?", "How do I bake sourdough bread?"]
)
def test_real_model_abstains_off_topic(real_client: TestClient, question: str) -> None:
    body = real_client.post("/ask", json={"question": question}).json()
    assert body["abstained"] is True
    assert body["answer"] is None
    assert body["citations"] == []
    assert body["confidence"] < 0.5
