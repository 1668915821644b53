"""The `leadgraph` command line: index, validate, serve; add, remove, reindex.

Exit codes: 0 success; 1 validation found problems; 2 bad input (corpus, ontology, option,
article, unknown document id); 3 index missing, corrupted or built differently, or being written
by another build or update; 4 the embedding model cannot be loaded.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from leadgraph.indexer.embedder import DEFAULT_MODEL
from leadgraph.indexer.errors import (
    CorpusError,
    IndexError_,
    LeadgraphError,
    ModelError,
    OntologyError,
)
from leadgraph.indexer.ontology import DEFAULT_ONTOLOGY, DEFAULT_SHAPES

if TYPE_CHECKING:
    from leadgraph.app.config import Settings
    from leadgraph.app.services.admin import CorpusEditor, UpdateOutcome

_EXIT = {CorpusError: 2, OntologyError: 2, IndexError_: 3, ModelError: 4}


def _fail(exc: LeadgraphError) -> NoReturn:
    code = next((c for kind, c in _EXIT.items() if isinstance(exc, kind)), 1)
    click.echo(f"leadgraph: error: {exc}", err=True)
    sys.exit(code)


def _settings(**overrides: Any) -> Settings:
    """Settings from LEADGRAPH_* and the flags; a bad value exits 2 with one line naming it."""
    from pydantic import ValidationError

    from leadgraph.app.config import Settings

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        click.echo(f"leadgraph: error: bad setting (flag or LEADGRAPH_*): {problems}", err=True)
        sys.exit(2)


def _offline() -> None:
    # the default model lives inside a package; never let a missing file become a download
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leadgraph")
def main() -> None:
    """leadgraph: a knowledge graph and hybrid semantic search over leadership and management
    content. Build an index with `leadgraph index`, serve it with `leadgraph serve`."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path("index"),
    show_default=True,
    help="Index root folder (versions are published inside it).",
)
@click.option(
    "--model",
    default=lambda: os.environ.get("LEADGRAPH_MODEL", DEFAULT_MODEL),
    show_default=DEFAULT_MODEL,
    help="sentence-transformers model name or path.",
)
@click.option(
    "--ontology",
    type=click.Path(path_type=Path),
    default=DEFAULT_ONTOLOGY,
    show_default="ontology/leadership.ttl",
    help="Ontology in Turtle.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(16, 512),
    default=200,
    show_default=True,
    help="Largest passage, in model tokens.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def index(
    paths: tuple[Path, ...], out: Path, model: str, ontology: Path, max_tokens: int, quiet: bool
) -> None:
    """Build the index of PATHS (files or folders of .md, .txt or BEIR .jsonl; default: corpus).

    Only passages whose text changed since the published version are embedded again. The new
    version is published atomically: an interrupted build leaves the previous one serving.
    An article's front matter `source:` (or `url:`, an http(s) address) is kept as its link to
    the original; its file is recorded by its path inside the folder given, never an absolute
    one."""
    _offline()
    from leadgraph.indexer.build import build_index
    from leadgraph.indexer.embedder import SentenceTransformerEmbedder

    sources = list(paths) or [Path("corpus")]
    say = (
        (lambda message: None) if quiet else (lambda message: click.echo(f"  {message}", err=True))
    )
    try:
        embedder = SentenceTransformerEmbedder(model)
        result = build_index(
            sources,
            out,
            embedder=embedder,
            ontology_path=ontology,
            max_tokens=max_tokens,
            progress=not quiet,
            report=say,
        )
    except LeadgraphError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        click.echo("leadgraph: interrupted; the published index is unchanged", err=True)
        sys.exit(130)
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in result.manifest.counts.items())
    click.echo(f"indexed {counts}")
    click.echo(
        f"embedded {result.embedded} passages, reused {result.reused}; "
        f"published {result.path} in {result.seconds:.1f} s"
    )
    click.echo("stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.stages.items()))


@main.command()
@click.option(
    "--ontology",
    type=click.Path(path_type=Path),
    default=DEFAULT_ONTOLOGY,
    show_default="ontology/leadership.ttl",
    help="Ontology in Turtle.",
)
@click.option(
    "--shapes",
    type=click.Path(path_type=Path),
    default=DEFAULT_SHAPES,
    show_default="ontology/shapes.ttl",
    help="SHACL shapes.",
)
@click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Also check this index: manifest, checksums, and that graph.ttl parses.",
)
def validate(ontology: Path, shapes: Path, index_dir: Path | None) -> None:
    """Check the ontology against its SHACL shapes, and optionally an index on disk."""
    from rdflib import Graph

    from leadgraph.indexer.ontology import validate_ontology
    from leadgraph.indexer.store import read_manifest, resolve_version, verify_files

    try:
        report = validate_ontology(ontology, shapes)
        if report.conforms:
            click.echo(f"{ontology}: conforms to {shapes}")
        else:
            for message in report.messages:
                click.echo(f"{ontology}: {message}", err=True)
        if index_dir is not None:
            folder = resolve_version(index_dir)
            manifest = read_manifest(folder)
            verify_files(folder, manifest)
            triples = len(Graph().parse(folder / "graph.ttl", format="turtle"))
            click.echo(
                f"{folder}: {len(manifest.files)} files match their checksums; "
                f"graph.ttl parses to {triples} triples"
            )
    except LeadgraphError as exc:
        _fail(exc)
    if not report.conforms:
        click.echo(f"leadgraph: {len(report.messages)} SHACL violation(s)", err=True)
        sys.exit(1)


