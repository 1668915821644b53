"""The index on disk: versioned folders published by an atomic symlink swap.

    <root>/
      current -> v20261123T101500Z-3f2a      the published version (a relative symlink)
      v20261123T101500Z-3f2a/
        manifest.json     written last: format, model, counts, fingerprints, per-file sha256
        documents.jsonl  passages.jsonl  mentions.jsonl
        concepts.json    (concepts and object properties)   candidates.json
        cooccurrence.json  evidence.json
        passages.faiss  passages.npy  concepts.faiss  concepts.npy  lexical.npz  lexical.vocab.json
        graph.ttl
      .build-*/          a build in progress (removed when a later build starts)
      .lock              held by the build that is writing

A build writes a complete version folder, fsyncs it, then points `current` at it with
`os.replace` of a fresh symlink, which is atomic: a crash at any moment leaves either the old
or the new version published, never a half-written one. Readers resolve `current` once and keep
using that version's files for as long as they hold them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from . import FORMAT_VERSION
from .embedder import Vectors
from .errors import IndexMismatch, IndexMissing, StorageError
from .lexical import LexicalIndex
from .models import (
    Candidate,
    Concept,
    Cooccurrence,
    Document,
    Mention,
    Passage,
    PropertyDef,
    Relation,
    RelationEvidence,
    Span,
)
from .vectors import Rows, VectorIndex

CURRENT = "current"
_T = TypeVar("_T")
MANIFEST = "manifest.json"
# Formats whose manifest fields and vector files (*.keys.json, *.npy) this one reads as they are:
# the first rebuild after an upgrade reuses their vectors and build settings, embedding nothing
# whose text did not change. (Format 2 changed only the document records.)
REUSABLE_FORMATS = frozenset({1, FORMAT_VERSION})


class Manifest(BaseModel):
    format_version: int
    version: str
    model: str
    dimension: int
    counts: dict[str, int]
    corpus_fingerprint: str
    ontology_fingerprint: str
    settings: dict[str, Any]
    built_at: str
    build_seconds: float
    files: dict[str, str]  # file name -> sha256

    def summary(self) -> dict[str, Any]:
        return self.model_dump(exclude={"files", "settings"})


@dataclass
class IndexContents:
    """Everything a build produces, in memory. Rows of the vector indexes align with
    `passages` and `concepts` respectively; rows of `lexical` with `passages`."""

    documents: list[Document]
    passages: list[Passage]
    concepts: list[Concept]
    properties: list[PropertyDef]
    mentions: list[Mention]
    cooccurrences: list[Cooccurrence]
    evidence: list[RelationEvidence]
    candidates: list[Candidate]
    passage_vectors: VectorIndex
    concept_vectors: VectorIndex
    lexical: LexicalIndex
    graph_turtle: bytes
    embedding_keys: list[str]  # per passage: hash of the exact text embedded (the reuse key)
    sentence_vectors: Vectors  # one row per sentence, passages in order, sentences in order
    sentence_keys: list[str]  # per sentence: hash of its text (the reuse key)
    facet_vectors: Vectors  # concept lookup's texts (`facet_texts`), one row each
    facet_keys: list[str]  # per row: `text_key` of its text
    concept_keys: list[str] = field(default_factory=list)  # per concept: `text_key` of its text


@dataclass
class Index:
    """A published index version loaded for reading, with the lookups the service needs."""

    path: Path
    manifest: Manifest
    documents: dict[str, Document]
    passages: list[Passage]
    concepts: dict[str, Concept]  # by URI, in label order
    properties: dict[str, PropertyDef]
    mentions: list[Mention]
    cooccurrences: list[Cooccurrence]
    evidence: list[RelationEvidence]
    candidates: list[Candidate]
    passage_vectors: VectorIndex
    concept_vectors: VectorIndex
    lexical: LexicalIndex
    passage_rows: dict[str, int] = field(default_factory=dict)
    mentions_by_passage: dict[str, list[Mention]] = field(default_factory=dict)
    mentions_by_concept: dict[str, list[Mention]] = field(default_factory=dict)
    concept_order: list[str] = field(default_factory=list)  # URIs in concept-vector row order
    # concept lookup's texts embedded by the build: `text_key` of a text -> its row of vectors
    facet_rows: dict[str, int] = field(default_factory=dict)
    facet_vectors: Vectors = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def facet_vector(self, text: str) -> Vectors | None:
        """The build's vector of a lookup text (a label or definition), None if it has none."""
        row = self.facet_rows.get(text_key(text))
        return None if row is None else self.facet_vectors[row]

    def __post_init__(self) -> None:
        self.passage_rows = {p.id: i for i, p in enumerate(self.passages)}
        by_passage: dict[str, list[Mention]] = defaultdict(list)
        by_concept: dict[str, list[Mention]] = defaultdict(list)
        for m in self.mentions:
            by_passage[m.passage_id].append(m)
            by_concept[m.concept_uri].append(m)
        self.mentions_by_passage = dict(by_passage)
        self.mentions_by_concept = dict(by_concept)

    @property
    def graph_path(self) -> Path:
        return self.path / "graph.ttl"

    def rows_for_concept(self, concept_uri: str) -> Rows:
        rows = {
            self.passage_rows[m.passage_id] for m in self.mentions_by_concept.get(concept_uri, ())
        }
        return np.asarray(sorted(rows), dtype=np.int64)


