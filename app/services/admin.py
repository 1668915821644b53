"""Changing the corpus: add or replace one article, delete one, or rebuild everything, each
published as a new index version. Shared by the admin endpoints and `leadgraph add / remove /
reindex`.

The corpus folder is the source of truth; the index is rebuilt from it. An update:

1. takes `<index>/.update.lock` (flock, so one update at a time across threads and processes;
   a second one gets Conflict `update_in_progress` at once rather than queueing behind a build);
2. writes the article into a hidden staging folder of the corpus, fsyncs it, and reads it with
   the corpus reader (the same rules and line numbers as `leadgraph index`);
3. moves it onto `<corpus>/<id>.md` with os.replace (atomic) and fsyncs the folder;
4. rebuilds incrementally (only passages whose text changed are embedded) and publishes the
   version by the atomic `current` swap (`indexer.store`);
5. if step 3 or 4 fails, puts the corpus back as it was.

An article longer than `max_article_bytes` is refused before the lock is taken: its encode is
what an update costs (about 0.3 s per KiB of new text with the shipped model on two busy
cores), and the lock is held for all of it. A folder that cannot be written (read-only, disk
full, no permission) is StorageUnavailable naming the corpus or index folder by its name;
nothing has changed then.

A crash (SIGKILL, power loss) before the swap leaves the previous version published and
loadable; the corpus may then be one change ahead of it, which the next update or `leadgraph
reindex` brings into the index.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from leadgraph.indexer.build import BuildReport, Reporter, build_index
from leadgraph.indexer.corpus import (
    DOCUMENT_ID,
    TEXT_SUFFIXES,
    FrontMatterLimits,
    read_corpus,
    slugify,
)
from leadgraph.indexer.embedder import Embedder
from leadgraph.indexer.errors import CorpusError, IndexError_, LeadgraphError, StorageError
from leadgraph.indexer.models import Document
from leadgraph.indexer.ontology import DEFAULT_ONTOLOGY
from leadgraph.indexer.store import (
    REUSABLE_FORMATS,
    fsync_dir,
    read_manifest,
    resolve_version,
    write_synced,
)

from ..config import Settings
from ..errors import (
    BadRequest,
    Conflict,
    IndexNotReady,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    Unprocessable,
)

log = logging.getLogger("leadgraph")

UPDATE_LOCK = ".update.lock"
_STAGING_PREFIX = ".update-"

Action = Literal["created", "replaced", "deleted", "reindexed"]


@dataclass(frozen=True)
class UpdateOutcome:
    action: Action
    document_id: str | None
    previous_version: str | None  # the version published before this update
    report: BuildReport


@contextlib.contextmanager
def update_lock(index_root: Path) -> Iterator[None]:
    """Holds `<index_root>/.update.lock`; Conflict `update_in_progress` when it is taken,
    StorageUnavailable when the index folder cannot be written."""
    try:
        index_root.mkdir(parents=True, exist_ok=True)
        # a lock belongs to the open file, so two threads of one process exclude each other
        # too; the kernel drops it when the holder dies, so a killed update never blocks the next
        handle = open(index_root / UPDATE_LOCK, "a+")  # closed by the with below
    except OSError as exc:
        raise _unwritable("index", index_root, exc) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                "another update of this index is running; retry when it has finished",
                code="update_in_progress",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CorpusEditor:
    """Updates of the corpus folder `corpus` and of the index under `index`.

    Its errors go to HTTP clients as well as to the CLI, so they name files relative to the
    corpus folder and the index folder by its name (`_public`), never by an absolute path.
    """

    def __init__(
        self,
        *,
        corpus: Path,
        index: Path,
        embedder: Embedder,
        ontology: Path = DEFAULT_ONTOLOGY,
        base: Path | None = None,  # Document.path relative to it (default: the corpus folder)
        front_matter: FrontMatterLimits = FrontMatterLimits(),  # noqa: B008 - frozen
        max_article_bytes: int | None = None,  # None: any size
        after_publish: Callable[[], object] | None = None,
        report: Reporter | None = None,
    ) -> None:
        self.corpus = corpus
        self.index = index
        self.embedder = embedder
        self.ontology = ontology
        self.base = base
        self.front_matter = front_matter
        self.max_article_bytes = max_article_bytes
        # runs under the update lock once a version is published (the app loads it there, so
        # two updates can never swap their versions in the wrong order)
        self.after_publish = after_publish
        self.report = report

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        embedder: Embedder,
        *,
        after_publish: Callable[[], object] | None = None,
        report: Reporter | None = None,
    ) -> CorpusEditor:
        return cls(
            corpus=settings.corpus,
            index=settings.index,
            embedder=embedder,
            ontology=settings.ontology,
            front_matter=settings.front_matter_limits(),
            max_article_bytes=settings.max_article_bytes,
            after_publish=after_publish,
            report=report,
        )

    # --- the three operations ------------------------------------------------------------------

    def put(self, document_id: str, body: bytes) -> UpdateOutcome:
        """Adds or replaces the article `document_id` (Markdown with optional YAML front
        matter) as `<corpus>/<document_id>.md`, then rebuilds and publishes. Raises
        PayloadTooLarge (over max_article_bytes), Unprocessable (the reader's refusal, with its
        line), BadRequest (the front matter names another id), Conflict (another update runs;
        the id lives in a .jsonl file; the rest of the corpus does not build),
        StorageUnavailable (a folder cannot be written)."""
        check_document_id(document_id)
        self._check_size(body)
        with update_lock(self.index):
            self._check_corpus_folder()
            staging = self._staging()
            try:
                staged = staging / f"{document_id}.md"
                with self._writing():
                    write_synced(staged, body)
                self._validate(staged, document_id)
                holders = self._holders()
                holder = holders.get(document_id)
                held = None if holder is None else self._file_of(holder)
                if holder is not None and Path(holder.path).suffix.lower() not in TEXT_SUFFIXES:
                    raise _in_jsonl(holder)
                target = self.corpus / f"{document_id}.md"
                backup = _Backup(staging)
                with self._changing(backup):
                    backup.save(target)
                    if held is not None and held != target:
                        backup.save(held)  # the id moves to <id>.md
                    os.replace(staged, target)
                    fsync_dir(self.corpus)
                    if held is not None and held != target:
                        held.unlink()
                        fsync_dir(held.parent)
                previous, report = self._rebuild(backup)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        action: Action = "created" if holder is None else "replaced"
        return UpdateOutcome(action, document_id, previous, report)

    def delete(self, document_id: str) -> UpdateOutcome:
        """Deletes the file holding article `document_id`, then rebuilds and publishes. Raises
        NotFound, Conflict (another update runs; the id lives in a .jsonl file; it is the last
        document), or StorageUnavailable (a folder cannot be written)."""
        check_document_id(document_id)
        with update_lock(self.index):
            self._check_corpus_folder()
            holders = self._holders()
            holder = holders.get(document_id)
            if holder is None:
                raise NotFound(
                    f"no document {document_id!r} in the corpus folder",
                    code="document_not_found",
                )
            path = self._file_of(holder)
            if path.suffix.lower() not in TEXT_SUFFIXES:
                raise _in_jsonl(holder)
            if len(holders) == 1:
                raise Conflict(
                    f"{document_id!r} is the last document of the corpus; an index needs one",
                    code="corpus_conflict",
                )
            staging = self._staging()
            try:
                backup = _Backup(staging)
                with self._changing(backup):
                    backup.save(path)
                    path.unlink()
                    fsync_dir(path.parent)
                previous, report = self._rebuild(backup)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return UpdateOutcome("deleted", document_id, previous, report)

    def reindex(self) -> UpdateOutcome:
        """Rebuilds the index from the corpus folder as it is and publishes it."""
        with update_lock(self.index):
            self._check_corpus_folder()
            previous, report = self._rebuild(None)
        return UpdateOutcome("reindexed", None, previous, report)

    # --- steps ---------------------------------------------------------------------------------

    def _check_corpus_folder(self) -> None:
        """Refuses a corpus that is not a folder; removes what a killed update left in it."""
        if not self.corpus.is_dir():
            raise Conflict(
                f"the corpus {self.corpus.name!r} is not a folder; updates write articles into "
                "the corpus folder the index is built from (--corpus, LEADGRAPH_CORPUS)",
                code="corpus_conflict",
            )
        # the caller holds the update lock, so no live update is using these
        for stale in self.corpus.glob(f"{_STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)

    def _check_size(self, body: bytes) -> None:
        if self.max_article_bytes is not None and len(body) > self.max_article_bytes:
            raise PayloadTooLarge(
                f"article: {len(body)} bytes, more than {self.max_article_bytes} "
                "(max_article_bytes, LEADGRAPH_MAX_ARTICLE_BYTES)"
            )

    def _staging(self) -> Path:
        # inside the corpus, so the final os.replace stays on one file system; hidden, so the
        # corpus reader skips it
        staging = self.corpus / f"{_STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
        with self._writing():
            staging.mkdir()
        return staging

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Turns a failed write of the corpus folder into StorageUnavailable naming it."""
        try:
            yield
        except OSError as exc:
            raise self._storage(exc, "corpus") from exc

    @contextlib.contextmanager
    def _changing(self, backup: _Backup) -> Iterator[None]:
        """Runs the steps that change the corpus folder; when one fails, puts back what
        `backup` saved (a failed write is then StorageUnavailable)."""
        try:
            yield
        except BaseException as exc:
            self._restore(backup, exc)
            if isinstance(exc, OSError):
                raise self._storage(exc, "corpus") from exc
            raise

    def _restore(self, backup: _Backup, cause: BaseException) -> None:
        """Puts the corpus back as `backup` saved it; StorageUnavailable, saying what to run,
        when that fails too."""
        try:
            backup.restore()
        except OSError as exc:
            log.error("the corpus could not be put back after %r: %s", cause, exc)
            raise StorageUnavailable(
                f"the corpus folder {self.corpus.name!r} cannot be written "
                f"({exc.strerror or type(exc).__name__}) and may hold part of this update; run "
                "`leadgraph reindex` once it can be written"
            ) from exc

    def _storage(
        self, exc: OSError | StorageError, folder: Literal["corpus", "index"]
    ) -> StorageUnavailable:
        """StorageUnavailable for a failed write; the folder is the one `exc` names if it
        lies in the corpus or the index, else `folder`."""
        if isinstance(exc, StorageError):
            return _unwritable("index", self.index, exc)
        roots: dict[Literal["corpus", "index"], Path] = {
            "index": self.index,
            "corpus": self.corpus,
        }
        for name in (exc.filename, exc.filename2):
            if isinstance(name, str | os.PathLike):
                for kind, root in roots.items():
                    if _relative(Path(name), root) is not None:
                        return _unwritable(kind, root, exc)
        return _unwritable(folder, roots[folder], exc)

    def _validate(self, staged: Path, document_id: str) -> None:
        try:
            [document] = read_corpus([staged], front_matter=self.front_matter)
        except CorpusError as exc:
            where = f"line {exc.line}" if exc.line is not None else "body"
            raise Unprocessable(f"{where}: {exc.message}", code="invalid_document") from None
        if document.id == document_id:
            return
        id_line = _front_matter_id_line(staged.read_text(encoding="utf-8-sig"))
        if id_line is not None:
            raise BadRequest(
                f"line {id_line}: the front matter id {document.id!r} differs from the id in "
                f"the path {document_id!r}",
                code="id_mismatch",
            )
        raise Unprocessable(  # an id no file name can carry (upper case): it must be written out
            f"line 1: the file name would give the id {slugify(document_id)!r}; add front "
            f"matter with `id: {document_id}`",
            code="invalid_document",
        )

    def _holders(self) -> dict[str, Document]:
        """Every document of the corpus folder by id; `path` is its file's, relative to the
        folder (`_file_of`)."""
        try:
            return {d.id: d for d in read_corpus([self.corpus], front_matter=self.front_matter)}
        except CorpusError as exc:
            if exc.path == str(self.corpus) and exc.line is None:
                return {}  # a folder without articles yet
            raise Conflict(
                f"the corpus has a problem to fix first: {self._public(exc)}",
                code="corpus_conflict",
            ) from None

    def _file_of(self, holder: Document) -> Path:
        return self.corpus / holder.path  # read by _holders: relative to the corpus folder

    def _public(self, exc: LeadgraphError) -> str:
        """The message of `exc` with the corpus, index and ontology named relative to their
        folders (a corpus file as `a/b.md`, an index file as `index/v…/manifest.json`)."""
        if isinstance(exc, CorpusError):
            where = _relative(Path(exc.path), self.corpus) or Path(exc.path).name
            return f"{where}:{exc.line}: {exc.message}" if exc.line else f"{where}: {exc.message}"
        text = str(exc)
        roots = [(self.corpus, self.corpus.name), (self.index, self.index.name)]
        roots.append((self.ontology, self.ontology.name))
        forms = sorted(
            {(str(form), name) for root, name in roots for form in (root, root.resolve())},
            key=lambda pair: -len(pair[0]),  # a root inside another is replaced first
        )
        for form, name in forms:
            if form not in (".", ""):
                text = text.replace(form, name)
        return text

    def _rebuild(self, backup: _Backup | None) -> tuple[str | None, BuildReport]:
        """Builds and publishes; on failure restores `backup` and raises an ApiError."""
        previous, options = self._previous_build()
        try:
            report = build_index(
                [self.corpus],
                self.index,
                embedder=self.embedder,
                ontology_path=self.ontology,
                base=self.base,
                front_matter=self.front_matter,
                report=self.report,
                **options,
            )
        except BaseException as exc:  # Ctrl-C in the CLI too: the corpus goes back as it was
            if backup is not None:
                self._restore(backup, exc)
            if isinstance(exc, StorageError | OSError):
                raise self._storage(exc, "index") from exc
            if isinstance(exc, CorpusError):
                raise Conflict(
                    f"the corpus does not build, nothing changed: {self._public(exc)}",
                    code="corpus_conflict",
                ) from None
            if isinstance(exc, IndexError_):  # the build lock: `leadgraph index` is writing
                raise Conflict(self._public(exc), code="update_in_progress") from None
            if isinstance(exc, LeadgraphError):
                raise IndexNotReady(
                    f"rebuild failed, nothing changed: {self._public(exc)}"
                ) from exc
            raise
        log.info(
            "published index %s: %s; embedded %d passages, reused %d, in %.1f s",
            report.manifest.version,
            report.manifest.counts,
            report.embedded,
            report.reused,
            report.seconds,
        )
        if self.after_publish is not None:
            self.after_publish()
        return previous, report

    def _previous_build(self) -> tuple[str | None, dict[str, Any]]:
        """The published version and the build options to keep from it (passage size, linking
        threshold), so that an update changes the corpus and nothing else."""
        try:
            manifest = read_manifest(resolve_version(self.index), formats=REUSABLE_FORMATS)
        except IndexError_:
            return None, {}
        options: dict[str, Any] = {}
        max_tokens = manifest.settings.get("max_tokens")
        if isinstance(max_tokens, int):
            options["max_tokens"] = max_tokens
        threshold = manifest.settings.get("semantic_threshold")
        if isinstance(threshold, int | float):
            options["semantic_threshold"] = float(threshold)
        return manifest.version, options


