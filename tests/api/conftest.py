"""API fixtures: one index of the bundled corpus per session (fake embedder), a TestClient over it,
and the same with the real model for tests marked `model`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leadgraph.app.config import Settings
from leadgraph.app.main import create_app
from leadgraph.indexer.build import build_index
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder


@pytest.fixture(scope="session")
def api_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("api-index") / "index"
    build_index([CORPUS], root, embedder=HashingEmbedder(), semantic_threshold=0.35)
    return root


@pytest.fixture
def client(api_index: Path) -> Iterator[TestClient]:
    app = create_app(Settings(index=api_index), embedder=HashingEmbedder())
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def real_client(real_index: Path, real_embedder) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(Settings(index=real_index), embedder=real_embedder)
    with TestClient(app) as test_client:
        yield test_client
