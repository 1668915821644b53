"""The build pipeline and the index on disk: counts, round trip, incremental re-embedding,
atomic publication, and refusal of indexes that do not match."""

from __future__ import annotations

import gc
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS

from leadgraph.indexer import build as build_module
from leadgraph.indexer.build import YOUNG_COLLECTION_EVERY, build_index
from leadgraph.indexer.errors import CorpusError, IndexMismatch, IndexMissing
from leadgraph.indexer.namespaces import LG, passage_uri
from leadgraph.indexer.ontology import DEFAULT_ONTOLOGY
from leadgraph.indexer.store import load_index, resolve_version
from tests.conftest import CORPUS
from tests.fakes import HashingEmbedder


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def test_build_publishes_a_loadable_index_with_counts(tmp_path: Path) -> None:
    root = tmp_path / "index"
    report = build_index([CORPUS], root, embedder=HashingEmbedder())
    counts = report.manifest.counts
    assert counts["documents"] == 3
    assert counts["concepts"] >= 35
    assert counts["passages"] >= 10 and counts["mentions"] > counts["passages"]
    assert (root / "current").is_symlink()
    index = load_index(root)
    assert len(index.passages) == counts["passages"] == len(index.passage_vectors)
    assert len(index.lexical) == counts["passages"]
    assert len(index.concept_vectors) == counts["concepts"]
    sentences = np.load(report.path / "sentences.npy")
    assert len(sentences) == sum(len(p.sentences) for p in index.passages)
    assert report.manifest.settings["sentence_vectors"] is True
    for p in index.passages:
        assert index.documents[p.document_id].text[p.start : p.end] == p.text
    assert report.embedded == counts["passages"] and report.reused == 0


def test_graph_ttl_loads_with_plain_rdflib_and_links_passages_to_concepts(tmp_path: Path) -> None:
    root = tmp_path / "index"
    report = build_index([CORPUS], root, embedder=HashingEmbedder())
    graph = Graph().parse(report.path / "graph.ttl", format="turtle")
    assert len(graph) == report.manifest.counts["triples"]
    index = load_index(root)
    lexical = next(m for m in index.mentions if m.method == "lexical")
    passage = URIRef(passage_uri(lexical.passage_id))
    assert (passage, DCTERMS.subject, URIRef(lexical.concept_uri)) in graph
    assert len(list(graph.subjects(None, LG.Mention))) == len(index.mentions)


def test_rebuild_reembeds_only_changed_passages(tmp_path: Path, corpus_copy: Path) -> None:
    root = tmp_path / "index"
    first = build_index([corpus_copy], root, embedder=HashingEmbedder())
    again = HashingEmbedder()
    second = build_index([corpus_copy], root, embedder=again)
    assert second.embedded == 0 and second.reused == first.manifest.counts["passages"]

    article = corpus_copy / "synergy-of-success.md"
    text = article.read_text(encoding="utf-8")
    changed = text.replace(
        "Fostering a Collaborative Culture", "Fostering a Collaborative Culture Every Day"
    )
    assert changed != text
    article.write_text(changed, encoding="utf-8")
    third = build_index([corpus_copy], root, embedder=HashingEmbedder())
    assert 1 <= third.embedded <= 2  # the edited heading's passage only
    assert third.reused == third.manifest.counts["passages"] - third.embedded


def test_failed_build_leaves_the_published_index_intact(
    tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "index"
    first = build_index([corpus_copy], root, embedder=HashingEmbedder())

    def explode(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt  # as if Ctrl-C arrived while the graph was being written

    monkeypatch.setattr(build_module, "build_graph", explode)
    with pytest.raises(KeyboardInterrupt):
        build_index([corpus_copy], root, embedder=HashingEmbedder())
    assert resolve_version(root) == first.path
    assert not list(root.glob(".build-*"))
    assert load_index(root).manifest.version == first.manifest.version


def test_bad_corpus_stops_before_touching_the_index(tmp_path: Path, corpus_copy: Path) -> None:
    root = tmp_path / "index"
    first = build_index([corpus_copy], root, embedder=HashingEmbedder())
    (corpus_copy / "empty.md").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        build_index([corpus_copy], root, embedder=HashingEmbedder())
    assert "empty.md" in str(err.value)
    assert resolve_version(root) == first.path


def test_old_versions_are_pruned_to_two(tmp_path: Path) -> None:
    root = tmp_path / "index"
    for _ in range(3):
        build_index([CORPUS], root, embedder=HashingEmbedder())
    assert len([p for p in root.iterdir() if p.name.startswith("v")]) == 2


def test_pruning_keeps_the_predecessor_not_a_crashed_builds_folder(tmp_path: Path) -> None:
    root = tmp_path / "index"
    build_index([CORPUS], root, embedder=HashingEmbedder())
    predecessor = os.readlink(root / "current")
    # a build killed after renaming its folder into place, before publishing it; its name sorts
    # after every real version
    shutil.copytree(root / predecessor, root / "v99991231T235959Z-orphan")
    build_index([CORPUS], root, embedder=HashingEmbedder())
    published = os.readlink(root / "current")
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("v")) == sorted(
        [predecessor, published]
    )


def test_loading_refuses_a_missing_index_with_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="leadgraph index"):
        load_index(tmp_path / "nowhere")


