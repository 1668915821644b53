"""Every error has one body: {"error": code, "detail": message}."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from tests.fakes import HashingEmbedder


def assert_error_body(response_json: object, code: str) -> None:
    assert isinstance(response_json, dict)
    assert set(response_json) == {"error", "detail"}
    assert response_json["error"] == code
    assert isinstance(response_json["detail"], str) and response_json["detail"]


@pytest.fixture
def empty_client(tmp_path: Path) -> Iterator[TestClient]:
    folder = tmp_path / "index"
    folder.mkdir()
    app = create_app(Settings(index=folder), embedder=HashingEmbedder())
    with TestClient(app) as test_client:
        yield test_client


def test_unknown_path_is_404(client: TestClient) -> None:
    response = client.get("/no/such/path")
    assert response.status_code == 404
    assert_error_body(response.json(), "not_found")


def test_unknown_concept_is_404(client: TestClient) -> None:
    response = client.get("/concepts/Nope")
    assert response.status_code == 404
    assert_error_body(response.json(), "concept_not_found")


def test_wrong_method_is_405(client: TestClient) -> None:
    for response in (client.post("/search", params={"q": "x"}), client.get("/ask")):
        assert response.status_code == 405
        assert_error_body(response.json(), "method_not_allowed")


def test_405_names_the_allowed_methods_in_allow(client: TestClient) -> None:
    # RFC 9110 15.5.6; GET and POST /sparql are two routes, and both methods are allowed
    for method, path, allowed in [
        ("DELETE", "/health", "GET"),
        ("POST", "/search", "GET"),
        ("GET", "/ask", "POST"),
        ("PUT", "/sparql", "GET, POST"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allowed, (method, path)
        assert allowed in response.json()["detail"]
        for other in allowed.split(", "):  # and each method named is answered
            assert client.request(other, path).status_code != 405, (other, path)


def test_unservable_accept_is_406(client: TestClient) -> None:
    response = client.get("/concepts/Leadership", headers={"Accept": "text/csv"})
    assert response.status_code == 406
    assert_error_body(response.json(), "not_acceptable")


def test_invalid_input_is_422_naming_the_field(client: TestClient) -> None:
    response = client.get("/search", params={"q": "leadership", "mode": "psychic"})
    assert response.status_code == 422
    assert_error_body(response.json(), "validation_error")
    assert "mode" in response.json()["detail"]


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/ask", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert_error_body(response.json(), "validation_error")


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/ready", {}),
        ("GET", "/search", {"params": {"q": "leadership"}}),
        ("GET", "/concepts", {}),
        ("GET", "/concepts/Leadership", {}),
        ("GET", "/documents", {}),
        ("POST", "/ask", {"json": {"question": "What is leadership?"}}),
    ],
)
def test_without_an_index_every_endpoint_is_503(
    empty_client: TestClient, method: str, path: str, kwargs: dict[str, object]
) -> None:
    response = empty_client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 503
    body = response.json()
    assert_error_body(body, "index_not_ready")
    # the command that fixes this service's index, with its folders, not `leadgraph index corpus`
    index = empty_client.app.state.leadgraph.settings.index  # type: ignore[attr-defined]
    assert f"run `leadgraph reindex --index {index.name} --corpus corpus`" in body["detail"]
    assert "index corpus --out" not in body["detail"]


def test_openapi_documents_every_endpoint_with_the_error_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/concepts", "/concepts/{concept_id}", "/search", "/ask", "/documents"):
        for operation in spec["paths"][path].values():
            assert operation["summary"]
            error = operation["responses"]["404"]["content"]["application/json"]["schema"]
            assert error["$ref"].endswith("/ErrorBody")


@pytest.mark.parametrize(
    "path",
    [
        "/static/a%00b",
        "/static/" + "a" * 300,
        "/static/" + "a" * 300 + ".js",
        "/static/..%2fapp%2fmain.py",
        "/static/.hidden",
        "/static/app.js%2f",
        "/static/a%0ab.css",
        "/static/%ff.css",
    ],
)
def test_a_static_name_no_asset_has_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.text
    assert_error_body(response.json(), "not_found")
    assert len(response.json()["detail"]) < 200
