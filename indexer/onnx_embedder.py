"""Query encoding through onnxruntime, on the very weights of the sentence-transformers model.

Encoding one short query costs tens of milliseconds in torch on two cores, most of it framework
overhead; onnxruntime runs the same graph in a few. The model (transformer, mean pooling, L2
normalisation) is exported locally with `torch.onnx.export` on first use and cached under
`<cache>/<fingerprint>/model.onnx`, the fingerprint being a hash of the weights, so a changed
model gets a new export and several processes share one. Every load checks the export against
torch on `PROBES` and refuses it when any vector's cosine differs by more than `TOLERANCE`.

`with_onnx` is the entry point: it wraps a `SentenceTransformerEmbedder` in an `OnnxEmbedder`,
or returns it unchanged (with a log line saying why) when the export cannot be made or checked.
Small batches (queries) go through onnxruntime; bulk encoding stays in torch, which is as fast
or faster on long padded batches (`bench/onnx_encode.py` measures both).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .embedder import Embedder, SentenceTransformerEmbedder, Vectors
from .errors import ModelError

log = logging.getLogger("leadgraph.onnx")

EXPORT_FORMAT = 1  # bump when the exported graph changes; it is part of the fingerprint
OPSET = 17
TOLERANCE = 1e-4  # largest 1 - cosine accepted between an onnxruntime and a torch vector
SMALL_BATCH = 8  # batches up to this size go through onnxruntime, larger ones through torch
QUERY_THREADS = 1  # default onnxruntime threads per encode call (docs/BENCHMARKS.md)
MODEL_FILE = "model.onnx"
META_FILE = "export.json"

# Short and long, ASCII and not, one past the model's window (truncation), and the same texts
# as one padded batch, so masking and pooling over padding are checked too.
PROBES: tuple[str, ...] = (
    "leadership",
    "How should a new manager give feedback to a team that resists change?",
    "Servant leadership, psychological safety and trust in distributed teams: a review.",
    "Délégation, autonomie et responsabilité — «leadership situationnel» (Hersey & Blanchard).",
    "The 2019 survey (n = 1,204) found that 37% of line managers never held one-to-ones.",
    " ".join(["Decision-making under uncertainty needs clear ownership and fast feedback."] * 40),
)


class OnnxUnavailable(ModelError):
    """The ONNX export cannot be made, loaded or trusted; torch is used instead."""


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/leadgraph/onnx`, or `~/.cache/leadgraph/onnx`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leadgraph" / "onnx"


class OnnxEmbedder:
    """An `Embedder` that encodes small batches with onnxruntime and the rest with torch.

    Name, dimension, window and token counts are the torch model's, so an index built with one
    is served by the other."""

    def __init__(self, torch_embedder: SentenceTransformerEmbedder, session: Any) -> None:
        self.torch = torch_embedder
        self._session = session
        self._inputs = [i.name for i in session.get_inputs()]

    @property
    def name(self) -> str:
        return self.torch.name

    @property
    def dimension(self) -> int:
        return self.torch.dimension

    @property
    def max_tokens(self) -> int:
        return self.torch.max_tokens

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        if len(texts) > SMALL_BATCH:
            return self.torch.encode(texts, show_progress=show_progress)
        return self.encode_onnx(texts)

    def encode_onnx(self, texts: Sequence[str]) -> Vectors:
        """Vectors of `texts` from onnxruntime, whatever the batch size."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # the model's own preprocessing (tokenizer, truncation at its window), as torch has it
        features = self.torch.module.preprocess(list(texts))
        feed = {name: features[name].numpy().astype(np.int64) for name in self._inputs}
        (vectors,) = self._session.run(None, feed)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return self.torch.count_tokens(text)


def with_onnx(
    embedder: Embedder,
    *,
    enabled: bool = True,
    cache_dir: Path | None = None,
    threads: int = QUERY_THREADS,
) -> Embedder:
    """`embedder` wrapped in an `OnnxEmbedder` (encoding on `threads` onnxruntime threads) when
    it is a sentence-transformers model whose export can be made (or is cached) and matches
    torch; otherwise `embedder` itself, with a log line saying why."""
    if not enabled or not isinstance(embedder, SentenceTransformerEmbedder):
        return embedder
    try:
        return load_onnx_embedder(embedder, cache_dir or default_cache_dir(), threads=threads)
    except OnnxUnavailable as exc:
        log.warning("query encoding stays on torch: %s", exc)
        return embedder


