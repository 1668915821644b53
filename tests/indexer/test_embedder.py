from __future__ import annotations

import pytest

from indexer.embedder import SentenceTransformerEmbedder


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