def check_document_id(document_id: str) -> None:
    if not DOCUMENT_ID.match(document_id):
        raise Unprocessable(
            f"document_id: {document_id[:140]!r} is not a document id: use letters, digits, "
            "'.', '_' or '-', starting with a letter or digit, at most 128 characters"
        )


class _Backup:
    """Copies of corpus files taken before an update changes them, to put back on failure."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.saved: list[tuple[Path, Path | None]] = []  # (original, copy or None if absent)

    def save(self, path: Path) -> None:
        if path.exists():
            copy = self.folder / f"backup-{len(self.saved)}"
            shutil.copy2(path, copy)
            self.saved.append((path, copy))
        else:
            self.saved.append((path, None))

    def restore(self) -> None:
        """Puts every saved file back, as many as can be; raises the first OSError met."""
        failure: OSError | None = None
        for original, copy in reversed(self.saved):
            try:
                if copy is None:
                    original.unlink(missing_ok=True)
                else:
                    os.replace(copy, original)  # same file system: atomic
                fsync_dir(original.parent)
            except OSError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure


def _unwritable(
    kind: Literal["corpus", "index"], folder: Path, exc: OSError | StorageError
) -> StorageUnavailable:
    reason = exc.reason if isinstance(exc, StorageError) else exc.strerror or type(exc).__name__
    return StorageUnavailable(
        f"the {kind} folder {folder.name!r} cannot be written ({reason}); nothing changed"
    )


def _in_jsonl(holder: Document) -> Conflict:
    return Conflict(
        f"document {holder.id!r} is a record of {holder.path} (line {holder.line}); edit "
        "that file and reindex",
        code="corpus_conflict",
    )


def _relative(path: Path, folder: Path) -> str | None:
    """`path` relative to `folder` (POSIX), or None when it lies outside."""
    for a, b in ((path, folder), (path.resolve(), folder.resolve())):
        try:
            return a.relative_to(b).as_posix()
        except ValueError:
            continue
    return None


def _front_matter_id_line(text: str) -> int | None:
    """The line of the `id:` key in the front matter of `text`, if it has one."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return None
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() == "---":
            return None
        if line.lstrip().lstrip("'\"").startswith("id") and ":" in line:
            key = line.split(":", 1)[0].strip().strip("'\"")
            if key == "id":
                return number
    return None
