"""Opens the search backends of a loaded index version by name: the factory of the protocols in
`indexer.retrieval`.

    dense:    "faiss"   FaissDense over passages.faiss / passages.npy      (indexer/local.py)
    lexical:  "bm25"    Bm25Lexical over lexical.npz / lexical.vocab.json  (indexer/local.py)
    catalogue:          MemoryCatalogue over the version's records         (indexer/local.py)

To add a backend: implement the protocol, add an opener to `DENSE` or `LEXICAL` under the name
the settings use (`dense_backend`, `lexical_backend` in app/config.py), and add it to the
parameters of the contract tests (tests/contracts/test_search_backends.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .local import Bm25Lexical, FaissDense, MemoryCatalogue
from .retrieval import Catalogue, DenseSearch, LexicalSearch
from .store import Index


@dataclass(frozen=True, slots=True)
class Backends:
    """What search runs on for one index version."""

    catalogue: Catalogue
    dense: DenseSearch
    lexical: LexicalSearch


DenseOpener = Callable[[Index, MemoryCatalogue], DenseSearch]
LexicalOpener = Callable[[Index, MemoryCatalogue], LexicalSearch]

DENSE: dict[str, DenseOpener] = {
    "faiss": lambda index, catalogue: FaissDense(index.passage_vectors, catalogue),
}
LEXICAL: dict[str, LexicalOpener] = {
    "bm25": lambda index, catalogue: Bm25Lexical(index.lexical, catalogue),
}


def open_backends(index: Index, *, dense: str = "faiss", lexical: str = "bm25") -> Backends:
    """The backends named `dense` and `lexical` over `index`; ValueError naming the known ones
    for another name (the settings refuse it before this is reached)."""
    if dense not in DENSE:
        raise ValueError(f"dense backend {dense!r}: one of {', '.join(sorted(DENSE))}")
    if lexical not in LEXICAL:
        raise ValueError(f"lexical backend {lexical!r}: one of {', '.join(sorted(LEXICAL))}")
    catalogue = MemoryCatalogue(index)
    return Backends(catalogue, DENSE[dense](index, catalogue), LEXICAL[lexical](index, catalogue))
