"""Updates under faults and load, in real processes: an update killed with SIGKILL at chosen
points, `leadgraph serve` killed in the middle of a PUT and started again, a damaged index file
at start, and readers that never see a failure while an update swaps the index."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from leadgraph.app.services.admin import CorpusEditor
from leadgraph.indexer.build import build_index
from leadgraph.indexer.store import load_index, resolve_version
from tests.conftest import CORPUS, ROOT
from tests.fakes import HashingEmbedder
from tests.serving import ENV, started, wait_ready

TOKEN = "update-safety-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WAIT_S = 120.0  # bound on every wait below; reached only when something is broken

ARTICLE = """---
id: servant-leadership
title: Servant Leadership
---
# Servant Leadership

A servant leader puts the growth of the team first and listens before deciding. The
zanzibarian quorum of listeners is the word the tests search for.
"""

# Runs `leadgraph ARGS...` in this process with the fake embedder, and stalls (so that the test
# can kill it there) at the first encoding, or just before the new version is published.
WORKER = """
import sys, time
from pathlib import Path
from leadgraph.app import cli
from leadgraph.indexer import embedder, store
from tests.fakes import HashingEmbedder

where, marker = sys.argv[1], Path(sys.argv[2])

def stall(*args, **kwargs):
    marker.write_text(where)
    time.sleep(600)

class Stalling(HashingEmbedder):
    def encode(self, texts, *, show_progress=False):
        stall()

embedder.SentenceTransformerEmbedder = lambda model: (
    Stalling() if where == "embedding" else HashingEmbedder()
)
if where == "publishing":
    store._publish = stall
cli.main(sys.argv[3:])
"""


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the process exited with {process.returncode} before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {WAIT_S:g} s")
        time.sleep(0.01)


def sigkill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


# --- SIGKILL of `leadgraph add` at chosen points (fake embedder) -------------------------------


@pytest.fixture(scope="module")
def fake_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fake-site")
    shutil.copytree(CORPUS, folder / "corpus")
    build_index([folder / "corpus"], folder / "index", embedder=HashingEmbedder())
    return folder


@pytest.mark.parametrize("where", ["embedding", "publishing"])
def test_sigkill_during_an_update_leaves_the_previous_index_published(
    fake_built: Path, tmp_path: Path, where: str
) -> None:
    corpus, root = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(fake_built / "corpus", corpus)
    shutil.copytree(fake_built / "index", root, symlinks=True)
    before = resolve_version(root)
    article, marker = tmp_path / "servant.md", tmp_path / "stalled"
    article.write_text(ARTICLE, encoding="utf-8")
    command = [sys.executable, "-c", WORKER, where, str(marker), "add", str(article)]
    command += ["--index", str(root), "--corpus", str(corpus)]
    process = subprocess.Popen(command, cwd=ROOT, env=ENV)
    try:
        wait_for(marker.exists, f"stall at {where}", process)
    finally:
        sigkill(process)

    assert resolve_version(root) == before
    index = load_index(root, model=HashingEmbedder.name)  # every checksum verified
    assert len(index.documents) == 3 and "servant-leadership" not in index.documents
    # the corpus was one change ahead; no lock outlived the process, so the next update runs
    # and brings the change into the index
    outcome = CorpusEditor(corpus=corpus, index=root, embedder=HashingEmbedder()).reindex()
    assert outcome.previous_version == before.name
    assert "servant-leadership" in load_index(root).documents
    assert not list(root.glob(".build-*"))
    assert not [p for p in corpus.iterdir() if p.name.startswith(".")]


# --- `leadgraph serve` (real model) ------------------------------------------------------------


@pytest.fixture
def site(real_index: Path, tmp_path: Path) -> Path:
    """A copy of the bundled corpus and of its index built with the real model."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    shutil.copytree(real_index, tmp_path / "index", symlinks=True)
    return tmp_path


def server(
    site: Path, log_path: Path
) -> AbstractContextManager[tuple[subprocess.Popen[bytes], str]]:
    """`leadgraph serve` over the site with admin enabled, as a process and its base URL; not
    waited for (tests wait for what they expect)."""
    corpus = ["--corpus", str(site / "corpus")]
    return started(site / "index", log_path, *corpus, env={"LEADGRAPH_ADMIN_TOKEN": TOKEN})


def served_version(base: str) -> str:
    response = httpx.get(f"{base}/ready", timeout=10)
    assert response.status_code == 200, response.text
    name: str = response.json()["index"]["version"]
    return name


