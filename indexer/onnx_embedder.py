"""Query encoding through onnxruntime, on the very weights of the sentence-transformers model.

Encoding one short query costs tens of milliseconds in torch on two cores, most of it framework
overhead; onnxruntime runs the same graph in a few. The model (transformer, mean pooling, L2
normalisation) is exported locally with `torch.onnx.export` on first use and cached under
`<cache>/<fingerprint>/model.onnx`, the fingerprint being a hash of the weights, so a changed
model gets a new export and several processes share one. Every load checks the export against
torch on `PROBES` and refuses it when any vector's cosine differs by more than `TOLERANCE`.

The export traces the model with eager attention (the SDPA path traces into a few hundred
shape and mask nodes) and, for BERT-like models, fuses the graph with onnxruntime's transformer
optimizer: one Attention, SkipLayerNormalization and BiasGelu node where there were dozens, which
takes the per-node overhead out of a short query (62 nodes instead of about 530 for MiniLM-L6).

`with_onnx` is the entry point: it wraps a `SentenceTransformerEmbedder` in an `OnnxEmbedder`,
or returns it unchanged (with a log line saying why) when the export cannot be made or checked.
Small batches (queries) go through onnxruntime; bulk encoding stays in torch, which is as fast
or faster on long padded batches (`bench/onnx_encode.py` measures both).

A query encodes on `threads` onnxruntime threads when no other encode is running in the process,
and on one thread when another is: a lone query on an idle machine gains from the second core,
while concurrent requests each already keep a core busy and would only fight over the rest.
Encodes that go to torch (bulk batches of a rebuild, the token vectors of /ask) count as
running too, since they keep the cores busy just the same.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .embedder import Embedder, SentenceTransformerEmbedder, TokenVectors, Vectors
from .errors import ModelError

log = logging.getLogger("leadgraph.onnx")

EXPORT_FORMAT = 2  # bump when the exported graph changes; it is part of the fingerprint
OPSET = 17
TOLERANCE = 1e-4  # largest 1 - cosine accepted between an onnxruntime and a torch vector
SMALL_BATCH = 8  # batches up to this size go through onnxruntime, larger ones through torch
MAX_QUERY_THREADS = 2  # default threads of a lone encode, at most: a short query splits no wider
# model types whose graph onnxruntime's "bert" fusions apply to (same encoder block)
FUSABLE_MODEL_TYPES = frozenset({"bert", "roberta", "xlm-roberta", "camembert", "electra"})
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


def default_threads() -> int:
    """Threads of a lone query encode: the cores this process may use, at most
    `MAX_QUERY_THREADS`."""
    return max(1, min(MAX_QUERY_THREADS, len(os.sched_getaffinity(0))))


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/leadgraph/onnx`, or `~/.cache/leadgraph/onnx`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leadgraph" / "onnx"


class OnnxEmbedder:
    """An `Embedder` that encodes small batches with onnxruntime and the rest with torch.

    Name, dimension, window and token counts are the torch model's, so an index built with one
    is served by the other. `session` runs on one thread; `wide`, when given, is the same model
    on more, taken by an encode that finds no other one running."""

    def __init__(
        self, torch_embedder: SentenceTransformerEmbedder, session: Any, wide: Any = None
    ) -> None:
        self.torch = torch_embedder
        self._session = session
        self._wide = wide
        self._inputs = [i.name for i in session.get_inputs()]
        self._running = 0
        self._lock = threading.Lock()
        self._tokenize = _direct_tokenizer(torch_embedder, self._inputs)

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
            with self._counted():
                return self.torch.encode(texts, show_progress=show_progress)
        return self.encode_onnx(texts)

    def encode_onnx(self, texts: Sequence[str], *, session: Any = None) -> Vectors:
        """Vectors of `texts` from onnxruntime, whatever the batch size: on `session` (one of
        `sessions`) when given, else on the wide session when no other encode is running."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        feed = self.features(texts)
        with self._counted() as alone:
            if session is None:
                session = self._wide if alone and self._wide is not None else self._session
            (vectors,) = session.run(None, feed)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @contextmanager
    def _counted(self) -> Iterator[bool]:
        """Counts an encode as running for the block; True when no other one was."""
        with self._lock:
            alone = self._running == 0
            self._running += 1
        try:
            yield alone
        finally:
            with self._lock:
                self._running -= 1

    def features(self, texts: Sequence[str]) -> dict[str, npt.NDArray[np.int64]]:
        """The model's inputs for `texts`: from the Rust tokenizer directly when it gave the
        very ids of the model's own preprocessing on `PROBES`, else from that preprocessing
        (tokenizer, truncation at the window, padding), which costs about 0.8 ms more a query."""
        if self._tokenize is not None:
            return self._tokenize(texts)
        return _preprocessed(self.torch, texts, self._inputs)

    @property
    def sessions(self) -> tuple[Any, ...]:
        """The one-thread session, then the wide one if any."""
        return (self._session,) if self._wide is None else (self._session, self._wide)

    @property
    def threads(self) -> int:
        """Threads of a lone encode."""
        options = self.sessions[-1].get_session_options()
        return int(options.intra_op_num_threads)

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        # the export gives pooled vectors only; token vectors come from torch
        with self._counted():
            return self.torch.encode_tokens(texts)

    def count_tokens(self, text: str) -> int:
        return self.torch.count_tokens(text)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return self.torch.count_tokens_batch(texts)


