"""GET /documents and /documents/{id}."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_documents_are_listed(client: TestClient) -> None:
    body = client.get("/documents").json()
    assert body["total"] == len(body["items"]) == 3
    by_id = {d["id"]: d for d in body["items"]}
    dated = by_id["organizational-leadership-and-management"]
    assert dated["date"] == "2020-02-19"
    assert dated["kind"] == "article"
    assert by_id["leadership-vs-management-power-duo"]["kind"] == "video transcript"
    assert all(d["passage_count"] > 0 for d in body["items"])


def test_document_has_text_passages_and_mentions(client: TestClient) -> None:
    listing = {d["id"]: d for d in client.get("/documents").json()["items"]}
    body = client.get("/documents/synergy-of-success").json()
    text = body["text"]
    assert body["title"].startswith("The Synergy of Success")
    assert len(body["passages"]) == listing["synergy-of-success"]["passage_count"]
    for passage in body["passages"]:
        assert text[passage["start"] : passage["end"]] == passage["text"]
        assert passage["id"].startswith("synergy-of-success:p")
    assert any(p["concepts"] for p in body["passages"])
    starts = [m["start"] for m in body["mentions"]]
    assert starts == sorted(starts)
    for mention in body["mentions"]:
        assert text[mention["start"] : mention["end"]] == mention["surface"]
        assert set(mention["concept"]) == {"id", "label"}


def test_unknown_document_is_404(client: TestClient) -> None:
    response = client.get("/documents/nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": "document_not_found",
        "detail": "no document 'nope'; GET /documents lists them",
    }


def test_documents_show_the_front_matter_source(client: TestClient) -> None:
    listing = {d["id"]: d for d in client.get("/documents").json()["items"]}
    # the bundled articles name the seed file they were taken from, not an address
    assert listing["synergy-of-success"]["source"] == "000_794423481e9f302f.txt"
    detail = client.get("/documents/organizational-leadership-and-management").json()
    assert detail["source"] == "003_569b31adfc32932d.txt"
    assert "path" not in detail