@main.command(name="eval")
@click.option(
    "--beir",
    "beir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="BEIR dataset folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.",
)
@click.option(
    "--modes",
    default="hybrid,dense,lexical",
    show_default=True,
    help="Comma-separated search modes to evaluate.",
)
@click.option("--split", default="test", show_default=True, help="qrels split to score.")
@click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Reuse an index of the corpus instead of building a temporary one.",
)
@click.option(
    "--model",
    default=lambda: os.environ.get("LEADGRAPH_MODEL", DEFAULT_MODEL),
    show_default=DEFAULT_MODEL,
    help="sentence-transformers model name or path.",
)
@click.option(
    "--dense-weight",
    type=click.FloatRange(0, 1),
    default=None,
    help="Hybrid fusion weight of the dense score [default: the service's].",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="Score only N queries.")
def evaluate(
    beir: Path,
    modes: str,
    split: str,
    index_dir: Path | None,
    model: str,
    dense_weight: float | None,
    limit: int | None,
) -> None:
    """Score retrieval on a BEIR dataset: nDCG@10, Recall@100, MRR@10 and query latency per
    mode, and the build time when the index is built here."""
    _offline()
    import tempfile

    from leadgraph.app.deps import Services
    from leadgraph.app.evaluation import read_qrels, read_queries, run_mode
    from leadgraph.app.schemas import SearchMode
    from leadgraph.app.services.search import DENSE_WEIGHT
    from leadgraph.app.state import load_resources, query_embedder
    from leadgraph.indexer.build import build_index
    from leadgraph.indexer.embedder import SentenceTransformerEmbedder

    try:
        chosen = [SearchMode(m.strip()) for m in modes.split(",") if m.strip()]
    except ValueError:
        click.echo(
            f"leadgraph: error: --modes: choose from hybrid, dense, lexical; got {modes!r}",
            err=True,
        )
        sys.exit(2)
    qrels_path = beir / "qrels" / f"{split}.tsv"
    for needed in (beir / "corpus.jsonl", beir / "queries.jsonl", qrels_path):
        if not needed.is_file():
            click.echo(
                f"leadgraph: error: {needed}: not found (a BEIR folder has corpus.jsonl, "
                "queries.jsonl and qrels/<split>.tsv)",
                err=True,
            )
            sys.exit(2)
    with tempfile.TemporaryDirectory(prefix="leadgraph-eval-") as scratch:
        try:
            embedder = SentenceTransformerEmbedder(model)
            queries = read_queries(beir / "queries.jsonl")
            qrels = read_qrels(qrels_path)
            if limit is not None:
                qrels = dict(list(qrels.items())[:limit])
            root = index_dir or Path(scratch) / "index"
            if index_dir is None:
                click.echo(f"building a temporary index of {beir / 'corpus.jsonl'} ...", err=True)
                built = build_index([beir / "corpus.jsonl"], root, embedder=embedder)
                counts = built.manifest.counts
                click.echo(
                    f"build: {built.seconds:.1f} s for {counts['documents']} documents, "
                    f"{counts['passages']} passages ("
                    + ", ".join(f"{k} {v:.1f} s" for k, v in built.stages.items())
                    + ")"
                )
            settings = _settings(index=root, model=model)
            # queries encoded as the service encodes them, so the latencies are the service's
            resources = load_resources(settings, query_embedder(embedder, settings))
        except LeadgraphError as exc:
            _fail(exc)
        search = Services.build(resources).search
        weight = DENSE_WEIGHT if dense_weight is None else dense_weight
        click.echo(f"{len(qrels)} judged queries, split {split}, model {model}")
        click.echo(
            f"{'mode':<8} {'nDCG@10':>8} {'R@100':>7} {'MRR@10':>7} {'p50 ms':>7} {'p95 ms':>7}"
        )
        for mode in chosen:
            result = run_mode(search, queries, qrels, mode, dense_weight=weight)
            m = result.metrics
            click.echo(
                f"{mode.value:<8} {m['ndcg@10']:>8.4f} {m['recall@100']:>7.4f} {m['mrr@10']:>7.4f}"
                f" {result.p50:>7.1f} {result.p95:>7.1f}"
            )