def with_onnx(
    embedder: Embedder,
    *,
    enabled: bool = True,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> Embedder:
    """`embedder` wrapped in an `OnnxEmbedder` (a lone encode on `threads` onnxruntime threads,
    `default_threads()` when None) when it is a sentence-transformers model whose export can be
    made (or is cached) and matches torch; otherwise `embedder` itself, with a log line saying
    why."""
    if not enabled or not isinstance(embedder, SentenceTransformerEmbedder):
        return embedder
    try:
        return load_onnx_embedder(
            embedder, cache_dir or default_cache_dir(), threads=threads or default_threads()
        )
    except OnnxUnavailable as exc:
        log.warning("query encoding stays on torch: %s", exc)
        return embedder


def import_onnxruntime() -> Any:
    """The onnxruntime module, imported with its telemetry off; OnnxUnavailable when it is not
    installed.

    Since 1.2x onnxruntime's Linux build records usage events: at import it writes a device id
    and an SQLite queue (`$XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db`,
    kept open for writing) and tries to upload them over HTTPS. A service writes only inside
    its own folders and calls nobody, so `ORT_DISABLE_TELEMETRY=1` is set before the first
    import, unless the operator set it already."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxUnavailable("onnxruntime is not installed (pip install onnxruntime)") from exc
    if os.environ["ORT_DISABLE_TELEMETRY"] not in ("0", ""):
        onnxruntime.disable_telemetry_events()  # events of sessions made from here on too
    return onnxruntime


def load_onnx_embedder(
    embedder: SentenceTransformerEmbedder, cache_dir: Path, *, threads: int = 1
) -> OnnxEmbedder:
    """The ONNX embedder over `embedder`'s weights, exporting them first when no export is
    cached; OnnxUnavailable when the export fails or its vectors differ from torch's."""
    onnxruntime = import_onnxruntime()
    folder = cache_dir / fingerprint(embedder)
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        with _locked(folder):
            if not model_path.is_file():  # another process may have exported it meanwhile
                log.info("exporting %s to ONNX in %s", embedder.name, folder)
                export_onnx(embedder, model_path)
    session = _session(onnxruntime, model_path, 1)
    wide = _session(onnxruntime, model_path, threads) if threads > 1 else None
    onnx = OnnxEmbedder(embedder, session, wide)
    worst = verify(onnx)
    if worst > TOLERANCE:
        raise OnnxUnavailable(
            f"{model_path} differs from torch by 1 - cosine = {worst:.2e} on a probe text "
            f"(at most {TOLERANCE:g} accepted); delete {folder} to export it again"
        )
    log.info("query encoding on onnxruntime (%s; 1 - cosine vs torch <= %.1e)", model_path, worst)
    return onnx


Features = Callable[[Sequence[str]], dict[str, npt.NDArray[np.int64]]]


def _preprocessed(
    embedder: SentenceTransformerEmbedder, texts: Sequence[str], names: Sequence[str]
) -> dict[str, npt.NDArray[np.int64]]:
    """`names` of the model's own preprocessing of `texts`, as torch has it."""
    features = embedder.module.preprocess(list(texts))
    return {name: features[name].numpy().astype(np.int64) for name in names}


def _direct_tokenizer(
    embedder: SentenceTransformerEmbedder, names: Sequence[str]
) -> Features | None:
    """The model inputs `names` from a copy of its Rust tokenizer (truncated at the window,
    padded on the right), or None unless that gives exactly the ids, masks and type ids of the
    model's own preprocessing on `PROBES`, one by one and as a batch."""
    tokenizer = embedder.module.tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if backend is None or pad_id is None or getattr(tokenizer, "padding_side", "") != "right":
        return None
    fields = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
    if any(name not in fields for name in names):
        return None
    from tokenizers import Tokenizer

    try:
        rust = Tokenizer.from_str(backend.to_str())
        rust.no_padding()  # padded below, to the batch's longest
        rust.enable_truncation(max_length=embedder.max_tokens)
    except Exception as exc:  # the Rust side raises its own exception type
        log.info("query tokens through the model's preprocessing: %s", exc)
        return None

    def features(texts: Sequence[str]) -> dict[str, npt.NDArray[np.int64]]:
        # one encode per text: encode_batch would start the Rust thread pool, which forked
        # SPARQL workers must not inherit
        encodings = [rust.encode(text) for text in texts]
        width = max((len(e.ids) for e in encodings), default=0)
        out = {}
        for name in names:
            filler = pad_id if name == "input_ids" else 0
            rows = np.full((len(encodings), width), filler, dtype=np.int64)
            for i, encoding in enumerate(encodings):
                values = getattr(encoding, fields[name])
                rows[i, : len(values)] = values
            out[name] = rows
        return out

    for batch in [[text] for text in PROBES] + [list(PROBES)]:
        mine, theirs = features(batch), _preprocessed(embedder, batch, names)
        if any(not np.array_equal(mine[name], theirs[name]) for name in names):
            log.info("query tokens through the model's preprocessing: the direct tokenizer differs")
            return None
    return features


def _session(onnxruntime: Any, model_path: Path, threads: int) -> Any:
    """An onnxruntime CPU session of `model_path` on `threads` intra-op threads."""
    try:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: the CPU provider notes are noise here
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # the pool spins while a run lasts (hand-offs between layers stay fast) and stops when
        # it ends, rather than burning a core the next request or another process needs
        options.add_session_config_entry("session.force_spinning_stop", "1")
        return onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
        raise OnnxUnavailable(f"cannot load {model_path}: {exc}") from exc


def verify(onnx: OnnxEmbedder, probes: Sequence[str] = PROBES) -> float:
    """The largest 1 - cosine between torch and onnxruntime vectors of `probes`, encoded one by
    one and as one padded batch, on every session."""
    reference = onnx.torch.encode(probes)
    worst = 0.0
    for session in onnx.sessions:
        singles = np.vstack([onnx.encode_onnx([text], session=session) for text in probes])
        batch = onnx.encode_onnx(probes, session=session)
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
        with torch.no_grad(), warnings.catch_warnings(), _eager_attention(transformer):
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
        fused = _fuse(Path(scratch), transformer.config)
        meta = {
            "model": embedder.name,
            "path": embedder.path,
            "format": EXPORT_FORMAT,
            "opset": OPSET,
            "torch": torch.__version__,
            "inputs": names,
            "fused": fused,
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
def _eager_attention(transformer: Any) -> Iterator[None]:
    """The transformer on its eager attention for the block (a graph the fusions recognise),
    back on its own after; a no-op for models that cannot switch."""
    config = transformer.config
    before = getattr(config, "_attn_implementation", None)
    switch = getattr(transformer, "set_attn_implementation", None)
    if before in (None, "eager") or switch is None:
        yield
        return
    try:
        switch("eager")
    except (ValueError, ImportError) as exc:  # a model without an eager path keeps its own
        log.info("exporting with %s attention: %s", before, exc)
        yield
        return
    try:
        yield
    finally:
        switch(before)


def _fuse(path: Path, config: Any) -> dict[str, int]:
    """Rewrites the export at `path` with onnxruntime's transformer fusions when the model is
    BERT-like and they find its attention; the fused node counts (empty: left unfused)."""
    model_type = getattr(config, "model_type", None)
    heads = int(getattr(config, "num_attention_heads", 0) or 0)
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    if model_type not in FUSABLE_MODEL_TYPES or not heads or not hidden:
        return {}
    from onnxruntime.transformers.optimizer import optimize_model

    # opt_level 0: the Python fusions only, no onnxruntime pass that would tie the file to
    # this CPU; onnxruntime applies its own when it loads the model
    try:
        with _quiet():
            model = optimize_model(
                str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
            )
            counts = {op: n for op, n in model.get_fused_operator_statistics().items() if n}
            if counts.get("Attention"):
                model.save_model_to_file(str(path))
                return counts
    except Exception as exc:  # the optimizer's passes raise many types; the export stands
        log.info("onnxruntime fusions failed (%s); the export is left unfused", exc)
        return {}
    log.info("onnxruntime fusions found no attention in %s; left unfused", path.name)
    return {}


@contextmanager
def _quiet() -> Iterator[None]:
    """INFO records dropped for the block: the optimizer logs each pass under a dozen
    top-level logger names of its own. Process-wide, but only for the seconds of a first
    export."""
    before = logging.root.manager.disable
    logging.disable(max(before, logging.INFO))
    try:
        yield
    finally:
        logging.disable(before)


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
