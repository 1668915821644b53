"""CORS: off unless origins are configured; then only those origins, only GET and POST, no
credentials and no Authorization header, so a page elsewhere can read the public API and nothing
more."""

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

ALLOWED = "https://app.example.org"
OTHER = "https://evil.example.net"


def _client(index: Path, **settings: Any) -> TestClient:
    app = create_app(Settings(index=index, **settings), embedder=HashingEmbedder())
    return TestClient(app)


@pytest.fixture(scope="module")
def cors_client(api_index: Path) -> Iterator[TestClient]:
    with _client(api_index, cors_origins=[ALLOWED], max_body_bytes=1000) as client:
        yield client


def _preflight(client: TestClient, path: str, method: str, headers: str = "content-type") -> Any:
    return client.options(
        path,
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_no_cors_headers_by_default(api_index: Path) -> None:
    with _client(api_index) as client:
        response = client.get("/search", params={"q": "leadership"}, headers={"Origin": ALLOWED})
        assert response.status_code == 200
        assert not any(h.startswith("access-control-") for h in response.headers)
        preflight = client.options(
            "/ask", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in preflight.headers


def test_a_configured_origin_may_read_get_and_post(cors_client: TestClient) -> None:
    response = cors_client.get("/search", params={"q": "leadership"}, headers={"Origin": ALLOWED})
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-credentials" not in response.headers
    assert "x-leadgraph-truncated" in response.headers["access-control-expose-headers"].lower()
    answer = cors_client.post(
        "/ask", json={"question": "What is leadership?"}, headers={"Origin": ALLOWED}
    )
    assert answer.headers["access-control-allow-origin"] == ALLOWED


def test_another_origin_gets_no_grant(cors_client: TestClient) -> None:
    response = cors_client.get("/concepts", headers={"Origin": OTHER})
    assert response.status_code == 200  # CORS is the browser's to enforce
    assert "access-control-allow-origin" not in response.headers
    preflight = cors_client.options(
        "/ask", headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 400


def test_preflight_allows_get_and_post_only(cors_client: TestClient) -> None:
    for method in ("GET", "POST"):
        response = _preflight(cors_client, "/ask", method)
        assert response.status_code == 200, response.text
        allowed = response.headers["access-control-allow-methods"]
        assert {m.strip() for m in allowed.split(",")} == {"GET", "POST"}
    for method in ("PUT", "DELETE", "PATCH"):
        refused = _preflight(cors_client, "/documents/some-id", method)
        assert refused.status_code == 400
    with_token = _preflight(cors_client, "/ask", "POST", headers="content-type, authorization")
    assert with_token.status_code == 400


def test_refusals_carry_the_grant_so_the_page_can_read_them(cors_client: TestClient) -> None:
    too_large = cors_client.post(
        "/ask",
        content=b"x" * 2000,
        headers={"Origin": ALLOWED, "Content-Type": "application/json"},
    )
    assert too_large.status_code == 413
    assert too_large.headers["access-control-allow-origin"] == ALLOWED
    missing = cors_client.get("/concepts/Nope", headers={"Origin": ALLOWED})
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == ALLOWED


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", []),
        ("https://a.example", ["https://a.example"]),
        (
            "https://a.example, http://127.0.0.1:5173/",
            ["https://a.example", "http://127.0.0.1:5173"],
        ),
        ('["https://a.example", "*"]', ["https://a.example", "*"]),
    ],
)
def test_origins_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: list[str]
) -> None:
    monkeypatch.setenv("LEADGRAPH_CORS_ORIGINS", value)
    assert Settings().cors_origins == origins


@pytest.mark.parametrize("value", ["a.example", "https://a.example/app", "ftp://a.example"])
def test_what_is_not_an_origin_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LEADGRAPH_CORS_ORIGINS", value)
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings()