@main.command()
@click.option("--host", default=None, help="Address to bind [default: 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="[default: 8000]")
@click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Index root folder [default: index, or LEADGRAPH_INDEX].",
)
@click.option("--model", default=None, help="sentence-transformers model name or path.")
@click.option(
    "--corpus",
    type=click.Path(path_type=Path),
    default=None,
    help="Corpus to index first when there is no index [default: corpus].",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def serve(
    host: str | None,
    port: int | None,
    index_dir: Path | None,
    model: str | None,
    corpus: Path | None,
    log_level: str,
) -> None:
    """Serve the API over an index; builds the index of the corpus first when there is none."""
    _offline()
    from leadgraph.app.main import create_app
    from leadgraph.app.server import run
    from leadgraph.app.state import query_embedder
    from leadgraph.indexer.build import build_index
    from leadgraph.indexer.embedder import SentenceTransformerEmbedder
    from leadgraph.indexer.errors import IndexMissing
    from leadgraph.indexer.store import resolve_version

    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "index": index_dir,
            "model": model,
            "corpus": corpus,
        }.items()
        if v is not None
    }
    settings = _settings(**overrides)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    log = logging.getLogger("leadgraph")
    try:
        embedder = SentenceTransformerEmbedder(settings.model)
        try:
            resolve_version(settings.index)
        except IndexMissing:
            log.info("no index at %s: building one from %s first", settings.index, settings.corpus)
            result = build_index(
                [settings.corpus],
                settings.index,
                embedder=embedder,
                report=log.info,
            )
            log.info("index %s built in %.1f s", result.manifest.version, result.seconds)
    except LeadgraphError as exc:
        _fail(exc)
    app = create_app(settings, embedder=query_embedder(embedder, settings))
    run(app, settings, log_level=log_level)


@main.command("mcp")
@click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Index root folder [default: index, or LEADGRAPH_INDEX].",
)
@click.option("--model", default=None, help="sentence-transformers model name or path.")
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def mcp_stdio(index_dir: Path | None, model: str | None, log_level: str) -> None:
    """Serve the MCP tools and resources over stdio, for desktop agents.

    The agent starts this command and talks MCP on its stdin/stdout; logs go to stderr. The
    index must exist (build it with `leadgraph index`). Over HTTP, `leadgraph serve` offers the
    same tools at /mcp."""
    _offline()
    import contextlib

    from leadgraph.app.deps import Services
    from leadgraph.app.mcp_server import build_mcp
    from leadgraph.app.state import load_resources, query_embedder
    from leadgraph.indexer.embedder import SentenceTransformerEmbedder

    overrides: dict[str, Any] = {
        k: v for k, v in {"index": index_dir, "model": model}.items() if v is not None
    }
    settings = _settings(**overrides)
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        # stdout carries the protocol: nothing printed while loading may reach it
        with contextlib.redirect_stdout(sys.stderr):
            embedder = query_embedder(SentenceTransformerEmbedder(settings.model), settings)
            services = Services.build(load_resources(settings, embedder))
    except LeadgraphError as exc:
        _fail(exc)
    server = build_mcp(lambda: services, settings=settings)
    try:
        server.run("stdio")
    except KeyboardInterrupt:
        pass


