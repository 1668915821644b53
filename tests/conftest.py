from __future__ import annotations

import os
from pathlib import Path

import pytest

from leadgraph.indexer.build import build_index
from tests.fakes import HashingEmbedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
ONTOLOGY = ROOT / "ontology" / "leadership.ttl"
SHAPES = ROOT / "ontology" / "shapes.ttl"


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The shipped sentence-transformers model, loaded once per test session."""
    from leadgraph.indexer.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:  # type: ignore[no-untyped-def]
    """The bundled corpus indexed with the real model, once per test session."""
    root = tmp_path_factory.mktemp("real-index") / "index"
    build_index([CORPUS], root, embedder=real_embedder)
    return root
