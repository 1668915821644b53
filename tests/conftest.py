from __future__ import annotations

import os
from pathlib import Path

import pytest

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
    from indexer.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()