# --- writing -----------------------------------------------------------------------------------


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Holds `<root>/.lock` so two builds never write the same index at once. StorageError
    when the folder cannot be written."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / ".lock", "a+")  # closed by the with below
    except OSError as exc:
        raise storage_error(root, exc) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexMismatch(
                f"{root}: another build is writing this index; wait for it"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_index(
    root: Path, contents: IndexContents, manifest_fields: Mapping[str, Any]
) -> Manifest:
    """Writes `contents` as a new version under `root` and publishes it atomically.

    The caller holds `build_lock(root)`. Returns the manifest of the published version.
    Raises StorageError when the folder cannot be written (read-only, disk full): then the
    version published before stays published and nothing of the new one is left behind.
    """
    version = time.strftime("v%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    staging, final = root / f".build-{version}", root / version
    try:
        root.mkdir(parents=True, exist_ok=True)
        previous = os.readlink(root / CURRENT) if (root / CURRENT).is_symlink() else None
        for stale in root.glob(".build-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging.mkdir()
        names = _write_files(staging, contents)
        files = {name: _sha256(staging / name) for name in names}
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            version=version,
            files=files,
            **manifest_fields,
        )
        _write_atomic(staging / MANIFEST, manifest.model_dump_json(indent=2).encode())
        fsync_dir(staging)
        os.replace(staging, final)
        _publish(root, version)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if _published(root) != version:  # never published: nothing of it may stay
            shutil.rmtree(final, ignore_errors=True)
        if isinstance(exc, OSError):
            raise storage_error(root, exc) from exc
        raise
    _prune(root, keep={version, previous})
    return manifest


def _published(root: Path) -> str | None:
    try:
        return os.readlink(root / CURRENT)
    except OSError:
        return None


def storage_error(folder: Path, exc: OSError | RuntimeError) -> StorageError:
    """The StorageError of a failed write into `folder`, in the system's words (FAISS raises
    RuntimeError with them in parentheses at the end)."""
    if isinstance(exc, OSError):
        return StorageError(folder, exc.strerror or exc.__class__.__name__)
    found = re.search(r"\(([^()]+)\)\s*$", str(exc)) or re.search(r":\s*([^:]+)$", str(exc))
    return StorageError(folder, found.group(1).strip() if found else "write error")


def _write_files(folder: Path, c: IndexContents) -> list[str]:
    names = [
        _write_jsonl(folder / "documents.jsonl", (asdict(d) for d in c.documents)),
        _write_jsonl(folder / "passages.jsonl", (_passage_row(p) for p in c.passages)),
        _write_jsonl(folder / "mentions.jsonl", (asdict(m) for m in c.mentions)),
        _write_json(
            folder / "concepts.json",
            {
                "concepts": [asdict(x) for x in c.concepts],
                "properties": [asdict(x) for x in c.properties],
            },
        ),
        _write_json(folder / "candidates.json", [asdict(x) for x in c.candidates]),
        _write_json(folder / "cooccurrence.json", [asdict(x) for x in c.cooccurrences]),
        _write_json(folder / "evidence.json", [asdict(x) for x in c.evidence]),
        _write_json(folder / "passages.keys.json", c.embedding_keys),
        _write_json(folder / "sentences.keys.json", c.sentence_keys),
        _write_json(folder / "facets.keys.json", c.facet_keys),
        _write_json(folder / "concepts.keys.json", c.concept_keys),
    ]
    np.save(folder / "sentences.npy", c.sentence_vectors, allow_pickle=False)
    np.save(folder / "facets.npy", c.facet_vectors, allow_pickle=False)
    names += ["sentences.npy", "facets.npy"]
    try:
        names += c.passage_vectors.save(folder, "passages")
        names += c.concept_vectors.save(folder, "concepts")
    except RuntimeError as exc:  # FAISS reports a failed write (disk full) so, not as OSError
        raise storage_error(folder.parent, exc) from exc  # the index root, not its staging
    names += c.lexical.save(folder, "lexical")
    (folder / "graph.ttl").write_bytes(c.graph_turtle)
    names.append("graph.ttl")
    for name in names:
        with open(folder / name, "rb") as handle:
            os.fsync(handle.fileno())
    return names


def _passage_row(p: Passage) -> dict[str, Any]:
    row = asdict(p)
    row["sentences"] = [[s.start, s.end] for s in p.sentences]
    return row


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
    return path.name


def _write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path.name


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write_synced(tmp, data)
    os.replace(tmp, path)


def write_synced(path: Path, data: bytes) -> None:
    """`data` in the file `path`, on disk (fsync) before this returns."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Flushes the folder `path` itself, so that names created or renamed in it survive a
    crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(root: Path, version: str) -> None:
    link = root / f".{CURRENT}-{uuid.uuid4().hex[:6]}"
    os.symlink(version, link)
    try:
        os.replace(link, root / CURRENT)  # rename(2) over the old symlink is atomic
    except BaseException:
        link.unlink(missing_ok=True)
        raise
    # Published from here on: failing now would make callers undo a change that readers
    # already see. A failed flush of the folder can only lose the rename in a crash, which
    # leaves the previous version published, as any crash before the swap does.
    with contextlib.suppress(OSError):
        fsync_dir(root)


def _prune(root: Path, *, keep: set[str | None]) -> None:
    """Removes every version folder but `keep`: the one just published and its predecessor (for
    readers that resolved `current` before the swap). Folders a crashed build renamed into place
    but never published are removed too; they were never served."""
    for folder in root.glob("v*"):
        if folder.is_dir() and not folder.is_symlink() and folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- reading -----------------------------------------------------------------------------------


def resolve_version(root: Path) -> Path:
    """The folder of the published version under `root` (or `root` itself if it is a version)."""
    if (root / MANIFEST).is_file():
        return root
    current = root / CURRENT
    if current.is_symlink() or current.exists():
        target = current.resolve()
        if (target / MANIFEST).is_file():
            return target
    raise IndexMissing(f"no index at {root}: run `leadgraph index corpus --out {root}`")


def read_manifest(version_dir: Path, *, formats: Container[int] = (FORMAT_VERSION,)) -> Manifest:
    """The manifest of `version_dir`; IndexMismatch, saying what to run, for an unreadable one or
    one of a format not in `formats` (by default only this leadgraph's)."""
    path = version_dir / MANIFEST
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        raise IndexMismatch(
            f"{path}: unreadable manifest ({exc.__class__.__name__}); "
            f"rebuild with `leadgraph index corpus --out {version_dir.parent}`"
        ) from exc
    if manifest.format_version not in formats:
        raise IndexMismatch(
            f"{path}: index format {manifest.format_version}, this leadgraph reads "
            f"{FORMAT_VERSION}; rebuild with `leadgraph index corpus --out {version_dir.parent}`"
        )
    return manifest


def verify_files(version_dir: Path, manifest: Manifest) -> None:
    """Raises IndexMismatch naming the first missing or corrupted file."""
    for name, expected in manifest.files.items():
        path = version_dir / name
        if not path.is_file():
            raise IndexMismatch(f"{path}: missing; rebuild with `leadgraph index`")
        if _sha256(path) != expected:
            raise IndexMismatch(
                f"{path}: checksum mismatch (corrupted or truncated); rebuild with "
                f"`leadgraph index corpus --out {version_dir.parent}`"
            )


def load_index(root: Path, *, model: str | None = None, verify: bool = True) -> Index:
    """Loads the published version under `root`.

    Refuses (IndexMismatch) an index of another format, built with another model than `model`
    when one is given, or whose files do not match their checksums. With `verify` off, a file
    that does not read, or reads with fewer records or rows than the manifest counts, is
    IndexMismatch naming it too.
    """
    folder = resolve_version(root)
    manifest = read_manifest(folder)
    if model is not None and manifest.model != model:
        raise IndexMismatch(
            f"{folder}: built with model {manifest.model!r}, the service is set to {model!r}; "
            f"rebuild with `leadgraph index corpus --out {root} --model {model}`"
        )
    if verify:
        verify_files(folder, manifest)
    files = _Files(folder, root, manifest)
    concept_data = files.read("concepts.json", _read_json)
    concepts = files.read(
        "concepts.json", lambda _: [_concept(c) for c in concept_data["concepts"]]
    )
    properties = files.read(
        "concepts.json",
        lambda _: {
            p["uri"]: PropertyDef(**{**p, "cue_words": tuple(p["cue_words"])})
            for p in concept_data["properties"]
        },
    )
    documents = files.read(
        "documents.jsonl", lambda path: [Document(**d) for d in _read_jsonl(path)]
    )
    passages = files.read("passages.jsonl", lambda path: [_passage(p) for p in _read_jsonl(path)])
    mentions = files.read("mentions.jsonl", lambda path: [Mention(**m) for m in _read_jsonl(path)])
    cooccurrences = files.read(
        "cooccurrence.json", lambda path: [Cooccurrence(**c) for c in _read_json(path)]
    )
    evidence = files.read(
        "evidence.json", lambda path: [RelationEvidence(**e) for e in _read_json(path)]
    )
    candidates = files.read(
        "candidates.json",
        lambda path: [
            Candidate(**{**c, "evidence": tuple(c["evidence"])}) for c in _read_json(path)
        ],
    )
    for name, found, key in [
        ("documents.jsonl", len(documents), "documents"),
        ("passages.jsonl", len(passages), "passages"),
        ("concepts.json", len(concepts), "concepts"),
        ("mentions.jsonl", len(mentions), "mentions"),
        ("cooccurrence.json", len(cooccurrences), "cooccurrences"),
        ("evidence.json", len(evidence), "relation_evidence"),
        ("candidates.json", len(candidates), "candidate_concepts"),
    ]:
        files.check(name, found, manifest.counts.get(key, found), key)
    passage_vectors = files.vectors("passages", len(passages))
    concept_vectors = files.vectors("concepts", len(concepts))
    files.read("lexical.vocab.json", _read_json)  # first, so a damaged one is named as such
    lexical = files.read("lexical.npz", lambda _: LexicalIndex.load(folder, "lexical"))
    files.check("lexical.npz", len(lexical), len(passages), "passage columns")
    facet_keys = files.read("facets.keys.json", _read_json)
    facet_vectors = files.read("facets.npy", lambda path: np.load(path, allow_pickle=False))
    files.check("facets.npy", len(facet_vectors), len(facet_keys), "rows (one per key)")
    files.check("facets.npy", _width(facet_vectors), manifest.dimension, "dimensions")
    try:
        return Index(
            path=folder,
            manifest=manifest,
            documents={d.id: d for d in documents},
            passages=passages,
            concepts={c.uri: c for c in concepts},
            properties=properties,
            mentions=mentions,
            cooccurrences=cooccurrences,
            evidence=evidence,
            candidates=candidates,
            passage_vectors=passage_vectors,
            concept_vectors=concept_vectors,
            lexical=lexical,
            concept_order=[c.uri for c in concepts],
            facet_rows={k: i for i, k in enumerate(facet_keys)},
            facet_vectors=facet_vectors,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # records that disagree
        raise IndexMismatch(
            f"{folder}: cannot read index ({exc.__class__.__name__}: {exc}); {_rebuild_hint(root)}"
        ) from exc


class _Files:
    """Reads the files of one version folder, so that whatever a damaged file raises becomes
    IndexMismatch naming that file (checksums off, or a file changed after they were
    checked)."""

    def __init__(self, folder: Path, root: Path, manifest: Manifest) -> None:
        self.folder = folder
        self.root = root
        self.manifest = manifest

    def read(self, name: str, parse: Callable[[Path], _T]) -> _T:
        try:
            return parse(self.folder / name)
        except Exception as exc:  # BadZipFile, EOFError, FAISS's RuntimeError, JSON, TypeError...
            raise IndexMismatch(
                f"{self.folder / name}: cannot be read, damaged or truncated "
                f"({exc.__class__.__name__}: {str(exc)[:200]}); {_rebuild_hint(self.root)}"
            ) from exc

    def check(self, name: str, found: int, expected: int, what: str) -> None:
        if found != expected:
            raise IndexMismatch(
                f"{self.folder / name}: {found} {what} where {expected} were written, damaged "
                f"or truncated; {_rebuild_hint(self.root)}"
            )

    def vectors(self, name: str, rows: int) -> VectorIndex:
        """`<name>.npy` and `<name>.faiss` as a VectorIndex of `rows` rows of the manifest's
        dimension; the .npy is opened first (a memory map, no copy), so a damaged one is named
        rather than the index read with it."""
        raw = self.read(f"{name}.npy", lambda path: np.load(path, mmap_mode="r"))
        self.check(f"{name}.npy", len(raw), rows, "rows")
        self.check(f"{name}.npy", _width(raw), self.manifest.dimension, "dimensions")
        del raw
        index = self.read(f"{name}.faiss", lambda _: VectorIndex.load(self.folder, name))
        self.check(f"{name}.faiss", len(index), rows, "vectors")
        if rows:
            self.check(f"{name}.faiss", index.dimension, self.manifest.dimension, "dimensions")
        return index


def _width(matrix: Any) -> int:
    """The columns of a 2-d array; -1 for an array of another shape."""
    shape = np.shape(matrix)
    return int(shape[1]) if len(shape) == 2 else -1


def _rebuild_hint(root: Path) -> str:
    return f"rebuild with `leadgraph index corpus --out {root}`"


def text_key(text: str) -> str:
    """The key of an embedded text's vector: the sha256 of exactly the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_vectors(root: Path, model: str, *, kind: str = "passages") -> dict[str, Vectors]:
    """Vectors of the published version keyed by the hash of the text embedded, when it used
    `model`; empty when there is no usable previous version. `kind` is "passages",
    "sentences", "facets" or "concepts". Lets a rebuild re-embed only what changed."""
    try:
        folder = resolve_version(root)
        manifest = read_manifest(folder, formats=REUSABLE_FORMATS)
        if manifest.model != model:
            return {}
        # a corrupted file must not pass its vectors on to the next version
        for name in (f"{kind}.keys.json", f"{kind}.npy"):
            if manifest.files.get(name) != _sha256(folder / name):
                return {}
        keys = _read_json(folder / f"{kind}.keys.json")
        vectors = np.load(folder / f"{kind}.npy", allow_pickle=False)
    except (IndexMissing, IndexMismatch, OSError, ValueError):
        return {}
    if len(vectors) != len(keys):
        return {}
    return {key: vectors[i] for i, key in enumerate(keys)}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _passage(row: dict[str, Any]) -> Passage:
    row["sentences"] = tuple(Span(s, e) for s, e in row["sentences"])
    return Passage(**row)


def _concept(row: dict[str, Any]) -> Concept:
    return Concept(
        **{
            **row,
            "alt_labels": tuple(row["alt_labels"]),
            "weak_labels": tuple(row.get("weak_labels", ())),  # absent before weak labels
            "broader": tuple(row["broader"]),
            "narrower": tuple(row["narrower"]),
            "related": tuple(row["related"]),
            "relations": tuple(Relation(**r) for r in row["relations"]),
        }
    )
