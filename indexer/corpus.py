"""Read and validate the corpus: Markdown/text articles with optional YAML front matter, and
BEIR-style JSON Lines corpora.

Every problem is a `CorpusError` naming the file and, where it applies, the line, so that a bad
article in a folder of hundreds is found at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast, get_args

import yaml

from .errors import CorpusError
from .models import Document, DocumentKind

TEXT_SUFFIXES = frozenset({".md", ".txt"})
JSONL_SUFFIXES = frozenset({".jsonl"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES

DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
KINDS: tuple[str, ...] = get_args(DocumentKind)

_BOM = "\ufeff"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SLUG_JUNK = re.compile(r"[^a-z0-9._-]+")


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps, so dates reach validation as written."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_corpus(paths: Sequence[Path], *, base: Path | None = None) -> list[Document]:
    """The documents of every file and folder in `paths`, in order (folders recursively, sorted).

    Raises `CorpusError` for a missing path, an unsupported file named explicitly, a malformed
    file, or a document id used twice anywhere in the inputs.
    """
    documents: list[Document] = []
    first_seen: dict[str, tuple[str, int]] = {}
    for path in paths:
        for file in _files(Path(path)):
            source = _display(file, base)
            for document, id_line in _read_file(file, source):
                if document.id in first_seen:
                    where, line = first_seen[document.id]
                    raise CorpusError(
                        file,
                        f"duplicate document id {document.id!r} (first in {where}:{line})",
                        id_line,
                    )
                first_seen[document.id] = (source, id_line)
                documents.append(document)
    return documents


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    """sha256 hex over ids, metadata and texts in order; independent of where the files live."""
    digest = hashlib.sha256()
    for d in documents:
        record = [d.id, d.title, d.kind, d.date, d.text]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def slugify(name: str) -> str:
    """A document id derived from a file stem: lower case, runs of other characters as '-'."""
    return _SLUG_JUNK.sub("-", name.lower()).strip("-._")[:128].rstrip("-._")


# --- files ---------------------------------------------------------------------------------


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        found = sorted(
            (p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES),
            key=lambda p: p.relative_to(path).parts,
        )
        files = [
            p
            for p in found
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
        if not files:
            raise CorpusError(path, "folder holds no .md, .txt or .jsonl files")
        yield from files
    elif path.is_file():
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise CorpusError(
                path,
                f"unsupported file type {path.suffix or path.name!r} "
                "(expected .md, .txt or .jsonl)",
            )
        yield path
    else:
        raise CorpusError(path, "no such file or folder")


def _display(file: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return file.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return str(file)


def _decode(file: Path) -> str:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise CorpusError(file, f"cannot read: {exc.strerror or exc}") from exc
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise CorpusError(
            file, f"not valid UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded", line
        ) from exc


def _read_file(file: Path, source: str) -> list[tuple[Document, int]]:
    text = _decode(file)
    if file.suffix.lower() in JSONL_SUFFIXES:
        return _read_jsonl(file, source, text)
    return [_read_text(file, source, text)]


# --- .md / .txt ----------------------------------------------------------------------------


def _read_text(file: Path, source: str, text: str) -> tuple[Document, int]:
    """One article and the line its id comes from."""
    if not text.strip():
        raise CorpusError(file, "empty file", 1)
    meta: dict[str, Any] = {}
    meta_lines: list[str] = []
    body, body_line = text, 1
    first_end = text.find("\n")
    if (text if first_end < 0 else text[:first_end]).rstrip() == "---":
        meta, meta_lines, body, body_line = _front_matter(file, text)

    def line_of(key: str) -> int:
        pattern = re.compile(rf"^\s*['\"]?{re.escape(key)}['\"]?\s*:")
        for i, line in enumerate(meta_lines):
            if pattern.match(line):
                return i + 2  # front matter starts on line 2
        return 1

    if not body.strip():
        raise CorpusError(file, "document has no text after the front matter", body_line)

    if "id" in meta:
        doc_id, id_line = meta["id"], line_of("id")
        if not isinstance(doc_id, str):
            raise CorpusError(file, f"id must be a string, not {_type(doc_id)} (quote it)", id_line)
        if not DOCUMENT_ID.match(doc_id):
            raise CorpusError(
                file,
                f"invalid document id {doc_id!r}: use letters, digits, '.', '_' or '-' "
                "(starting with a letter or digit, at most 128 characters)",
                id_line,
            )
    else:
        doc_id, id_line = slugify(file.stem), 1
        if not DOCUMENT_ID.match(doc_id):
            raise CorpusError(
                file,
                f"cannot derive a document id from the file name {file.name!r}; "
                "add front matter with an id",
                1,
            )

    title = meta.get("title")
    if title is None:
        title = _first_line(body, markdown=file.suffix.lower() == ".md")
    elif not isinstance(title, str) or not title.strip():
        raise CorpusError(file, "title must be a non-empty string", line_of("title"))

    kind = meta.get("kind", "article")
    if kind not in KINDS:
        raise CorpusError(
            file,
            f"invalid kind {kind!r}: expected one of {', '.join(map(repr, KINDS))}",
            line_of("kind"),
        )

    date = meta.get("date")
    if date is not None:
        date = _iso_date(file, date, line_of("date"))

    document = Document(
        id=doc_id,
        title=title.strip(),
        text=body,
        kind=cast(DocumentKind, kind),
        date=date,
        source=source,
        line=body_line,
    )
    return document, id_line


def _front_matter(file: Path, text: str) -> tuple[dict[str, Any], list[str], str, int]:
    """(metadata, its lines, body, first line of the body) of a text whose first line is ---."""
    lines = text.split("\n")
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            closing = index
            break
    else:
        raise CorpusError(file, "unterminated front matter: no closing '---' line", 1)
    meta_lines = lines[1:closing]
    try:
        meta = yaml.load("\n".join(meta_lines), Loader=_FrontMatterLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise CorpusError(file, f"malformed front matter: {problem}", line) from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise CorpusError(
            file, f"front matter must be a mapping of keys to values, not {_type(meta)}", 2
        )
    body_start = sum(len(line) + 1 for line in lines[: closing + 1])
    return meta, meta_lines, text[body_start:], closing + 2


def _first_line(body: str, *, markdown: bool) -> str:
    for line in body.split("\n"):
        line = line.strip()
        if markdown:
            line = line.lstrip("#").strip()
        if line:
            return line
    return ""  # unreachable: the body was checked to hold text


def _iso_date(file: Path, value: object, line: int) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise CorpusError(file, f"invalid date {value!r}: expected an ISO date YYYY-MM-DD", line)


def _type(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


# --- .jsonl (BEIR) -------------------------------------------------------------------------


def _read_jsonl(file: Path, source: str, text: str) -> list[tuple[Document, int]]:
    out: list[tuple[Document, int]] = []
    loads = json.loads
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(
                file, f"malformed JSON: {exc.msg} (column {exc.colno})", number
            ) from None
        if not isinstance(record, dict):
            raise CorpusError(file, f"expected a JSON object, not {_type(record)}", number)
        doc_id = record.get("_id")
        body = record.get("text")
        title = record.get("title", "")
        if not isinstance(doc_id, str):
            problem = "missing '_id'" if doc_id is None else "'_id' must be a string"
            raise CorpusError(file, problem, number)
        if not DOCUMENT_ID.match(doc_id):
            raise CorpusError(
                file,
                f"invalid document id {doc_id!r}: use letters, digits, '.', '_' or '-' "
                "(starting with a letter or digit, at most 128 characters)",
                number,
            )
        if not isinstance(body, str):
            problem = "missing 'text'" if body is None else "'text' must be a string"
            raise CorpusError(file, problem, number)
        if title is None:
            title = ""
        if not isinstance(title, str):
            raise CorpusError(file, "'title' must be a string", number)
        if not body.strip() and not title.strip():
            raise CorpusError(file, f"document {doc_id!r} has no text", number)
        out.append(
            (Document(id=doc_id, title=title, text=body, source=source, line=number), number)
        )
    if not out:
        raise CorpusError(file, "empty file", 1)
    return out
