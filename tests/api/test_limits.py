"""Limits: each is a setting, and going over one is a 4xx whose message names it; the OpenAPI
document states the configured values."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from tests.fakes import HashingEmbedder

MAX_BODY = 20_000
MAX_TEXT = 40
MAX_K = 20


@pytest.fixture(scope="module")
def client(api_index: Path) -> Iterator[TestClient]:
    settings = Settings(
        index=api_index, max_body_bytes=MAX_BODY, max_text_chars=MAX_TEXT, max_k=MAX_K
    )
    app = create_app(settings, embedder=HashingEmbedder())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _refused(response: Any, status: int, *names: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    for name in names:
        assert name in body["detail"], body


def _chunks(size: int, chunk: int = 500) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked), as a client streaming an upload does."""
    yield b'{"question": "'
    for _ in range(size // chunk):
        yield b"x" * chunk
    yield b'"}'


# --- request body size -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ask", "/context", "/sparql", "/mcp", "/search"])
def test_a_body_declared_too_large_is_413_naming_the_limit(client: TestClient, path: str) -> None:
    body = b"x" * (MAX_BODY + 1)
    response = client.request(
        "POST" if path != "/search" else "GET",
        path,
        content=body,
        headers={"Content-Type": "application/json"},
    )
    _refused(response, 413, f"{MAX_BODY} bytes", "max_body_bytes", "LEADGRAPH_MAX_BODY_BYTES")
    assert response.json()["error"] == "payload_too_large"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/ask", "application/json"),
        ("/context", "application/json"),
        ("/sparql", "application/sparql-query"),
        ("/mcp", "application/json"),
    ],
)
def test_a_streamed_body_is_cut_off_at_the_limit(
    client: TestClient, path: str, content_type: str
) -> None:
    response = client.post(
        path,
        content=_chunks(MAX_BODY * 3),
        headers={"Content-Type": content_type, "Accept": "application/json, text/event-stream"},
    )
    _refused(response, 413, "max_body_bytes")


def test_a_body_within_the_limit_is_read(client: TestClient) -> None:
    response = client.post("/ask", json={"question": "leadership", "k": 3})
    assert response.status_code == 200, response.text
    streamed = client.post(
        "/ask",
        content=_chunks(MAX_TEXT - 10, chunk=5),
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 200, streamed.text


def test_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (defaults.max_body_bytes, defaults.max_text_chars, defaults.max_k) == (
        1 << 20,
        1000,
        100,
    )
    monkeypatch.setenv("LEADGRAPH_MAX_BODY_BYTES", "123")
    assert Settings().max_body_bytes == 123
    with pytest.raises(ValidationError, match="max_k"):
        Settings(max_k=5)  # below the default k of /search, which would then always be refused


# --- text, numbers and ids ---------------------------------------------------------------------


def test_text_over_max_text_chars_is_422_naming_field_and_limit(client: TestClient) -> None:
    long = "leadership " * 10
    _refused(client.get("/search", params={"q": long}), 422, "q:", f"at most {MAX_TEXT}")
    _refused(client.get("/concepts", params={"q": long}), 422, "q:", "max_text_chars")
    for path in ("/ask", "/context"):
        response = client.post(path, json={"question": long})
        _refused(response, 422, "question:", f"at most {MAX_TEXT}", "max_text_chars")
    ok = "x" * MAX_TEXT
    assert client.get("/search", params={"q": ok}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "arguments", "field"),
    [
        ("GET", "/search", {"params": {"q": "lead", "k": MAX_K + 1}}, "k:"),
        ("GET", "/search", {"params": {"q": "lead", "k": 0}}, "k:"),
        ("GET", "/concepts", {"params": {"limit": MAX_K + 1}}, "limit:"),
        ("GET", "/concepts", {"params": {"limit": 0}}, "limit"),
        ("GET", "/concepts", {"params": {"offset": -1}}, "offset"),
        ("GET", "/concepts/Leadership", {"params": {"evidence_limit": -1}}, "evidence_limit"),
        ("GET", "/concepts/Leadership/graph", {"params": {"depth": 4}}, "depth"),
        ("GET", "/concepts/Leadership/graph", {"params": {"depth": 0}}, "depth"),
        ("POST", "/ask", {"json": {"question": "lead", "k": MAX_K + 1}}, "k:"),
        ("POST", "/context", {"json": {"question": "lead", "k": MAX_K + 1}}, "k:"),
        ("POST", "/context", {"json": {"question": "lead", "max_tokens": 49}}, "max_tokens"),
        ("POST", "/context", {"json": {"question": "lead", "max_tokens": 8001}}, "max_tokens"),
        ("GET", "/search", {"params": {"q": "lead", "k": "9" * 5000}}, "k"),
        ("POST", "/ask", {"json": {"question": "lead", "k": 1e308}}, "k"),
        ("POST", "/ask", {"json": {"question": "lead", "k": True}}, "k"),  # not an integer
        ("POST", "/context", {"json": {"question": "lead", "k": "5"}}, "k"),
        ("POST", "/context", {"json": {"question": "lead", "max_tokens": True}}, "max_tokens"),
    ],
)
def test_numbers_out_of_range_are_422_naming_the_field(
    client: TestClient, method: str, path: str, arguments: dict[str, Any], field: str
) -> None:
    if "content" in arguments:
        arguments = {**arguments, "headers": {"Content-Type": "application/json"}}
    _refused(client.request(method, path, **arguments), 422, field)