def test_loading_refuses_an_index_of_another_model(tmp_path: Path) -> None:
    root = tmp_path / "index"
    build_index([CORPUS], root, embedder=HashingEmbedder())
    with pytest.raises(IndexMismatch, match="built with model 'fake-hashing'"):
        load_index(root, model="some/other-model")


def test_loading_detects_a_truncated_file_by_its_checksum(tmp_path: Path) -> None:
    root = tmp_path / "index"
    report = build_index([CORPUS], root, embedder=HashingEmbedder())
    target = report.path / "passages.npy"
    os.truncate(target, target.stat().st_size // 2)
    with pytest.raises(IndexMismatch, match="passages.npy: checksum mismatch"):
        load_index(root)


def test_loading_refuses_another_format_version(tmp_path: Path) -> None:
    root = tmp_path / "index"
    report = build_index([CORPUS], root, embedder=HashingEmbedder())
    manifest_path = report.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="index format 999"):
        load_index(root)


def test_an_index_of_format_1_is_refused_but_its_vectors_serve_the_rebuild(tmp_path: Path) -> None:
    # format 1 held the file path as `source`; its vectors and settings are as format 2's
    root = tmp_path / "index"
    first = build_index([CORPUS], root, embedder=HashingEmbedder())
    manifest_path = first.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match=r"index format 1, .*rebuild with `leadgraph index"):
        load_index(root)

    second = build_index([CORPUS], root, embedder=HashingEmbedder())
    assert second.embedded == 0 and second.reused == first.manifest.counts["passages"]
    assert load_index(root).documents["synergy-of-success"].path == "synergy-of-success.md"


def test_large_collections_link_on_passage_vectors_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_module, "SENTENCE_VECTORS_MAX_PASSAGES", 5)
    embedder = HashingEmbedder()
    report = build_index([CORPUS], tmp_path / "index", embedder=embedder)
    assert report.manifest.settings["sentence_vectors"] is False
    assert len(np.load(report.path / "sentences.npy")) == 0
    # passages once, concepts once, lookup's labels and definitions once: no pass over the
    # sentences
    facets = len(json.loads((report.path / "facets.keys.json").read_text()))
    assert embedder.calls == [
        report.manifest.counts["passages"],
        report.manifest.counts["concepts"],
        facets,
    ]
    assert list(report.stages) == [
        "read",
        "chunk",
        "embed",
        "link",
        "search indexes",
        "graph",
        "write",
    ]


def test_rebuild_takes_no_vectors_from_a_corrupted_file(tmp_path: Path) -> None:
    root = tmp_path / "index"
    first = build_index([CORPUS], root, embedder=HashingEmbedder())
    vectors = first.path / "passages.npy"
    data = bytearray(vectors.read_bytes())
    data[-4:] = b"\x00\x00\x80\x7f"  # a float turned into +inf: same size, wrong value
    vectors.write_bytes(bytes(data))
    second = build_index([CORPUS], root, embedder=HashingEmbedder())
    assert second.embedded == first.manifest.counts["passages"] and second.reused == 0
    assert np.isfinite(load_index(root).passage_vectors.vectors).all()


def test_a_build_collects_garbage_rarely_and_restores_the_collector(tmp_path: Path) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    class Watching(HashingEmbedder):
        def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
            seen.append(gc.get_threshold())
            return super().encode(texts, show_progress=show_progress)

    build_index([CORPUS], tmp_path / "index", embedder=Watching())
    assert seen and all(t[0] == max(before[0], YOUNG_COLLECTION_EVERY) for t in seen)
    assert gc.get_threshold() == before
    with pytest.raises(CorpusError):
        build_index([tmp_path / "missing"], tmp_path / "other", embedder=Watching())
    assert gc.get_threshold() == before


def test_lookup_texts_are_embedded_once_and_reused(tmp_path: Path) -> None:
    root = tmp_path / "index"
    build_index([CORPUS], root, embedder=HashingEmbedder())
    index = load_index(root)
    concept = next(iter(index.concepts.values()))
    for text in concept.facet_texts():
        vector = index.facet_vector(text)
        assert vector is not None and vector.shape == (HashingEmbedder().dimension,)
    assert index.facet_vector("no label of any concept") is None
    again = HashingEmbedder()
    build_index([CORPUS], root, embedder=again)
    # a rebuild of the same corpus and ontology encodes nothing, concept descriptions included
    assert again.calls == []


def test_a_rebuild_encodes_only_the_concepts_whose_text_changed(tmp_path: Path) -> None:
    root, ontology = tmp_path / "index", tmp_path / "ontology.ttl"
    build_index([CORPUS], root, embedder=HashingEmbedder())
    before = load_index(root)
    text = DEFAULT_ONTOLOGY.read_text(encoding="utf-8")
    assert text.count('skos:prefLabel "servant leadership"@en') == 1
    ontology.write_text(
        text.replace(
            'skos:prefLabel "servant leadership"@en', 'skos:prefLabel "serving leadership"@en'
        ),
        encoding="utf-8",
    )
    again = HashingEmbedder()
    build_index([CORPUS], root, embedder=again, ontology_path=ontology)
    after = load_index(root)
    assert again.calls[0] == 1  # the concept relabelled, before its new label among the facets
    rows = {uri: i for i, uri in enumerate(after.concept_order)}
    for uri, row in rows.items():
        same = before.concept_vectors.vectors[before.concept_order.index(uri)]
        assert np.array_equal(after.concept_vectors.vectors[row], same) == (
            "ServantLeadership" not in uri
        )