def load_onnx_embedder(
    embedder: SentenceTransformerEmbedder, cache_dir: Path, *, threads: int = QUERY_THREADS
) -> OnnxEmbedder:
    """The ONNX embedder over `embedder`'s weights, exporting them first when no export is
    cached; OnnxUnavailable when the export fails or its vectors differ from torch's."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxUnavailable("onnxruntime is not installed (pip install onnxruntime)") from exc
    folder = cache_dir / fingerprint(embedder)
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        with _locked(folder):
            if not model_path.is_file():  # another process may have exported it meanwhile
                log.info("exporting %s to ONNX in %s", embedder.name, folder)
                export_onnx(embedder, model_path)
    try:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: the CPU provider notes are noise here
        # one thread by default: concurrent requests each get one of their own, and on a busy
        # machine a second thread costs more in hand-offs than it saves
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
        raise OnnxUnavailable(f"cannot load {model_path}: {exc}") from exc
    onnx = OnnxEmbedder(embedder, session)
    worst = verify(onnx)
    if worst > TOLERANCE:
        raise OnnxUnavailable(
            f"{model_path} differs from torch by 1 - cosine = {worst:.2e} on a probe text "
            f"(at most {TOLERANCE:g} accepted); delete {folder} to export it again"
        )
    log.info("query encoding on onnxruntime (%s; 1 - cosine vs torch <= %.1e)", model_path, worst)
    return onnx


def verify(onnx: OnnxEmbedder, probes: Sequence[str] = PROBES) -> float:
    """The largest 1 - cosine between torch and onnxruntime vectors of `probes`, encoded one by
    one and as one padded batch."""
    reference = onnx.torch.encode(probes)
    singles = np.vstack([onnx.encode_onnx([text]) for text in probes])
    batch = onnx.encode_onnx(probes)
    worst = 0.0
    for vectors in (singles, batch):
        if vectors.shape != reference.shape or not np.all(np.isfinite(vectors)):
            return float("inf")
        # both sides are L2-normalised, so the row-wise inner product is the cosine
        cosines = np.einsum("ij,ij->i", reference, vectors)
        worst = max(worst, float(np.max(1.0 - cosines)))
    return worst


def fingerprint(embedder: SentenceTransformerEmbedder) -> str:
    """A hash of what the export depends on: the export format, the modules and their
    configuration, and every weight (names, shapes and bytes)."""
    digest = hashlib.sha256(f"leadgraph-onnx-{EXPORT_FORMAT}-{OPSET}".encode())
    module = embedder.module
    for child in module:
        config: dict[str, Any] = getattr(child, "get_config_dict", dict)()
        digest.update(f"{type(child).__name__}:{json.dumps(config, sort_keys=True)}".encode())
    for name, tensor in module.state_dict().items():
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()[:24]


def export_onnx(embedder: SentenceTransformerEmbedder, target: Path) -> None:
    """Writes the model (transformer → mean pooling over the attention mask → L2 normalisation)
    as ONNX to `target`, atomically; OnnxUnavailable if the model is not of that shape or the
    export fails."""
    import torch

    module = embedder.module
    kinds = [type(child).__name__ for child in module]
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
        raise OnnxUnavailable(f"only Transformer + Pooling [+ Normalize] models export: {kinds}")
    pooling = module[1].get_config_dict()
    if pooling.get("pooling_mode") != "mean" or not pooling.get("include_prompt", True):
        raise OnnxUnavailable(f"only mean pooling exports, not {pooling}")
    transformer = module[0].auto_model
    sample = module.preprocess(list(PROBES[:2]))
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise OnnxUnavailable(f"unexpected tokenizer outputs: {sorted(sample)}")

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            kwargs = dict(zip(names, inputs, strict=True))
            tokens = self.transformer(**kwargs).last_hidden_state
            mask = kwargs["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    axes["embedding"] = {0: "batch"}
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=target.parent)
    os.close(handle)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the tracer warns about Python conditions on shapes that are constant for an
            # encoder without a KV cache; `verify` checks the result on other shapes anyway
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Encoder().eval(),
                tuple(sample[name] for name in names),
                scratch,
                input_names=names,
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        meta = {
            "model": embedder.name,
            "path": embedder.path,
            "format": EXPORT_FORMAT,
            "opset": OPSET,
            "torch": torch.__version__,
            "inputs": names,
        }
        meta_scratch = Path(f"{scratch}.json")
        meta_scratch.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.replace(meta_scratch, target.parent / META_FILE)
        os.chmod(scratch, 0o644)  # mkstemp makes it private; the cache is shared
        os.replace(scratch, target)  # last: the model file's presence means a finished export
    except Exception as exc:  # the exporter raises many types; all mean "no export"
        raise OnnxUnavailable(f"ONNX export of {embedder.name} failed: {exc}") from exc
    finally:
        for leftover in (scratch, f"{scratch}.json"):
            if os.path.exists(leftover):
                os.unlink(leftover)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive flock on `folder`/.lock, so concurrent first starts export once."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".lock", "w")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise OnnxUnavailable(f"cannot write the ONNX cache {folder}: {exc}") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