def test_an_integer_too_long_to_read_is_refused(client: TestClient) -> None:
    # Python refuses to read integers of over 4,300 digits; FastAPI answers that with a 400
    body = '{"question": "x", "k": 1' + "0" * 5000 + "}"
    response = client.post("/ask", content=body, headers={"Content-Type": "application/json"})
    _refused(response, 400, "body")


def test_k_over_max_k_names_the_setting(client: TestClient) -> None:
    response = client.get("/search", params={"q": "lead", "k": MAX_K + 1})
    _refused(response, 422, f"between 1 and {MAX_K}", "max_k")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/concepts/" + "C" * 129, {}, "concept_id"),
        ("/concepts/" + "C" * 129 + "/graph", {}, "concept_id"),
        ("/documents/" + "d" * 129, {}, "document_id"),
        ("/search", {"q": "lead", "concept": "C" * 129}, "concept"),
        ("/search", {"q": "lead", "document": "d" * 129}, "document"),
    ],
)
def test_ids_longer_than_any_id_are_422(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    _refused(client.get(path, params=params), 422, field, "128")


# --- the OpenAPI document says so --------------------------------------------------------------


def test_openapi_states_the_configured_limits(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    def parameter(path: str, name: str, method: str = "get") -> dict[str, Any]:
        for p in spec["paths"][path][method]["parameters"]:
            if p["name"] == name:
                schema = p["schema"]
                return dict(next((b for b in schema.get("anyOf", []) if "type" in b), schema))
        raise AssertionError(f"{path} has no parameter {name}")

    assert parameter("/search", "q")["maxLength"] == MAX_TEXT
    assert parameter("/search", "k")["maximum"] == MAX_K
    assert parameter("/concepts", "q")["maxLength"] == MAX_TEXT
    assert parameter("/concepts", "limit")["maximum"] == MAX_K
    assert parameter("/sparql", "query")["maxLength"] == Settings().sparql_max_chars
    assert parameter("/search", "concept")["maxLength"] == 128
    schemas = spec["components"]["schemas"]
    for body in ("AskRequest", "ContextRequest"):
        assert schemas[body]["properties"]["question"]["maxLength"] == MAX_TEXT
        assert schemas[body]["properties"]["k"]["maximum"] == MAX_K
    assert "maxLength" not in schemas["SearchResponse"]["properties"]["query"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status in ("413", "422", "431"):
                if status in operation["responses"]:
                    schema = operation["responses"][status]["content"]["application/json"]
                    assert schema["schema"]["$ref"].endswith("/ErrorBody"), (method, path)
            # the HTTP layer may refuse any request so (app/server.py)
            assert {"413", "431"} <= set(operation["responses"]), (method, path)
    assert "HTTPValidationError" not in schemas


def test_openapi_says_which_text_is_blank_as_the_service_decides(client: TestClient) -> None:
    """schemathesis's positive_data_acceptance: text the schema allows is not refused."""
    import re

    from leadgraph.app.limits import is_blank, visible_pattern

    spec = client.get("/openapi.json").json()
    search_q = next(p for p in spec["paths"]["/search"]["get"]["parameters"] if p["name"] == "q")
    question = spec["components"]["schemas"]["AskRequest"]["properties"]["question"]
    for schema in (search_q["schema"], question):
        branches = schema.get("anyOf", [schema])
        assert visible_pattern() in [b.get("pattern") for b in branches], schema
    pattern = re.compile(visible_pattern())
    for text in [
        "\x97",
        "\u200b\u200e",
        " \t",
        "\ufeff",
        "a",
        "\U000e0001",
        "\u0378",
        "é",
        "\U0001f600",
    ]:
        assert (pattern.search(text) is None) == is_blank(text), repr(text)
        refused = client.get("/search", params={"q": text}).status_code == 422
        assert refused == is_blank(text), repr(text)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/ask", {"question": "lead", "k": 3.0}),
        ("/context", {"question": "lead", "k": 2.0, "max_tokens": 400.0}),
    ],
)
def test_a_json_integer_written_with_a_fraction_of_zero_is_an_integer(
    client: TestClient, path: str, body: dict[str, object]
) -> None:
    """JSON Schema's `integer` counts 3.0 as one (schemathesis' positive_data_acceptance)."""
    assert client.post(path, json=body).status_code == 200
    refused = client.post(path, json={**body, "k": 2.5})
    assert refused.status_code == 422 and refused.json()["detail"].startswith("k:")
