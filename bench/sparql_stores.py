"""SPARQL on an index's graph: load time and p50 of six typical queries for four engines.

- `rdflib`: rdflib's default in-memory store, pure Python (`LEADGRAPH_SPARQL_ENGINE=rdflib`);
- `oxrdflib`: `rdflib.Graph(store="Oxigraph")`, the same rdflib API with Oxigraph underneath
  (Turtle read by Oxigraph's parser, `ox-turtle`; queries given as text run in Oxigraph);
- `pyoxigraph`: Oxigraph's own Python API, no rdflib terms at all;
- `service`: what /sparql does by default, end to end but for HTTP: `SparqlService.run` with
  the Oxigraph engine (the query's tokens checked, a kept worker evaluates it natively and
  writes SPARQL JSON, which is parsed back here to count the rows);
- `service-rdflib`: the same with `LEADGRAPH_SPARQL_ENGINE=rdflib` (rdflib parses the query, a
  worker forked for it evaluates the algebra on rdflib's store).

Each engine runs in a fresh child process (load time and memory stay its own), loads graph.ttl,
then runs every query until `--repeat` runs or `--budget` seconds have passed (at least 3 runs),
materialising every row. Row counts are compared across engines: a difference is flagged.

    .venv/bin/python -m bench.sparql_stores --graph /tmp/scifact-idx/current/graph.ttl \\
        [--repeat 20] [--budget 20] [--json out.json]

The concept the queries ask about is the curated concept with the most mentions in the graph.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.children import rss, run_child

ENGINES = ("rdflib", "oxrdflib", "pyoxigraph", "service", "service-rdflib")
PREFIXES = """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX lg: <https://leadgraph.dev/ontology#>
PREFIX schema: <https://schema.org/>
"""
# the concept the queries ask about: the curated one mentioned most
PICK_CONCEPT = (
    PREFIXES
    + """SELECT ?concept ?label (COUNT(?m) AS ?n) WHERE {
  ?m lg:concept ?concept .
  ?concept skos:prefLabel ?label .
  FILTER NOT EXISTS { ?concept a lg:CandidateConcept }
} GROUP BY ?concept ?label ORDER BY DESC(?n) ?concept LIMIT 1"""
)
QUERIES: dict[str, str] = {
    "concept by label": """SELECT ?concept ?definition WHERE {
  ?concept skos:prefLabel|skos:altLabel ?label .
  FILTER(LCASE(STR(?label)) = LCASE("$LABEL"))
  OPTIONAL { ?concept skos:definition ?definition }
}""",
    "passages mentioning a concept": """SELECT ?passage ?score ?surface WHERE {
  ?mention a lg:Mention ; lg:concept <$CONCEPT> ; lg:passage ?passage ; lg:score ?score .
  OPTIONAL { ?mention lg:surface ?surface }
} ORDER BY DESC(?score) ?passage LIMIT 20""",
    "top co-occurring concepts": """SELECT ?other ?label ?npmi ?count WHERE {
  ?pair a lg:Cooccurrence ; lg:concept <$CONCEPT>, ?other ; lg:npmi ?npmi ; lg:count ?count .
  FILTER(?other != <$CONCEPT>)
  OPTIONAL { ?other skos:prefLabel ?label }
} ORDER BY DESC(?npmi) ?other LIMIT 10""",
    "documents per concept": """SELECT ?concept (COUNT(DISTINCT ?document) AS ?documents) WHERE {
  ?passage dcterms:subject ?concept ; dcterms:isPartOf ?document .
} GROUP BY ?concept ORDER BY DESC(?documents) ?concept LIMIT 20""",
    "two-hop path": """SELECT DISTINCT ?far ?label WHERE {
  <$CONCEPT> (skos:broader|skos:narrower|skos:related)/(skos:broader|skos:narrower|skos:related)
      ?far .
  FILTER(?far != <$CONCEPT>)
  OPTIONAL { ?far skos:prefLabel ?label }
} ORDER BY ?far""",
    "count aggregate": """SELECT ?method (COUNT(?mention) AS ?mentions)
       (COUNT(DISTINCT ?passage) AS ?passages) WHERE {
  ?mention a lg:Mention ; lg:method ?method ; lg:passage ?passage .
} GROUP BY ?method ORDER BY ?method""",
}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--graph", type=Path, default=Path("/tmp/scifact-idx/current/graph.ttl"))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--repeat", type=int, default=20, help="runs per query at most")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per query at most")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--concept", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--label", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.graph.is_file():
        raise SystemExit(f"{args.graph}: not found (build an index first: leadgraph index)")

    if args.one is not None:  # the child: one engine, the result as JSON on stdout
        queries = _queries(args.concept, args.label)
        print(json.dumps(measure(args.one, args.graph, queries, args.repeat, args.budget)))
        return {}

    concept, label = pick_concept(args.graph)
    print(
        f"{args.graph} ({args.graph.stat().st_size / 2**20:.0f} MiB); concept {concept} {label!r}"
    )
    results: dict[str, Any] = {"graph": str(args.graph), "concept": concept, "engines": {}}
    for engine in args.engines.split(","):
        child = ["--one", engine, "--graph", str(args.graph), "--concept", concept]
        child += ["--label", label, "--repeat", str(args.repeat), "--budget", str(args.budget)]
        results["engines"][engine] = run_child("bench.sparql_stores", child, engine)
    _print(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def pick_concept(graph: Path) -> tuple[str, str]:
    """(URI, label) of the curated concept with the most mentions, found with pyoxigraph."""
    import pyoxigraph

    store = pyoxigraph.Store()
    store.bulk_load(path=str(graph), format=pyoxigraph.RdfFormat.TURTLE)
    solutions = store.query(PICK_CONCEPT)
    assert isinstance(solutions, pyoxigraph.QuerySolutions)
    for row in solutions:
        concept, label = row["concept"], row["label"]
        assert concept is not None and label is not None
        return str(concept.value), str(label.value)
    raise SystemExit(f"{graph}: no concept has a mention; the queries would all be empty")


def _queries(concept: str, label: str) -> dict[str, str]:
    escaped = label.replace("\\", "\\\\").replace('"', '\\"')
    return {
        name: PREFIXES + text.replace("$CONCEPT", concept).replace("$LABEL", escaped)
        for name, text in QUERIES.items()
    }


def measure(
    engine: str, graph: Path, queries: dict[str, str], repeat: int, budget: float
) -> dict[str, Any]:
    """Load time, RSS growth, and per query its row count and latencies, for one engine."""
    rss_before = rss()
    started = time.perf_counter()
    run = _load(engine, graph)
    load_s = time.perf_counter() - started
    out: dict[str, Any] = {
        "load_s": round(load_s, 3),
        "rss_delta_mib": round((rss() - rss_before) / 2**20, 1),
        "queries": {},
    }
    for name, text in queries.items():
        times: list[float] = []
        rows = 0
        spent = time.perf_counter()
        while len(times) < max(3, repeat):
            started = time.perf_counter()
            rows = run(text)
            times.append((time.perf_counter() - started) * 1000.0)
            if len(times) >= 3 and time.perf_counter() - spent > budget:
                break
        out["queries"][name] = {
            "rows": rows,
            "runs": len(times),
            "p50_ms": round(statistics.median(times), 3),
            "first_ms": round(times[0], 3),
        }
    return out


def _load(engine: str, graph: Path) -> Callable[[str], int]:
    """Loads `graph` into `engine`; returns a function running a query to its last row."""
    if engine == "pyoxigraph":
        import pyoxigraph

        store = pyoxigraph.Store()
        store.bulk_load(path=str(graph), format=pyoxigraph.RdfFormat.TURTLE)

        def run_native(text: str) -> int:
            solutions = store.query(text)
            assert isinstance(solutions, pyoxigraph.QuerySolutions)  # all six are SELECTs
            return len(list(solutions))

        return run_native
    if engine in ("service", "service-rdflib"):
        return _service(graph, native=engine == "service")
    from rdflib import Graph

    if engine == "rdflib":
        g = Graph()
        g.parse(graph, format="turtle")
    elif engine == "oxrdflib":
        g = Graph(store="Oxigraph")
        g.parse(graph, format="ox-turtle")
    else:
        raise SystemExit(f"unknown engine {engine!r}: choose from {', '.join(ENGINES)}")

    def run_rdflib(text: str) -> int:
        return sum(1 for _ in g.query(text))

    return run_rdflib


def _service(graph: Path, *, native: bool) -> Callable[[str], int]:
    from rdflib import Graph

    from leadgraph.app.config import Settings
    from leadgraph.app.services.sparql import SparqlService
    from leadgraph.indexer.rdfio import load_store, turtle_prefixes

    settings = Settings(sparql_max_rows=10**9, sparql_timeout_s=600)
    if native:
        # the service's rdflib graph serves the other endpoints; Oxigraph needs its prefixes
        prefixes = Graph()
        for prefix, namespace in turtle_prefixes(graph).items():
            prefixes.bind(prefix, namespace)
        service = SparqlService(prefixes, settings, load_store(graph))
    else:
        service = SparqlService(Graph().parse(graph, format="turtle"), settings)

    def run_service(text: str) -> int:
        body = service.run(text, "application/sparql-results+json").body
        return len(json.loads(body)["results"]["bindings"])

    return run_service


def _print(results: dict[str, Any]) -> None:
    engines = results["engines"]
    names = list(engines)
    print(f"{'':<40}" + "".join(f"{name:>16}" for name in names))
    print(f"{'load (s)':<40}" + "".join(f"{engines[n]['load_s']:>16.2f}" for n in names))
    print(
        f"{'RSS growth (MiB)':<40}"
        + "".join(f"{engines[n]['rss_delta_mib']:>16.0f}" for n in names)
    )
    for query in QUERIES:
        cells = [engines[n]["queries"][query] for n in names]
        flag = "" if len({c["rows"] for c in cells}) == 1 else "  ROW COUNTS DIFFER"
        print(
            f"{query + ' p50 (ms)':<40}"
            + "".join(f"{c['p50_ms']:>16.2f}" for c in cells)
            + f"   rows {cells[0]['rows']}{flag}"
        )
    if "pyoxigraph" in engines:
        native = engines["pyoxigraph"]["queries"]
        for name in names:
            if name == "pyoxigraph":
                continue
            ratios = [
                engines[name]["queries"][q]["p50_ms"] / max(native[q]["p50_ms"], 1e-3)
                for q in QUERIES
            ]
            print(
                f"{name} / pyoxigraph p50: "
                + ", ".join(f"{r:.1f}x" for r in ratios)
                + f" (geometric mean {statistics.geometric_mean(ratios):.1f}x)"
            )


if __name__ == "__main__":
    main()
