"""An index file damaged after it was written, with checksums off (`verify=False`,
LEADGRAPH_VERIFY_CHECKSUMS=0): every one is refused as IndexMismatch naming that file, so the
service answers /ready 503 as for a checksum mismatch, never stops at start."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from leadgraph.indexer.build import build_index
from leadgraph.indexer.errors import IndexMismatch
from leadgraph.indexer.store import MANIFEST, load_index, resolve_version
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("damaged") / "index"
    build_index([CORPUS], root, embedder=HashingEmbedder())
    return root


def _files(root: Path) -> list[str]:
    return sorted(p.name for p in resolve_version(root).iterdir() if p.name != MANIFEST)


# read only by the next build, to reuse vectors, and only when their checksums match
REUSE_ONLY = {"passages.keys.json", "sentences.keys.json", "sentences.npy", "concepts.keys.json"}


def _copy(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "index"
    shutil.copytree(built, root, symlinks=True)
    return root


@pytest.mark.parametrize("cut", ["half", "empty"])
def test_every_damaged_file_is_refused_naming_it(built: Path, tmp_path: Path, cut: str) -> None:
    names = _files(built)
    assert REUSE_ONLY < set(names)
    for name in names:
        root = _copy(built, tmp_path / name)
        target = resolve_version(root) / name
        os.truncate(target, target.stat().st_size // 2 if cut == "half" else 0)
        if name in REUSE_ONLY or name == "graph.ttl":
            # serving never reads the first; the service reads the graph itself (below)
            load_index(root, verify=False)
            continue
        with pytest.raises(IndexMismatch) as raised:
            load_index(root, verify=False)
            pytest.fail(f"{name} cut {cut}: loaded")
        assert name in str(raised.value), (name, str(raised.value))
        assert "leadgraph index" in str(raised.value)


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
@pytest.mark.parametrize("name", ["lexical.npz", "graph.ttl", "passages.faiss"])
def test_the_service_answers_ready_503_for_a_truncated_file(
    built: Path, tmp_path: Path, name: str, engine: str
) -> None:
    """The reproducer of the issue: lexical.npz cut short stopped the process (BadZipFile).
    graph.ttl cut at a statement's end still parses: its triples are counted."""
    root = _copy(built, tmp_path)
    target = resolve_version(root) / name
    text = target.read_bytes()
    cut = text.rfind(b" .\n", 0, len(text) // 2) + 3 if name == "graph.ttl" else len(text) // 2
    os.truncate(target, cut)
    settings = Settings(index=root, verify_checksums=False, index_watch_s=0, sparql_engine=engine)
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        ready = client.get("/ready")
        search = client.get("/search", params={"q": "trust"})
        health = client.get("/health")
    assert ready.status_code == 503 and search.status_code == 503
    assert name in ready.json()["detail"], ready.json()["detail"]
    assert "leadgraph reindex" in ready.json()["detail"]
    assert health.status_code == 200