@pytest.mark.server
@pytest.mark.model
def test_readers_never_fail_while_an_update_swaps_the_index(site: Path, tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    with server(site, log_path) as (process, base):
        wait_ready(base, process, log_path)
        before = served_version(base)
        stop = threading.Event()
        lock = threading.Lock()
        failures: list[str] = []
        finished: list[float] = []  # time.monotonic() at each answer

        def reader(method: str, path: str, payload: dict[str, object]) -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                while not stop.is_set():
                    try:
                        if method == "GET":
                            response = client.get(path, params=payload)
                        else:
                            response = client.post(path, json=payload)
                        problem = None if response.status_code == 200 else response.text[:200]
                    except httpx.HTTPError as exc:
                        problem = repr(exc)
                    with lock:
                        finished.append(time.monotonic())
                        if problem is not None:
                            failures.append(f"{method} {path}: {problem}")

        readers = [
            ("GET", "/search", {"q": "leaders inspire a shared vision", "k": 5}),
            ("GET", "/concepts", {"q": "manager"}),
            ("POST", "/ask", {"question": "What do managers do?"}),
            ("GET", "/search", {"q": "servant leader listens", "k": 5, "mode": "dense"}),
        ]
        threads = [threading.Thread(target=reader, args=args) for args in readers]
        for thread in threads:
            thread.start()
        try:
            with httpx.Client(base_url=base, headers=AUTH, timeout=WAIT_S) as admin:
                put_started = time.monotonic()
                put = admin.put(
                    "/documents/servant-leadership",
                    content=ARTICLE,
                    headers={"Content-Type": "text/markdown"},
                )
                put_ended = time.monotonic()
                assert put.status_code == 201, put.text
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=WAIT_S)
        assert failures == []
        result = put.json()
        assert result["previous_version"] == before
        assert served_version(base) == result["version"]
        assert result["reused"] == result["counts"]["passages"] - result["embedded"] > 0
        hits = httpx.get(
            f"{base}/search", params={"q": "zanzibarian quorum", "mode": "lexical"}
        ).json()["hits"]
        assert hits and hits[0]["document_id"] == "servant-leadership"
        # readers were answered while the update rebuilt and swapped, not only around it
        assert sum(put_started < t < put_ended for t in finished) > 0
        assert process.poll() is None


@pytest.mark.server
@pytest.mark.model
def test_a_server_killed_mid_update_restarts_on_the_previous_index(
    site: Path, tmp_path: Path
) -> None:
    target = site / "corpus" / "servant-leadership.md"
    with server(site, tmp_path / "first.log") as (process, base):
        wait_ready(base, process, tmp_path / "first.log")
        before = served_version(base)

        outcome: list[object] = []

        def put() -> None:
            try:
                outcome.append(
                    httpx.put(
                        f"{base}/documents/servant-leadership",
                        content=ARTICLE,
                        headers={**AUTH, "Content-Type": "text/markdown"},
                        timeout=WAIT_S,
                    )
                )
            except httpx.TransportError as exc:
                outcome.append(exc)

        request = threading.Thread(target=put)
        request.start()
        # the article is in the corpus: the rebuild has begun, and takes seconds
        wait_for(target.exists, "article in the corpus", process)
        sigkill(process)
        request.join(timeout=WAIT_S)
    [killed] = outcome
    assert isinstance(killed, httpx.TransportError)  # no answer: the server died under it
    assert resolve_version(site / "index").name == before

    with server(site, tmp_path / "second.log") as (process, base):
        wait_ready(base, process, tmp_path / "second.log")
        assert served_version(base) == before
        assert httpx.get(f"{base}/documents/servant-leadership").status_code == 404
        search = httpx.get(f"{base}/search", params={"q": "leadership"})
        assert search.status_code == 200 and search.json()["hits"]
    # (that the corpus change is brought in by the next update is shown with the fake embedder)


@pytest.mark.server
@pytest.mark.model
def test_a_damaged_index_file_keeps_the_server_up_with_ready_503(
    site: Path, tmp_path: Path
) -> None:
    damaged = resolve_version(site / "index") / "passages.faiss"
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])  # truncated
    log_path = tmp_path / "serve.log"
    with server(site, log_path) as (process, base):

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, "answer on /health", process)
        ready = httpx.get(f"{base}/ready")
        assert ready.status_code == 503
        assert ready.json()["error"] == "index_not_ready"
        assert "passages.faiss: checksum mismatch" in ready.json()["detail"]
        assert httpx.get(f"{base}/search", params={"q": "leadership"}).status_code == 503
        log = log_path.read_text(errors="replace")
        assert "index not loaded, /ready answers 503" in log
        assert f"leadgraph reindex --index {site / 'index'}" in log
        assert "Traceback" not in log
        assert process.poll() is None  # up, not crashing and restarting
    # (the fix while it runs, POST /admin/reindex, is shown in tests/api/test_admin.py)
