"""Test doubles: a fast, deterministic embedder standing in for the sentence-transformers model."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from leadgraph.indexer.embedder import TokenVectors, Vectors
from leadgraph.indexer.text import STOP_WORDS, tokenize


class HashingEmbedder:
    """Bag of stems hashed into `dimension` buckets, L2-normalised.

    Texts sharing content words get similar vectors, which is enough for the pipeline's
    semantic steps to behave plausibly in tests without loading a model.
    """

    name = "fake-hashing"
    max_tokens = 256

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension
        self.calls: list[int] = []  # sizes of encode() batches, for incremental-build tests

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        self.calls.append(len(texts))
        return self._vectors(texts)

    def _vectors(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                if token.norm in STOP_WORDS:
                    continue
                digest = hashlib.blake2b(token.stem.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dimension] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:
                out[row, 0] = 1.0
            else:
                out[row] /= norm
        return out

    def encode_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Each text's vector, and per word (stop words too) the vector `encode` gives it alone:
        a token matches a token of the same stem."""
        out = []
        for text, vector in zip(texts, self._vectors(texts), strict=True):
            words = [t.norm for t in tokenize(text)] or [text]
            out.append(TokenVectors(vector, tuple(words), self._vectors(words)))
        return out

    def count_tokens(self, text: str) -> int:
        return len(tokenize(text)) + text.count(",") + text.count(".")

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return [self.count_tokens(text) for text in texts]
