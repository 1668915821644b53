from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from leadgraph.app.config import Settings
from leadgraph.indexer import onnx_embedder
from leadgraph.indexer.embedder import SentenceTransformerEmbedder
from leadgraph.indexer.onnx_embedder import (
    META_FILE,
    MODEL_FILE,
    SMALL_BATCH,
    OnnxEmbedder,
    OnnxUnavailable,
    default_threads,
    fingerprint,
    with_onnx,
)
from tests.fakes import HashingEmbedder

# not the probes the loader checks itself with: what a user might type, and a passage
TEXTS = [
    "what do good managers do in their first 90 days?",
    "psychological safety",
    "Delegation fails when authority is handed over without the information to use it. "
    "Teams then escalate every decision, and the manager becomes the bottleneck again.",
    "Wie führt man ein Team durch eine Krise?",
    "1:1s",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx(real_embedder: SentenceTransformerEmbedder, onnx_cache: Path) -> OnnxEmbedder:
    wrapped = with_onnx(real_embedder, cache_dir=onnx_cache)
    assert isinstance(wrapped, OnnxEmbedder)
    return wrapped


@pytest.mark.model
def test_onnx_vectors_match_torch_within_1e4_cosine(
    onnx: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder
) -> None:
    reference = real_embedder.encode(TEXTS)
    one_by_one = np.vstack([onnx.encode([text]) for text in TEXTS])
    batched = onnx.encode_onnx(TEXTS)
    for vectors in (one_by_one, batched):
        assert vectors.dtype == np.float32 and vectors.shape == reference.shape
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert float(np.max(1.0 - np.einsum("ij,ij->i", reference, vectors))) <= 1e-4
    assert onnx.name == real_embedder.name and onnx.dimension == real_embedder.dimension
    assert onnx.count_tokens(TEXTS[2]) == real_embedder.count_tokens(TEXTS[2])
    assert onnx.encode([]).shape == (0, real_embedder.dimension)


@pytest.mark.model
def test_large_batches_go_to_torch_small_ones_to_onnxruntime(
    onnx: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    real_encode = onnx.torch.encode

    def counting(texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        sizes.append(len(texts))
        return real_encode(texts)

    monkeypatch.setattr(onnx.torch, "encode", counting)
    onnx.encode(["one query"] * SMALL_BATCH)
    assert sizes == []
    onnx.encode(["a passage"] * (SMALL_BATCH + 1))
    assert sizes == [SMALL_BATCH + 1]


@pytest.mark.model
def test_a_cached_export_is_reused_without_exporting_again(
    onnx: OnnxEmbedder,
    real_embedder: SentenceTransformerEmbedder,
    onnx_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (onnx_cache / fingerprint(real_embedder) / MODEL_FILE).is_file()

    def no_export(*_args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_embedder, "export_onnx", no_export)
    assert isinstance(with_onnx(real_embedder, cache_dir=onnx_cache), OnnxEmbedder)


@pytest.mark.model
def test_query_tokens_from_the_rust_tokenizer_are_the_models_own(
    onnx: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder
) -> None:
    assert onnx._tokenize is not None  # MiniLM's tokenizer passes the probe check
    names = ["input_ids", "attention_mask", "token_type_ids"]
    long_text = " ".join(TEXTS * 60)  # past the window: truncated the same way
    for batch in [[text] for text in TEXTS] + [TEXTS, [long_text, "short"]]:
        direct = onnx.features(batch)
        own = real_embedder.module.preprocess(batch)
        for name in names:
            assert np.array_equal(direct[name], own[name].numpy()), (batch, name)


@pytest.mark.model
def test_a_tokenizer_that_cannot_be_matched_keeps_the_models_preprocessing(
    real_embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["input_ids", "attention_mask", "token_type_ids"]
    tokenizer = real_embedder.module.tokenizer
    monkeypatch.setattr(tokenizer, "padding_side", "left")
    assert onnx_embedder._direct_tokenizer(real_embedder, names) is None
    monkeypatch.setattr(tokenizer, "padding_side", "right")
    assert onnx_embedder._direct_tokenizer(real_embedder, names) is not None
    # a window the model's preprocessing does not use: the probe check catches it
    monkeypatch.setattr(type(real_embedder), "max_tokens", property(lambda _: 16))
    assert onnx_embedder._direct_tokenizer(real_embedder, names) is None


@pytest.mark.model
def test_the_export_is_fused_and_the_torch_model_keeps_its_attention(
    onnx: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder, onnx_cache: Path
) -> None:
    import onnx as onnx_format

    folder = onnx_cache / fingerprint(real_embedder)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    layers = real_embedder.module[0].auto_model.config.num_hidden_layers
    assert meta["fused"]["Attention"] == layers
    graph = onnx_format.load(str(folder / MODEL_FILE)).graph
    assert [n.op_type for n in graph.node].count("Attention") == layers
    assert len(graph.node) < 100  # about 530 before the fusions
    # the export switched the shared torch model (loaded on SDPA) to eager attention and back
    assert real_embedder.module[0].auto_model.config._attn_implementation == "sdpa"


@pytest.mark.model
def test_an_export_whose_fusions_fail_is_kept_unfused(
    real_embedder: SentenceTransformerEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onnxruntime.transformers import optimizer

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("fusion pass exploded")

    monkeypatch.setattr(optimizer, "optimize_model", broken)
    unfused = with_onnx(real_embedder, cache_dir=tmp_path, threads=1)
    assert isinstance(unfused, OnnxEmbedder)  # checked against torch like any export
    meta = json.loads((tmp_path / fingerprint(real_embedder) / META_FILE).read_text("utf-8"))
    assert meta["fused"] == {}


@pytest.mark.model
def test_the_encode_runs_on_the_threads_asked_for(
    onnx: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder, onnx_cache: Path
) -> None:
    assert onnx.threads == default_threads() == min(2, len(os.sched_getaffinity(0)))
    one = with_onnx(real_embedder, cache_dir=onnx_cache, threads=1)
    two = with_onnx(real_embedder, cache_dir=onnx_cache, threads=2)
    assert isinstance(one, OnnxEmbedder) and isinstance(two, OnnxEmbedder)
    assert [s.get_session_options().intra_op_num_threads for s in one.sessions] == [1]
    assert [s.get_session_options().intra_op_num_threads for s in two.sessions] == [1, 2]
    assert (one.threads, two.threads) == (1, 2)
    texts = ["who bridges leaders and the workforce?"]
    for session in two.sessions:
        assert np.allclose(two.encode_onnx(texts, session=session), one.encode(texts), atol=1e-5)


class _Recorder:
    """A session stand-in that notes its runs and can hold one until released."""

    def __init__(self, session: Any, name: str, log: list[str]) -> None:
        self.session, self.name, self.log = session, name, log
        self.entered, self.release = threading.Event(), threading.Event()
        self.release.set()

    def run(self, outputs: Any, feed: dict[str, Any]) -> Any:
        self.log.append(self.name)
        self.entered.set()
        assert self.release.wait(timeout=30)
        return self.session.run(outputs, feed)


@pytest.mark.model
def test_a_lone_encode_takes_the_wide_session_and_a_concurrent_one_the_narrow(
    real_embedder: SentenceTransformerEmbedder, onnx_cache: Path
) -> None:
    two = with_onnx(real_embedder, cache_dir=onnx_cache, threads=2)
    assert isinstance(two, OnnxEmbedder)
    used: list[str] = []
    narrow, wide = (_Recorder(s, name, used) for s, name in zip(two.sessions, "12", strict=True))
    two._session, two._wide = narrow, wide
    two.encode(["alone"])
    assert used == ["2"]

    wide.entered.clear()
    wide.release.clear()  # the next wide run holds until released
    first = threading.Thread(target=two.encode, args=(["first"],))
    first.start()
    assert wide.entered.wait(timeout=30)
    two.encode(["while the first runs"])  # must not wait for the wide session
    wide.release.set()
    first.join(timeout=30)
    assert used == ["2", "2", "1"]
    two.encode(["alone again"])
    assert used[-1] == "2"


@pytest.mark.model
def test_falls_back_to_torch_with_a_log_line_when_the_export_fails(
    real_embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_export(*_args: object) -> None:
        raise OnnxUnavailable("ONNX export of the model failed: exporter exploded")

    monkeypatch.setattr(onnx_embedder, "export_onnx", broken_export)
    with caplog.at_level(logging.WARNING, logger="leadgraph.onnx"):
        assert with_onnx(real_embedder, cache_dir=tmp_path) is real_embedder
    assert "query encoding stays on torch" in caplog.text and "exploded" in caplog.text


@pytest.mark.model
def test_falls_back_when_the_cache_cannot_be_written(
    real_embedder: SentenceTransformerEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="leadgraph.onnx"):
        assert with_onnx(real_embedder, cache_dir=blocker) is real_embedder
    assert "cannot write the ONNX cache" in caplog.text


@pytest.mark.model
def test_falls_back_when_the_cached_export_is_corrupt(
    real_embedder: SentenceTransformerEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / fingerprint(real_embedder)
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(b"\x08\x07 not a protobuf")
    with caplog.at_level(logging.WARNING, logger="leadgraph.onnx"):
        assert with_onnx(real_embedder, cache_dir=tmp_path) is real_embedder
    assert "cannot load" in caplog.text


@pytest.mark.model
def test_refuses_an_export_whose_vectors_differ_from_torch(
    onnx: OnnxEmbedder,
    real_embedder: SentenceTransformerEmbedder,
    onnx_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_run = onnx_embedder.OnnxEmbedder.encode_onnx

    def skewed(self: OnnxEmbedder, texts: list[str], *, session: Any = None) -> np.ndarray:
        vectors = real_run(self, texts, session=session)
        vectors[:, 0] += 0.05  # about 1e-3 off in cosine: beyond the tolerance
        skewed_vectors: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return skewed_vectors

    monkeypatch.setattr(onnx_embedder.OnnxEmbedder, "encode_onnx", skewed)
    with caplog.at_level(logging.WARNING, logger="leadgraph.onnx"):
        assert with_onnx(real_embedder, cache_dir=onnx_cache) is real_embedder
    assert "differs from torch" in caplog.text


@pytest.mark.model
def test_disabled_means_torch_and_no_export(
    real_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    assert with_onnx(real_embedder, enabled=False, cache_dir=tmp_path) is real_embedder
    assert list(tmp_path.iterdir()) == []


def test_embedders_other_than_sentence_transformers_are_left_alone(tmp_path: Path) -> None:
    fake = HashingEmbedder()
    assert with_onnx(fake, cache_dir=tmp_path) is fake
    assert list(tmp_path.iterdir()) == []


def test_the_setting_reads_leadgraph_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().onnx is True and Settings().onnx_threads is None
    monkeypatch.setenv("LEADGRAPH_ONNX", "0")
    monkeypatch.setenv("LEADGRAPH_ONNX_CACHE", "/var/cache/lg")
    monkeypatch.setenv("LEADGRAPH_ONNX_THREADS", "2")
    settings = Settings()
    assert settings.onnx is False and settings.onnx_cache == Path("/var/cache/lg")
    assert settings.onnx_threads == 2


@pytest.mark.parametrize("operator", [None, "1"])
def test_onnxruntime_writes_nothing_outside_the_service_folders(
    tmp_path: Path, operator: str | None
) -> None:
    """onnxruntime's telemetry would write a device id and an SQLite queue under
    $XDG_CACHE_HOME/Microsoft at import, and keep the queue open for writing."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    if operator is not None:
        env["ORT_DISABLE_TELEMETRY"] = operator
    code = (
        "from leadgraph.indexer.onnx_embedder import import_onnxruntime; "
        "ort = import_onnxruntime(); import numpy as np; print(ort.__version__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "cache").exists(), sorted((tmp_path / "cache").rglob("*"))
