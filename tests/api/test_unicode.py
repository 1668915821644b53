"""Unicode of every kind never causes a 500: control characters, NUL, bidirectional marks, emoji,
combining characters, lone surrogates in JSON, and bytes that are not UTF-8 in query strings,
paths and bodies. Text that shows nothing counts as empty; anything else is answered."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from tests.fakes import HashingEmbedder

VISIBLE = {
    "nul inside": "lead\x00ership",
    "escape sequence": "\x1b[31mleadership\x1b[0m",
    "right-to-left override": "\u202eleadership\u202c",
    "right-to-left text": "\u05de\u05e0\u05d4\u05d9\u05d2\u05d5\u05ea leadership",  # Hebrew
    "emoji": "\U0001f680 leadership \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "combining marks": "le\u0301\u0301\u0301adership Z\u0351\u0352\u0353",
    "noncharacter": "leadership \uffff\ufffe",
    "byte order mark": "\ufeffleadership",
    "astral plane": "\U00010348\U0001d11e leadership",
    "replacement character": "\ufffd leadership",
}
INVISIBLE = {
    "nul": "\x00",
    "controls": "\x01\x07\x1b\x7f",
    "zero-width space": "\u200b",
    "bidi marks": "\u200e\u200f\u202e",
    "byte order mark": "\ufeff",
    "line separator": "\u2028",
}
NOT_UTF8_IN_URL = {
    "lone continuation byte": "%80",
    "invalid start bytes": "%ff%fe",
    "overlong slash": "%c0%af",
    "encoded surrogate": "%ed%a0%80",
    "truncated sequence": "%e2%82",
}
LONE_SURROGATES = {
    "high": '"\\ud800"',
    "low": '"\\udfff"',
    "reversed pair": '"\\udc00\\ud800"',
    "inside text": '"what is \\ud83d leadership?"',
}


@pytest.fixture(scope="module")
def client(api_index: Path) -> Iterator[TestClient]:
    app = create_app(Settings(index=api_index), embedder=HashingEmbedder())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _error(response: Any, status: int, names: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert names in body["detail"], body
    return str(body["detail"])


def _post_json(client: TestClient, path: str, text: str) -> Any:
    return client.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


# --- text that shows something is searched like any other -------------------------------------


@pytest.mark.parametrize("text", VISIBLE.values(), ids=VISIBLE.keys())
def test_search_answers_unusual_text_and_echoes_it(client: TestClient, text: str) -> None:
    response = client.get("/search", params={"q": text})
    assert response.status_code == 200, response.text
    assert response.json()["query"] == text.strip()


@pytest.mark.parametrize("text", VISIBLE.values(), ids=VISIBLE.keys())
def test_concept_lookup_answers_unusual_text(client: TestClient, text: str) -> None:
    response = client.get("/concepts", params={"q": text})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["items"], list)


@pytest.mark.parametrize("text", VISIBLE.values(), ids=VISIBLE.keys())
def test_ask_and_context_answer_unusual_text(client: TestClient, text: str) -> None:
    ask = client.post("/ask", json={"question": text})
    assert ask.status_code == 200, ask.text
    assert ask.json()["abstained"] in (True, False)
    context = client.post("/context", json={"question": text, "max_tokens": 200})
    assert context.status_code == 200, context.text
    assert context.json()["question"] == text.strip()


@pytest.mark.parametrize("text", VISIBLE.values(), ids=VISIBLE.keys())
def test_unusual_ids_are_not_found(client: TestClient, text: str) -> None:
    segment = quote(text, safe="")
    _error(client.get(f"/concepts/{segment}"), 404, "no concept")
    _error(client.get(f"/concepts/{segment}/graph"), 404, "no concept")
    _error(client.get(f"/documents/{segment}"), 404, "no document")
    _error(client.get("/search", params={"q": "leadership", "concept": text}), 404, "concept")
    _error(client.get("/search", params={"q": "leadership", "document": text}), 404, "document")


@pytest.mark.parametrize("text", VISIBLE.values(), ids=VISIBLE.keys())
def test_sparql_literals_of_unusual_text_round_trip(client: TestClient, text: str) -> None:
    # SPARQL and JSON escape control characters alike (\u0000); the rest is sent as it is
    literal = json.dumps(text, ensure_ascii=False)
    query = f"SELECT ?x WHERE {{ BIND({literal} AS ?x) }}"
    response = client.get("/sparql", params={"query": query})
    assert response.status_code == 200, response.text
    assert response.json()["results"]["bindings"][0]["x"]["value"] == text
    for accept in ("text/csv", "text/tab-separated-values"):
        assert client.get("/sparql", params={"query": query}, headers={"Accept": accept}).is_success
    xml = client.get(
        "/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+xml"}
    )
    unfit = [c for c in text if c in "\x00\x1b\ufffe\uffff"]  # none of them XML 1.0 characters
    if unfit:  # XML cannot carry them at all, not even as &#...; references
        _error(xml, 406, f"U+{ord(unfit[0]):04X}, which XML cannot carry")
        assert "application/sparql-results+json" in xml.json()["detail"]
    else:
        assert xml.is_success
        value = ET.fromstring(xml.content).find(".//{*}literal")
        assert value is not None and value.text == text


def test_rdf_xml_refuses_what_xml_cannot_carry(client: TestClient) -> None:
    query = 'CONSTRUCT { <urn:a> <urn:b> "lead\\u0000ership" } WHERE {}'
    response = client.get(
        "/sparql", params={"query": query}, headers={"Accept": "application/rdf+xml"}
    )
    _error(response, 406, "U+0000, which XML cannot carry; ask for text/turtle instead")
    turtle = client.get("/sparql", params={"query": query}, headers={"Accept": "text/turtle"})
    assert turtle.is_success


# --- text that shows nothing is empty ----------------------------------------------------------


@pytest.mark.parametrize("text", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_invisible_text_counts_as_empty(client: TestClient, text: str) -> None:
    _error(client.get("/search", params={"q": text}), 422, "q: must not be empty")
    _error(client.get("/concepts", params={"q": text}), 422, "q: must not be blank")
    for path in ("/ask", "/context"):
        _error(client.post(path, json={"question": text}), 422, "question: must not be empty")


# --- what is not Unicode text at all -----------------------------------------------------------


@pytest.mark.parametrize("raw", NOT_UTF8_IN_URL.values(), ids=NOT_UTF8_IN_URL.keys())
def test_bytes_that_are_not_utf8_in_a_url_are_never_a_500(client: TestClient, raw: str) -> None:
    for url in (
        f"/search?q={raw}leadership",
        f"/concepts?q={raw}leadership",
        f"/search?q=leadership&concept={raw}",
        f"/sparql?query={raw}",
        f"/concepts/{raw}",
        f"/concepts/{raw}/graph",
        f"/documents/{raw}",
    ):
        response = client.get(url)
        assert response.status_code < 500, (url, response.text)
        if response.is_error:
            assert set(response.json()) == {"error", "detail"}, (url, response.text)


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80"])
def test_bodies_that_are_not_utf8_are_refused(client: TestClient, raw: bytes) -> None:
    for path in ("/ask", "/context"):
        body = b'{"question": "' + raw + b'"}'
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, response.text
        assert set(response.json()) == {"error", "detail"}
    sparql = client.post(
        "/sparql",
        content=b"SELECT * WHERE { ?s ?p '" + raw + b"' }",
        headers={"Content-Type": "application/sparql-query"},
    )
    _error(sparql, 400, "not decodable")
    form = client.post(
        "/sparql",
        content=b"query=" + raw,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    _error(form, 400, "not decodable")


@pytest.mark.parametrize("literal", LONE_SURROGATES.values(), ids=LONE_SURROGATES.keys())
def test_lone_surrogates_in_json_are_422_naming_the_field(client: TestClient, literal: str) -> None:
    for path in ("/ask", "/context"):
        _error(_post_json(client, path, f'{{"question": {literal}}}'), 422, "question")
    # as a key: not a field of the request, so ignored or refused, never a crash
    response = _post_json(client, "/ask", f'{{{literal}: 1, "question": "leadership"}}')
    assert response.status_code in (200, 422), response.text


@pytest.mark.parametrize(
    "escape", ["\\ud800", "\\uDFFF", "\\U0000D800", "\\U00110000", "\\UFFFFFFFF"]
)
def test_sparql_escapes_that_name_no_character_are_400(client: TestClient, escape: str) -> None:
    query = f'SELECT ?x WHERE {{ BIND("a{escape}" AS ?x) }}'
    detail = _error(client.get("/sparql", params={"query": query}), 400, escape)
    assert "not a character" in detail
    assert client.get("/sparql", params={"query": 'ASK { FILTER("\\U0001F600" != "") }'}).json()[
        "boolean"
    ]
