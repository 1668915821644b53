"""Changing the corpus while serving: the admin token rules, PUT / DELETE /documents/{id} and
POST /admin/reindex round trips, incremental re-embedding, bad bodies, conflicts, recovery from
a damaged index, and searches that never fail while a new version is swapped in."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from leadgraph.app.config import Settings
from leadgraph.app.deps import app_services
from leadgraph.app.errors import PayloadTooLarge
from leadgraph.app.main import create_app
from leadgraph.app.schemas import SearchMode
from leadgraph.app.services import admin as admin_module
from leadgraph.app.services.admin import CorpusEditor, update_lock
from leadgraph.indexer.build import build_index, passage_input
from leadgraph.indexer.embedder import Vectors
from leadgraph.indexer.errors import OntologyError
from leadgraph.indexer.store import build_lock, load_index, resolve_version
from tests.api.test_errors import assert_error_body
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder

TOKEN = "test-admin-token-0123456789abcdef"
BUILD_OPTIONS = {"max_tokens": 150, "semantic_threshold": 0.35}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MARKDOWN = {"Content-Type": "text/markdown; charset=utf-8"}

NEW_ARTICLE = """---
id: servant-leadership
title: Servant Leadership
kind: article
date: 2024-05-01
---
# Servant Leadership

A servant leader puts the growth of the team first and listens before deciding.

Stewardship and empathy turn a vision into plans that people want to follow; the
zanzibarian quorum of listeners is the word this test searches for.
"""


class RecordingEmbedder(HashingEmbedder):
    """The fake embedder, keeping every text it was asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        self.texts.extend(texts)
        return super().encode(texts, show_progress=show_progress)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder and its index (fake embedder), built once; tests work on copies."""
    folder = tmp_path_factory.mktemp("admin")
    shutil.copytree(CORPUS, folder / "corpus")
    build_index(
        [folder / "corpus"],
        folder / "index",
        embedder=HashingEmbedder(),
        **BUILD_OPTIONS,  # not the defaults, so that updates are seen to keep them
    )
    return folder


def copy_site(built: Path, target: Path) -> Path:
    shutil.copytree(built / "corpus", target / "corpus")
    shutil.copytree(built / "index", target / "index", symlinks=True)
    return target


@pytest.fixture
def site(built: Path, tmp_path: Path) -> Path:
    """This test's own copy of the corpus folder and the index."""
    return copy_site(built, tmp_path)


@contextmanager
def serving_app(
    site: Path, *, embedder: HashingEmbedder | None = None, **settings: object
) -> Iterator[TestClient]:
    options: dict[str, object] = {"admin_token": TOKEN, "index_watch_s": 0, **settings}
    app = create_app(
        Settings(index=site / "index", corpus=site / "corpus", **options),  # type: ignore[arg-type]
        embedder=embedder or HashingEmbedder(),
    )
    with TestClient(app) as client:
        yield client


@pytest.fixture
def admin(site: Path) -> Iterator[TestClient]:
    with serving_app(site) as client:
        yield client


