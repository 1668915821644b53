"""POST /context: a grounding bundle whose numbered sources quote the corpus exactly, within the
token budget."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadgraph.app.config import Settings
from leadgraph.app.deps import Services
from leadgraph.app.services.context import ContextService
from leadgraph.app.state import load_resources
from tests.fakes import HashingEmbedder

BRIDGE_QUESTION = "Who is the bridge between leaders and the workforce?"
BRIDGE_SENTENCE = (
    "In essence, managers provide the bridge between leaders and the rest of the workforce."
)


def _context(client: TestClient, **payload: Any) -> dict[str, Any]:
    response = client.post("/context", json={"question": BRIDGE_QUESTION, **payload})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_context_bundles_passages_concepts_and_the_answer(client: TestClient) -> None:
    body = _context(client)
    assert body["question"] == BRIDGE_QUESTION
    assert 1 <= len(body["passages"]) <= 5
    assert body["answer"] is not None and BRIDGE_SENTENCE in body["answer"]
    assert f"{BRIDGE_SENTENCE} [1]" in body["context"]  # the answer points at its source
    assert "BridgeRole" in {c["id"] for c in body["concepts"]}
    for concept in body["concepts"]:
        assert f"- {concept['label']}: {concept['definition']}" in body["context"]


def test_context_answer_is_the_ask_answer(client: TestClient) -> None:
    ask = client.post("/ask", json={"question": BRIDGE_QUESTION, "k": 3}).json()
    assert _context(client, k=3)["answer"] == ask["answer"]


def test_context_numbers_each_passage_as_a_source_quoting_it_exactly(client: TestClient) -> None:
    body = _context(client)
    numbers = [int(n) for n in re.findall(r"^\[(\d+)\] ", body["context"], re.M)]
    assert numbers == list(range(1, len(body["passages"]) + 1))
    for number, passage in enumerate(body["passages"], start=1):
        citation = passage["citation"]
        text = client.get(f"/documents/{citation['document_id']}").json()["text"]
        assert text[citation["start"] : citation["end"]] == citation["quote"]
        assert citation["passage_id"] == passage["passage_id"]
        assert passage["text"].startswith(citation["quote"])
        header = f"[{number}] {passage['document_title']} ({passage['document_id']})\n"
        assert header + citation["quote"] in body["context"]


@pytest.mark.parametrize("max_tokens", [50, 120, 300, 800])
def test_context_stays_within_the_token_budget(client: TestClient, max_tokens: int) -> None:
    body = _context(client, max_tokens=max_tokens)
    # the fake embedder is also the token counter the service used
    assert body["token_count"] == HashingEmbedder().count_tokens(body["context"])
    assert body["token_count"] <= max_tokens


def test_a_small_budget_cuts_the_last_source_at_a_sentence_end(client: TestClient) -> None:
    cut = []
    for max_tokens in range(60, 260, 20):
        body = _context(client, k=3, max_tokens=max_tokens)
        if not body["passages"]:
            continue
        last = body["passages"][-1]
        quote = last["citation"]["quote"]
        if quote != last["text"].rstrip():
            assert last["text"].startswith(quote)
            assert body["context"].endswith(quote + " …")  # marked as cut, never silently
            cut.append(quote)
    assert cut, "no budget cut a source"
    assert any(quote.endswith((".", "!", "?")) for quote in cut)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({}, "question"),
        ({"question": BRIDGE_QUESTION, "k": 0}, "k"),
        ({"question": BRIDGE_QUESTION, "k": 101}, "k"),
        ({"question": BRIDGE_QUESTION, "max_tokens": 49}, "max_tokens"),
        ({"question": BRIDGE_QUESTION, "max_tokens": 8001}, "max_tokens"),
    ],
)
def test_context_rejects_bad_input_naming_the_field(
    client: TestClient, payload: dict[str, Any], field: str
) -> None:
    response = client.post("/context", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["detail"].startswith(field)


def test_a_bundle_retrieves_the_passages_once(api_index: Path) -> None:
    """The passages quoted are the ones the answer was read from: one retrieval per bundle."""
    services = Services.build(load_resources(Settings(index=api_index), HashingEmbedder()))
    search = services.search
    calls: list[str] = []
    rank = search.rank

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return rank(*args, **kwargs)

    search.rank = counted  # type: ignore[method-assign]
    bundle = ContextService(search.index, search, services.qa).build(
        BRIDGE_QUESTION, k=5, max_tokens=400
    )
    assert calls == [BRIDGE_QUESTION]
    assert bundle.passages
