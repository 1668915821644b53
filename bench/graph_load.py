"""How long the service takes to load an index's graph.ttl: read once by Oxigraph with the rdflib
graph made from that store (what `app.state` does), against rdflib's own parse plus Oxigraph's
load (what it did before), alternating, `--rounds` times.

    .venv/bin/python -m bench.graph_load --graph /tmp/scifact-idx/current/graph.ttl [--rounds 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    from rdflib import Graph

    from leadgraph.app.config import Settings
    from leadgraph.app.state import load_graph
    from leadgraph.indexer.rdfio import load_store

    settings = Settings(sparql_engine="oxigraph")
    rounds = []
    for n in range(args.rounds):
        started = time.perf_counter()
        graph, store = Graph().parse(args.graph, format="turtle"), load_store(args.graph)
        twice = time.perf_counter() - started
        del graph, store
        started = time.perf_counter()
        graph, store = load_graph(args.graph, settings)
        once = time.perf_counter() - started
        del graph, store
        rounds.append({"parse_twice_s": round(twice, 2), "read_once_s": round(once, 2)})
        print(
            f"round {n + 1}: rdflib parse + Oxigraph load {twice:.1f} s; Oxigraph load + rdflib "
            f"graph from the store {once:.1f} s; ratio {once / twice:.2f}"
        )
    return rounds


if __name__ == "__main__":
    main()