@pytest.fixture(scope="module")
def shared_site(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy shared by the tests of refusals, which must change nothing (they check it)."""
    return copy_site(built, tmp_path_factory.mktemp("shared"))


@pytest.fixture(scope="module")
def guarded(shared_site: Path) -> Iterator[TestClient]:
    with serving_app(shared_site) as client:
        yield client


@pytest.fixture(scope="module")
def disabled(shared_site: Path) -> Iterator[TestClient]:
    with serving_app(shared_site, admin_token=None) as client:
        yield client


def version(client: TestClient) -> str:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    name: str = response.json()["index"]["version"]
    return name


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


ADMIN_CALLS = [
    ("PUT", "/documents/servant-leadership"),
    ("DELETE", "/documents/synergy-of-success"),
    ("POST", "/admin/reindex"),
]


def admin_call(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    if method == "PUT":
        return client.put(path, content=NEW_ARTICLE, headers={**MARKDOWN, **headers})
    return client.request(method, path, headers=headers)


def put_article(client: TestClient, document_id: str, body: str | bytes) -> httpx.Response:
    return client.put(f"/documents/{document_id}", content=body, headers={**AUTH, **MARKDOWN})


# --- who may call ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ADMIN_CALLS)
def test_admin_endpoints_answer_403_while_no_token_is_set(
    disabled: TestClient, shared_site: Path, method: str, path: str
) -> None:
    before = snapshot(shared_site / "corpus")
    response = admin_call(disabled, method, path, AUTH)
    assert response.status_code == 403
    assert_error_body(response.json(), "admin_disabled")
    assert "LEADGRAPH_ADMIN_TOKEN" in response.json()["detail"]
    assert snapshot(shared_site / "corpus") == before


def test_an_empty_token_setting_keeps_admin_disabled() -> None:
    assert Settings(admin_token="  ").admin_token is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
    ids=["missing", "wrong", "longer", "basic-scheme", "no-scheme"],
)
@pytest.mark.parametrize(("method", "path"), ADMIN_CALLS)
def test_admin_endpoints_answer_401_without_the_right_bearer_token(
    guarded: TestClient, shared_site: Path, headers: dict[str, str], method: str, path: str
) -> None:
    before = snapshot(shared_site / "corpus")
    response = admin_call(guarded, method, path, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert_error_body(response.json(), "unauthorized")
    assert snapshot(shared_site / "corpus") == before


def test_the_token_is_checked_before_the_path_and_the_body(guarded: TestClient) -> None:
    response = guarded.put("/documents/..bad id", content=b"\xff", headers={"Content-Type": "x/y"})
    assert response.status_code == 401


def test_openapi_documents_the_admin_endpoints_and_their_bearer_scheme(
    guarded: TestClient,
) -> None:
    spec = guarded.get("/openapi.json").json()
    put = spec["paths"]["/documents/{document_id}"]["put"]
    assert put["security"] == [{"adminToken": []}]
    assert "text/markdown" in put["requestBody"]["content"]
    assert {"200", "201", "401", "403", "409", "413", "415", "422"} <= set(put["responses"])
    assert "delete" in spec["paths"]["/documents/{document_id}"]
    assert spec["paths"]["/admin/reindex"]["post"]["summary"]
    assert spec["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"


# --- round trips -------------------------------------------------------------------------------


def test_put_adds_a_searchable_document_embedding_only_its_passages(site: Path) -> None:
    recorder = RecordingEmbedder()
    with serving_app(site, embedder=recorder) as client:
        before = version(client)
        old_inputs = _passage_inputs(site / "index")
        recorder.texts.clear()

        response = put_article(client, "servant-leadership", NEW_ARTICLE)

        assert response.status_code == 201, response.text
        result = response.json()
        assert result["action"] == "created" and result["document"] == "servant-leadership"
        assert result["previous_version"] == before and result["version"] != before
        assert result["counts"]["documents"] == 4
        new_passages = result["counts"]["passages"] - len(old_inputs)
        assert result["embedded"] == new_passages >= 1
        assert result["reused"] == len(old_inputs)
        assert not set(old_inputs) & set(recorder.texts)  # no old passage went through the model

        assert version(client) == result["version"]  # served before the answer came back
        assert (site / "corpus" / "servant-leadership.md").read_text() == NEW_ARTICLE
        document = client.get("/documents/servant-leadership")
        assert document.status_code == 200 and document.json()["title"] == "Servant Leadership"
        hits = client.get("/search", params={"q": "zanzibarian quorum", "mode": "lexical"}).json()
        assert hits["hits"][0]["document_id"] == "servant-leadership"


def test_put_keeps_the_source_and_a_changed_source_is_published(admin: TestClient) -> None:
    first, second = "https://example.org/servant", "https://example.org/servant-leadership"
    article = NEW_ARTICLE.replace("kind: article\n", f"kind: article\nsource: {first}\n")
    assert put_article(admin, "servant-leadership", article).status_code == 201
    assert admin.get("/documents/servant-leadership").json()["source"] == first
    hits = admin.get("/search", params={"q": "zanzibarian quorum", "mode": "lexical"}).json()
    assert hits["hits"][0]["source"] == first

    before = version(admin)
    response = put_article(admin, "servant-leadership", article.replace(first, second))
    assert response.status_code == 200, response.text
    assert response.json()["embedded"] == 0  # the text is the same: only the source changed
    assert version(admin) != before
    assert admin.get("/documents/servant-leadership").json()["source"] == second


def test_admin_errors_name_files_inside_the_corpus_never_absolute_paths(
    admin: TestClient, site: Path
) -> None:
    unknown = admin.delete("/documents/no-such-document", headers=AUTH)
    with build_lock(site / "index"):  # `leadgraph index` is writing this index
        locked = put_article(admin, "servant-leadership", NEW_ARTICLE)
    (site / "corpus" / "extra.jsonl").write_text(
        '{"_id": "beir-1", "title": "T", "text": "A record of a BEIR corpus."}\n', encoding="utf-8"
    )
    in_jsonl = admin.delete("/documents/beir-1", headers=AUTH)
    (site / "corpus" / "team").mkdir()
    (site / "corpus" / "team" / "broken.md").write_text("---\nkind: blog\n---\nbody\n")
    broken = put_article(admin, "servant-leadership", NEW_ARTICLE)

    assert [r.status_code for r in (unknown, locked, in_jsonl, broken)] == [404, 409, 409, 409]
    assert "extra.jsonl (line 1)" in in_jsonl.json()["detail"]
    assert "team/broken.md:2: invalid kind" in broken.json()["detail"]
    for response in (unknown, locked, in_jsonl, broken):
        assert str(site) not in response.text and str(site.resolve()) not in response.text


def test_put_replacing_a_document_re_embeds_only_the_changed_passage(site: Path) -> None:
    recorder = RecordingEmbedder()
    article = site / "corpus" / "synergy-of-success.md"
    text = article.read_text(encoding="utf-8")
    changed = text.replace(
        "Fostering a Collaborative Culture", "Fostering a Collaborative Culture Every Day"
    )
    assert changed != text
    with serving_app(site, embedder=recorder) as client:
        recorder.texts.clear()
        response = client.put(
            "/documents/synergy-of-success", content=changed.encode(), headers={**AUTH, **MARKDOWN}
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["action"] == "replaced" and result["counts"]["documents"] == 3
        assert 1 <= result["embedded"] <= 2
        assert result["reused"] == result["counts"]["passages"] - result["embedded"]
        assert "Every Day" in client.get("/documents/synergy-of-success").json()["text"]
    assert article.read_text(encoding="utf-8") == changed
    assert sorted(p.name for p in (site / "corpus").iterdir()) == sorted(
        p.name for p in CORPUS.iterdir()
    )  # replaced in place: no new file, no staging left behind


def test_put_moves_a_document_kept_under_another_file_name_to_its_id(site: Path) -> None:
    corpus = site / "corpus"
    (corpus / "synergy-of-success.md").rename(corpus / "Synergy Article.md")
    body = (corpus / "Synergy Article.md").read_bytes()
    with serving_app(site) as client:
        response = client.put(
            "/documents/synergy-of-success", content=body, headers={**AUTH, **MARKDOWN}
        )
        assert response.status_code == 200, response.text
        assert response.json()["embedded"] == 0  # same text: every vector reused
    assert not (corpus / "Synergy Article.md").exists()
    assert (corpus / "synergy-of-success.md").read_bytes() == body


def test_delete_removes_the_document_from_corpus_index_and_search(
    admin: TestClient, site: Path
) -> None:
    response = admin.delete("/documents/synergy-of-success", headers=AUTH)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["action"] == "deleted" and result["embedded"] == 0
    assert result["counts"]["documents"] == 2
    assert not (site / "corpus" / "synergy-of-success.md").exists()
    assert admin.get("/documents/synergy-of-success").status_code == 404
    listed = {d["id"] for d in admin.get("/documents").json()["items"]}
    assert "synergy-of-success" not in listed
    hits = admin.get("/search", params={"q": "synergy of success leadership", "k": 50}).json()
    assert all(h["document_id"] != "synergy-of-success" for h in hits["hits"])


def test_delete_of_an_unknown_document_is_404(guarded: TestClient) -> None:
    before = version(guarded)
    response = guarded.delete("/documents/no-such-document", headers=AUTH)
    assert response.status_code == 404
    assert_error_body(response.json(), "document_not_found")
    assert version(guarded) == before


def test_the_last_document_cannot_be_deleted(site: Path) -> None:
    corpus = site / "corpus"
    for name in ("synergy-of-success.md", "leadership-vs-management-power-duo.md"):
        (corpus / name).unlink()
    with serving_app(site) as client:
        assert client.post("/admin/reindex", headers=AUTH).status_code == 200
        response = client.delete(
            "/documents/organizational-leadership-and-management", headers=AUTH
        )
        assert response.status_code == 409
        assert_error_body(response.json(), "corpus_conflict")
    assert (corpus / "organizational-leadership-and-management.md").exists()


def test_reindex_publishes_what_changed_in_the_corpus_folder(admin: TestClient, site: Path) -> None:
    (site / "corpus" / "servant-leadership.md").write_text(NEW_ARTICLE, encoding="utf-8")
    before = version(admin)
    response = admin.post("/admin/reindex", headers=AUTH)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["action"] == "reindexed" and result["document"] is None
    assert result["previous_version"] == before and version(admin) == result["version"]
    assert result["counts"]["documents"] == 4 and result["embedded"] >= 1
    assert admin.get("/documents/servant-leadership").status_code == 200
    # rebuilt with the passage size and threshold of the version it replaced
    settings = load_index(site / "index").manifest.settings
    assert {k: settings[k] for k in BUILD_OPTIONS} == BUILD_OPTIONS


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "code", "fragment"),
    [
        (
            "/documents/x1",
            "---\nid: x1\ntitle: [unclosed\n---\nbody\n",
            None,
            422,
            "invalid_document",
            "line 3",
        ),
        (
            "/documents/x1",
            "---\nid: x1\nkind: blog\n---\nbody\n",
            None,
            422,
            "invalid_document",
            "line 3: invalid kind",
        ),
        (
            "/documents/x1",
            "---\nid: x1\ndate: 2024-13-01\n---\nbody\n",
            None,
            422,
            "invalid_document",
            "line 3: invalid date",
        ),
        (
            "/documents/x1",
            "---\nid: x1\ntitle: T\n",
            None,
            422,
            "invalid_document",
            "unterminated front matter",
        ),
        ("/documents/x1", "---\nid: x1\n---\n\n", None, 422, "invalid_document", "no text"),
        ("/documents/x1", "", None, 422, "invalid_document", "empty"),
        ("/documents/x1", b"caf\xe9 latte", None, 422, "invalid_document", "UTF-8"),
        (
            "/documents/x1",
            "---\ntitle: T\nid: other\n---\nbody\n",
            None,
            400,
            "id_mismatch",
            "line 3",
        ),
        ("/documents/Upper", "no front matter\n", None, 422, "invalid_document", "id: Upper"),
        (
            "/documents/x1",
            "---\nid: x1\nsource: www.example.org/x1\n---\nbody\n",
            None,
            422,
            "invalid_document",
            "line 3: invalid source 'www.example.org/x1'",
        ),
        ("/documents/.hidden", "body\n", None, 422, "validation_error", "document_id"),
        (
            "/documents/x1",
            "body\n",
            "application/json",
            415,
            "unsupported_media_type",
            "text/markdown",
        ),
        (
            "/documents/x1",
            "body\n",
            "text/markdown; charset=latin-1",
            415,
            "unsupported_media_type",
            "utf-8",
        ),
        ("/documents/x1", "body\n", "", 415, "unsupported_media_type", "text/markdown"),
    ],
    ids=[
        "bad-yaml",
        "bad-kind",
        "bad-date",
        "unterminated",
        "no-text",
        "empty",
        "not-utf8",
        "id-mismatch",
        "id-not-a-file-name",
        "bad-source",
        "bad-path-id",
        "json",
        "latin-1",
        "no-type",
    ],
)
def test_bad_bodies_are_refused_naming_the_line_and_change_nothing(
    guarded: TestClient,
    shared_site: Path,
    path: str,
    body: str | bytes,
    content_type: str | None,
    status: int,
    code: str,
    fragment: str,
) -> None:
    before, corpus = version(guarded), snapshot(shared_site / "corpus")
    headers = {**AUTH, "Content-Type": "text/markdown" if content_type is None else content_type}
    response = guarded.put(path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert_error_body(response.json(), code)
    assert fragment in response.json()["detail"]
    assert version(guarded) == before
    assert snapshot(shared_site / "corpus") == corpus
    assert not [p for p in (shared_site / "corpus").iterdir() if p.name.startswith(".")]


def test_a_body_over_max_body_bytes_is_413(shared_site: Path) -> None:
    with serving_app(shared_site, max_body_bytes=2000) as client:
        body = NEW_ARTICLE + "more words " * 300
        response = client.put(
            "/documents/servant-leadership", content=body, headers={**AUTH, **MARKDOWN}
        )
        assert response.status_code == 413
        assert_error_body(response.json(), "payload_too_large")
    assert not (shared_site / "corpus" / "servant-leadership.md").exists()


def laughs(levels: int, key: str) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return "---\nid: x1\n" + "\n".join(lines) + f"\n{key}: *l{levels}\n---\nbody\n"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (laughs(7, "kind"), "line 3: malformed front matter: anchors and aliases"),
        (laughs(7, "date"), "line 3: malformed front matter: anchors and aliases"),
        ("---\nid: x1\ntitle: " + "[" * 1000 + "]" * 1000 + "\n---\nbody\n", "nested deeper"),
        ("---\nid: x1\nkind: " + "k" * 100_000 + "\n---\nbody\n", "max_front_matter_bytes"),
        ("---\nid: x1\nkind: " + "k" * 50_000 + "\n---\nbody\n", "invalid kind 'kkk"),
    ],
    ids=["laughs-in-kind", "laughs-in-date", "nested-1000", "front-matter-100k", "kind-50k"],
)
def test_hostile_front_matter_is_a_short_422_and_changes_nothing(
    guarded: TestClient, shared_site: Path, body: str, fragment: str
) -> None:
    before, corpus = version(guarded), snapshot(shared_site / "corpus")
    response = put_article(guarded, "x1", body)
    assert response.status_code == 422, response.text[:500]
    assert_error_body(response.json(), "invalid_document")
    assert fragment in response.json()["detail"]
    assert len(response.content) < 500  # 7 levels of laughs were answered with 34.7 MB
    assert version(guarded) == before
    assert snapshot(shared_site / "corpus") == corpus


def test_an_article_over_max_article_bytes_is_413_before_the_lock_is_taken(
    shared_site: Path,
) -> None:
    article = NEW_ARTICLE + "Another sentence about servant leaders. " * 200
    with serving_app(shared_site, max_article_bytes=4000) as client:
        with update_lock(shared_site / "index"):  # refused at once, not told to retry
            response = put_article(client, "servant-leadership", article)
        assert response.status_code == 413
        assert_error_body(response.json(), "payload_too_large")
        assert "max_article_bytes, LEADGRAPH_MAX_ARTICLE_BYTES" in response.json()["detail"]
    assert not (shared_site / "corpus" / "servant-leadership.md").exists()


def test_an_article_of_max_article_bytes_is_accepted(site: Path) -> None:
    with serving_app(site, max_article_bytes=len(NEW_ARTICLE.encode())) as client:
        assert put_article(client, "servant-leadership", NEW_ARTICLE).status_code == 201
    editor = CorpusEditor(
        corpus=site / "corpus",
        index=site / "index",
        embedder=HashingEmbedder(),
        max_article_bytes=len(NEW_ARTICLE.encode()) - 1,
    )
    # `leadgraph add` too, and before the lock: refused at once, not told to retry
    with update_lock(site / "index"), pytest.raises(PayloadTooLarge, match="more than"):
        editor.put("servant-leadership", NEW_ARTICLE.encode())


def test_a_document_held_in_a_jsonl_file_cannot_be_replaced_one_by_one(site: Path) -> None:
    (site / "corpus" / "extra.jsonl").write_text(
        '{"_id": "beir-1", "title": "T", "text": "A record of a BEIR corpus."}\n', encoding="utf-8"
    )
    with serving_app(site) as client:
        response = client.put("/documents/beir-1", content="body\n", headers={**AUTH, **MARKDOWN})
        assert response.status_code == 409
        assert "extra.jsonl" in response.json()["detail"]
        assert client.delete("/documents/beir-1", headers=AUTH).status_code == 409


def test_a_broken_file_elsewhere_in_the_corpus_is_named_and_nothing_changes(
    admin: TestClient, site: Path
) -> None:
    (site / "corpus" / "broken.md").write_text("---\nkind: blog\n---\nbody\n", encoding="utf-8")
    response = put_article(admin, "servant-leadership", NEW_ARTICLE)
    assert response.status_code == 409
    assert_error_body(response.json(), "corpus_conflict")
    assert "broken.md:2" in response.json()["detail"]
    assert not (site / "corpus" / "servant-leadership.md").exists()


def test_a_second_update_while_one_runs_gets_409(admin: TestClient, site: Path) -> None:
    before = version(admin)
    with update_lock(site / "index"):  # as another request or `leadgraph add` would hold it
        response = put_article(admin, "servant-leadership", NEW_ARTICLE)
        assert response.status_code == 409
        assert_error_body(response.json(), "update_in_progress")
        assert admin.post("/admin/reindex", headers=AUTH).status_code == 409
    assert version(admin) == before
    assert admin.post("/admin/reindex", headers=AUTH).status_code == 200  # free again


def test_an_update_during_leadgraph_index_gets_409_and_restores_the_corpus(
    admin: TestClient, site: Path
) -> None:
    corpus = snapshot(site / "corpus")
    with build_lock(site / "index"):  # `leadgraph index` is writing this index
        response = admin.put(
            "/documents/synergy-of-success",
            content=NEW_ARTICLE.replace("servant-leadership", "synergy-of-success"),
            headers={**AUTH, **MARKDOWN},
        )
    assert response.status_code == 409
    assert_error_body(response.json(), "update_in_progress")
    assert snapshot(site / "corpus") == corpus


def test_a_failed_rebuild_puts_the_corpus_back(
    admin: TestClient, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, corpus = version(admin), snapshot(site / "corpus")

    def broken_build(*args: object, **kwargs: object) -> object:
        raise OntologyError("ontology/leadership.ttl: does not parse")

    monkeypatch.setattr(admin_module, "build_index", broken_build)
    replaced = admin.put(
        "/documents/synergy-of-success",
        content="---\nid: synergy-of-success\n---\nShort.\n",
        headers={**AUTH, **MARKDOWN},
    )
    created = put_article(admin, "servant-leadership", NEW_ARTICLE)
    deleted = admin.delete("/documents/synergy-of-success", headers=AUTH)
    for response in (replaced, created, deleted):
        assert response.status_code == 503
        assert "nothing changed" in response.json()["detail"]
    assert snapshot(site / "corpus") == corpus
    assert version(admin) == before


# --- serving across updates --------------------------------------------------------------------


def test_searches_never_fail_while_a_put_swaps_the_index(admin: TestClient) -> None:
    before = version(admin)
    stop = threading.Event()
    failures: list[str] = []
    counts = {"before": 0, "after": 0}
    lock = threading.Lock()
    requests: list[Callable[[], httpx.Response]] = [
        lambda: admin.get("/search", params={"q": "leaders inspire a vision", "k": 5}),
        lambda: admin.get("/search", params={"q": "servant leader stewardship", "k": 5}),
        lambda: admin.post("/ask", json={"question": "What do managers do?"}),
        lambda: admin.post("/context", json={"question": "What is leadership?", "k": 3}),
    ]

    def reader(send: Callable[[], httpx.Response]) -> None:
        while not stop.is_set():
            response = send()
            served = admin.get("/ready").json()["index"]["version"]
            with lock:
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                counts["before" if served == before else "after"] += 1

    threads = [threading.Thread(target=reader, args=(send,)) for send in requests]
    for thread in threads:
        thread.start()
    try:
        # two swaps: the new document in, and out again
        assert put_article(admin, "servant-leadership", NEW_ARTICLE).status_code == 201
        assert admin.delete("/documents/servant-leadership", headers=AUTH).status_code == 200
        while counts["after"] < 20 and not failures:  # let readers run on the newest version
            threading.Event().wait(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert counts["before"] > 0 and counts["after"] > 0


def test_a_request_holding_the_previous_index_finishes_on_it(admin: TestClient) -> None:
    held = app_services(admin.app)  # what a request resolved just before the swap
    before = held.resources.index.manifest.version
    assert put_article(admin, "servant-leadership", NEW_ARTICLE).status_code == 201
    assert held.resources.index.manifest.version == before
    answer = held.search.search("servant leader stewardship", k=50, mode=SearchMode.hybrid)
    assert answer.hits
    assert "servant-leadership" not in {h.document_id for h in answer.hits}
    fresh = app_services(admin.app)
    assert fresh.resources.index.manifest.version != before
    assert "servant-leadership" in fresh.resources.index.documents


def test_a_version_published_by_another_process_is_served_without_restart(site: Path) -> None:
    with serving_app(site, index_watch_s=0.05) as client:
        before = version(client)
        (site / "corpus" / "servant-leadership.md").write_text(NEW_ARTICLE, encoding="utf-8")
        # what `leadgraph reindex` does, from outside the app
        outcome = CorpusEditor(
            corpus=site / "corpus", index=site / "index", embedder=HashingEmbedder()
        ).reindex()
        for _ in range(200):
            if version(client) != before:
                break
            threading.Event().wait(0.05)
        assert version(client) == outcome.report.manifest.version
        assert client.get("/documents/servant-leadership").status_code == 200


def test_a_damaged_index_is_503_until_reindex_rebuilds_it_without_its_vectors(site: Path) -> None:
    folder = resolve_version(site / "index")
    passages = len(load_index(site / "index").passages)
    target = folder / "passages.npy"
    target.write_bytes(target.read_bytes()[:-64])  # truncated
    with serving_app(site) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "checksum mismatch" in ready.json()["detail"]
        assert client.get("/search", params={"q": "leadership"}).status_code == 503
        response = client.post("/admin/reindex", headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["embedded"] == passages  # nothing taken from the damaged file
        assert client.get("/ready").status_code == 200
        assert client.get("/search", params={"q": "leadership"}).status_code == 200


def _passage_inputs(root: Path) -> list[str]:
    index = load_index(root)
    return [passage_input(index.documents[p.document_id], p) for p in index.passages]
