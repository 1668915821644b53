from __future__ import annotations

import numpy as np
import pytest

from leadgraph.indexer.embedder import SentenceTransformerEmbedder


@pytest.mark.model
def test_count_tokens_matches_the_tokenizer_and_is_not_cut_at_the_window(
    real_embedder: SentenceTransformerEmbedder,
) -> None:
    tokenizer = real_embedder.module.tokenizer
    texts = [
        "",
        "Leadership",
        "Naïve “quotes”, em—dashes and 1,204 managers (37%) in 2019.",
        "Decision-making under uncertainty needs clear ownership. " * 60,  # past the window
    ]
    expected = [
        len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]) for text in texts
    ]
    assert [real_embedder.count_tokens(text) for text in texts] == expected
    assert real_embedder.count_tokens_batch(texts) == expected  # one call, the same counts
    assert real_embedder.count_tokens_batch([]) == []
    assert real_embedder.count_tokens(texts[-1]) > real_embedder.max_tokens


@pytest.mark.model
def test_token_vectors_come_with_the_text_vector_from_one_pass(
    real_embedder: SentenceTransformerEmbedder,
) -> None:
    texts = ["Managers coach their teams.", "Trust"]
    encoded = real_embedder.encode_tokens(texts)
    plain = real_embedder.encode(texts)
    for item, vector, text in zip(encoded, plain, texts, strict=True):
        assert np.dot(item.vector, vector) == pytest.approx(1.0, abs=1e-4)
        assert len(item.pieces) == item.tokens.shape[0] == real_embedder.count_tokens(text)
        assert np.linalg.norm(item.tokens, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert encoded[0].pieces[0] == "managers"
    assert real_embedder.encode_tokens([]) == []