# --- changing the corpus -----------------------------------------------------------------------


def _update_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(
        [
            click.option(
                "--index",
                "index_dir",
                type=click.Path(path_type=Path),
                default=None,
                help="Index root folder [default: index, or LEADGRAPH_INDEX].",
            ),
            click.option(
                "--corpus",
                type=click.Path(path_type=Path, file_okay=False),
                default=None,
                help="Corpus folder the index is built from [default: corpus, or "
                "LEADGRAPH_CORPUS].",
            ),
            click.option("--model", default=None, help="sentence-transformers model name or path."),
        ]
    ):
        command = option(command)
    return command


def _update(
    index_dir: Path | None,
    corpus: Path | None,
    model: str | None,
    operation: Callable[[CorpusEditor], UpdateOutcome],
) -> None:
    """Runs `operation` on the corpus and index of the settings, and prints what it published.
    Exit codes: 2 for a bad article, an unknown id or a corpus that cannot change so; 3 when
    another update or build is writing the index; 4 when the model cannot be loaded."""
    _offline()
    from leadgraph.app.errors import ApiError
    from leadgraph.app.services.admin import CorpusEditor
    from leadgraph.indexer.embedder import SentenceTransformerEmbedder

    overrides: dict[str, Any] = {
        k: v
        for k, v in {"index": index_dir, "corpus": corpus, "model": model}.items()
        if v is not None
    }
    settings = _settings(**overrides)
    try:
        embedder = SentenceTransformerEmbedder(settings.model)
        outcome = operation(CorpusEditor.from_settings(settings, embedder))
    except LeadgraphError as exc:
        _fail(exc)
    except ApiError as exc:
        click.echo(f"leadgraph: error: {exc.detail}", err=True)
        sys.exit(3 if exc.code == "update_in_progress" or exc.status >= 500 else 2)
    except KeyboardInterrupt:
        click.echo(
            "leadgraph: interrupted; the corpus and the published index are unchanged", err=True
        )
        sys.exit(130)
    report = outcome.report
    subject = f" {outcome.document_id}" if outcome.document_id else ""
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.manifest.counts.items())
    click.echo(f"{outcome.action}{subject}: published {report.manifest.version} ({counts})")
    click.echo(
        f"embedded {report.embedded} passages, reused {report.reused}, in {report.seconds:.1f} s"
    )


@main.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@_update_options
def add(file: Path, index_dir: Path | None, corpus: Path | None, model: str | None) -> None:
    """Add the article FILE (.md or .txt, optional YAML front matter) to the corpus folder as
    <corpus>/<id>.md, replacing a document of the same id, then rebuild and publish the index.

    Only passages whose text changed are embedded again; the swap is atomic, and a failed or
    interrupted update leaves the corpus and the published index as they were. A `leadgraph
    serve` over the same index serves the new version within LEADGRAPH_INDEX_WATCH_S."""
    from leadgraph.indexer.corpus import TEXT_SUFFIXES, read_corpus

    if file.suffix.lower() not in TEXT_SUFFIXES:
        click.echo(f"leadgraph: error: {file}: add takes one .md or .txt article", err=True)
        sys.exit(2)
    try:
        [document] = read_corpus([file])  # the reader's file:line message, before any change
        body = file.read_bytes()
    except LeadgraphError as exc:
        _fail(exc)
    _update(index_dir, corpus, model, lambda editor: editor.put(document.id, body))


@main.command()
@click.argument("document_id", metavar="ID")
@_update_options
def remove(
    document_id: str, index_dir: Path | None, corpus: Path | None, model: str | None
) -> None:
    """Delete the document ID from the corpus folder (the .md or .txt file holding it), then
    rebuild and publish the index."""
    _update(index_dir, corpus, model, lambda editor: editor.delete(document_id))


@main.command()
@_update_options
def reindex(index_dir: Path | None, corpus: Path | None, model: str | None) -> None:
    """Rebuild the index from the corpus folder as it is and publish it, with the passage size
    and linking threshold of the published version. Only changed passages are embedded again;
    this is also the fix for an index that fails its checksums."""
    _update(index_dir, corpus, model, lambda editor: editor.reindex())
