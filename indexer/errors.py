"""Errors raised by the indexer.

    LeadgraphError
    ├── CorpusError          a corpus file is unreadable or malformed (names file and line)
    ├── OntologyError        the ontology does not parse or breaks its SHACL shapes
    ├── ModelError           the embedding model cannot be loaded
    └── IndexError_
        ├── IndexMissing     no index at the given folder
        ├── IndexMismatch    the index on disk was built differently (format, model, checksum)
        └── StorageError     the index folder cannot be written (read-only, disk full, no
                             permission): nothing was published

Every message says what is wrong and, where there is one, what to run to fix it.
"""

from __future__ import annotations

from pathlib import Path


class LeadgraphError(Exception):
    """Base of every error the indexer raises on purpose."""


class CorpusError(LeadgraphError):
    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class OntologyError(LeadgraphError):
    pass


class ModelError(LeadgraphError):
    pass


class IndexError_(LeadgraphError):  # noqa: N801 - avoid shadowing the builtin IndexError
    pass


class IndexMissing(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


class StorageError(IndexError_):
    """Writing into `folder` failed for `reason` (the system's words: "No space left on
    device", "Read-only file system", "Permission denied")."""

    def __init__(self, folder: Path | str, reason: str) -> None:
        self.folder = Path(folder)
        self.reason = reason
        super().__init__(
            f"{folder}: cannot be written ({reason}); the published index is unchanged"
        )
