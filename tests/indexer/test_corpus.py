from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadgraph.indexer.corpus import FrontMatterLimits, corpus_fingerprint, read_corpus
from leadgraph.indexer.errors import CorpusError
from tests.conftest import CORPUS, ROOT

SEEDS = ROOT.parent / "shared" / "seeds"
BUNDLED = {
    "synergy-of-success": "000_794423481e9f302f.txt",
    "organizational-leadership-and-management": "003_569b31adfc32932d.txt",
    "leadership-vs-management-power-duo": "004_5033195712522462.txt",
}


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def error_of(paths: list[Path]) -> CorpusError:
    with pytest.raises(CorpusError) as info:
        read_corpus(paths)
    return info.value


# --- the bundled corpus --------------------------------------------------------------------


def test_bundled_corpus_reads_three_documents_with_their_metadata() -> None:
    docs = {d.id: d for d in read_corpus([CORPUS], base=ROOT)}

    assert set(docs) == set(BUNDLED)
    assert docs["leadership-vs-management-power-duo"].kind == "video transcript"
    assert docs["synergy-of-success"].kind == "article"
    assert docs["organizational-leadership-and-management"].kind == "article"
    assert docs["organizational-leadership-and-management"].date == "2020-02-19"
    assert docs["synergy-of-success"].date is None
    assert docs["synergy-of-success"].title == (
        "The Synergy of Success: Unveiling the Connection Between Leadership and Management"
    )
    assert {d.id: d.source for d in docs.values()} == BUNDLED  # the front matter's `source:`
    assert docs["synergy-of-success"].path == "corpus/synergy-of-success.md"


def test_bundled_body_starts_on_the_line_after_the_front_matter() -> None:
    for doc in read_corpus([CORPUS]):
        lines = (CORPUS / f"{doc.id}.md").read_text(encoding="utf-8").split("\n")
        assert lines[doc.line - 2] == "---"
        assert lines[doc.line - 1] == doc.text.split("\n")[0]


@pytest.mark.skipif(not SEEDS.exists(), reason="seed articles not available")
def test_bundled_bodies_equal_the_seed_files_byte_for_byte() -> None:
    for doc in read_corpus([CORPUS]):
        seed = (SEEDS / BUNDLED[doc.id]).read_bytes()
        assert doc.text.encode("utf-8") == seed
        raw = (CORPUS / f"{doc.id}.md").read_bytes()
        assert raw.endswith(b"\n---\n" + seed)


def test_fingerprint_changes_with_text_but_not_with_location(tmp_path: Path) -> None:
    docs = read_corpus([CORPUS])
    for name in BUNDLED:
        write(tmp_path / "copy" / f"{name}.md", (CORPUS / f"{name}.md").read_bytes())
    copied = read_corpus([tmp_path / "copy"])
    assert corpus_fingerprint(docs) == corpus_fingerprint(copied)

    write(tmp_path / "extra.txt", "Another article.\n")
    assert corpus_fingerprint(read_corpus([CORPUS, tmp_path / "extra.txt"])) != (
        corpus_fingerprint(docs)
    )


# --- formats -------------------------------------------------------------------------------


def test_folder_is_read_recursively_sorted_skipping_hidden_and_other_files(tmp_path: Path) -> None:
    write(tmp_path / "b.md", "B title\n\nBody b.\n")
    write(tmp_path / "a" / "z.txt", "Z title\nBody z.\n")
    write(tmp_path / "a" / "notes.pdf", b"%PDF")
    write(tmp_path / ".hidden.md", "Hidden\n")
    write(tmp_path / ".git" / "x.md", "Hidden too\n")

    docs = read_corpus([tmp_path], base=tmp_path)

    assert [d.id for d in docs] == ["z", "b"]
    assert [d.path for d in docs] == ["a/z.txt", "b.md"]
    assert [d.source for d in docs] == [None, None]


def test_txt_without_front_matter_takes_title_from_first_line(tmp_path: Path) -> None:
    path = write(tmp_path / "My Notes_2.txt", "\n  Why leaders matter  \nBecause they do.\n")

    (doc,) = read_corpus([path])

    assert doc.id == "my-notes_2"
    assert doc.title == "Why leaders matter"
    assert doc.kind == "article"
    assert doc.text == "\n  Why leaders matter  \nBecause they do.\n"
    assert doc.line == 1
    assert doc.path == "My Notes_2.txt"  # a file named on its own: its name, never its folder
    assert doc.source is None


def test_front_matter_sets_metadata_and_ignores_extras(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.md",
        "---\nid: talk-1\ntitle: A talk\nkind: video transcript\ndate: 2021-03-04\n"
        "author: someone\n---\nText of the talk.\n",
    )

    (doc,) = read_corpus([path])

    assert (doc.id, doc.title, doc.kind, doc.date) == (
        "talk-1",
        "A talk",
        "video transcript",
        "2021-03-04",
    )
    assert doc.text == "Text of the talk.\n"
    assert doc.line == 8


def test_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", b"\xef\xbb\xbf---\nid: bom\n---\nText.\n")

    (doc,) = read_corpus([path])

    assert doc.id == "bom"
    assert doc.text == "Text.\n"


def test_beir_jsonl_reads_one_document_per_line(tmp_path: Path) -> None:
    rows = [
        {"_id": "4983", "title": "Microstructure", "text": "Alterations of white matter."},
        {"_id": "MED-10", "title": "", "text": "Second.", "metadata": {}},
    ]
    path = write(tmp_path / "corpus.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")

    docs = read_corpus([path])

    assert [(d.id, d.title, d.text, d.line, d.kind) for d in docs] == [
        ("4983", "Microstructure", "Alterations of white matter.", 1, "article"),
        ("MED-10", "", "Second.", 2, "article"),
    ]


# --- sources and paths ---------------------------------------------------------------------

ADDRESS = "https://example.org/articles/trust-at-work?lang=en#part-2"


@pytest.mark.parametrize(
    "front_matter",
    [
        f"source: {ADDRESS}",
        f"url: {ADDRESS}",
        f"source: {ADDRESS}\nurl: '{ADDRESS}'",  # both, the same address
        f"source: '  {ADDRESS} '",
    ],
)
def test_front_matter_source_or_url_is_kept_as_the_source(
    tmp_path: Path, front_matter: str
) -> None:
    path = write(tmp_path / "a.md", f"---\nid: a\n{front_matter}\n---\nBody.\n")

    (doc,) = read_corpus([path])

    assert doc.source == ADDRESS
    assert doc.path == "a.md"


@pytest.mark.parametrize(
    "reference",
    [
        "003_569b31adfc32932d.txt",
        "Harvard Business Review: May 2019, p. 12",
        "doi:10.1000/182",
        "https://de.wikipedia.org/wiki/Führung",  # an IRI: non-ASCII letters are fine
        "HTTP://EXAMPLE.ORG/A",
    ],
)
def test_a_reference_or_a_web_address_is_kept_as_written(tmp_path: Path, reference: str) -> None:
    path = write(tmp_path / "a.md", f"---\nsource: '{reference}'\n---\nBody.\n")

    (doc,) = read_corpus([path])

    assert doc.source == reference


@pytest.mark.parametrize(
    ("front_matter", "line", "problem"),
    [
        ("source: www.example.org/a", 3, "write the address in full, starting with https://"),
        ("source: example.org/a/b", 3, "write the address in full"),
        ("source: //example.org/a", 3, "write the address in full"),
        ("source: ftp://example.org/a", 3, "only http and https addresses are kept, not ftp:"),
        ("source: 'javascript:alert(1)'", 3, "not javascript:"),
        ("source: 'https://'", 3, "it names no host"),
        ("source: https://example.org:99999/a", 3, "does not parse as a URL"),
        ("source: https://me:secret@example.org/a", 3, "user name or password"),
        ("source: 'https://example.org/a b'", 3, "not a valid IRI"),
        ("source: https://example.org/a|b", 3, "not a valid IRI"),
        ("url: not an address", 3, "invalid url 'not an address': write the address in full"),
        ("source:", 3, "source must be a non-empty string"),
        ("source: '  '", 3, "source must be a non-empty string"),
        ("source: 12", 3, "source must be a non-empty string, not int"),
        ("url: [https://a.org/]", 3, "url must be a non-empty string, not a list"),
        (
            "source: https://a.org/x\ntitle: T\nurl: https://b.org/y",
            5,
            "source 'https://a.org/x' (line 3) and url 'https://b.org/y' (line 5) differ",
        ),
        ("url: https://b.org/y\nsource: https://a.org/x", 4, "differ: keep one"),
    ],
)
def test_bad_source_names_file_line_and_problem(
    tmp_path: Path, front_matter: str, line: int, problem: str
) -> None:
    path = write(tmp_path / "bad.md", f"---\nid: a\n{front_matter}\n---\nBody\n")

    err = error_of([path])

    assert (err.path, err.line) == (str(path), line)
    assert problem in err.message
    assert str(err).startswith(f"{path}:{line}: ")


def test_paths_are_relative_to_the_folder_given_never_absolute(tmp_path: Path) -> None:
    corpus = tmp_path / "deep" / "corpus"
    write(corpus / "a.md", "A\n")
    write(corpus / "team" / "b.md", "B\n")
    loose = write(tmp_path / "elsewhere" / "c.txt", "C\n")

    docs = read_corpus([corpus.resolve(), loose.resolve()])
    under_base = read_corpus([corpus.resolve(), loose.resolve()], base=tmp_path / "deep")

    assert [d.path for d in docs] == ["a.md", "team/b.md", "c.txt"]
    # under `base`: relative to it; outside it: as without one
    assert [d.path for d in under_base] == ["corpus/a.md", "corpus/team/b.md", "c.txt"]
    for d in [*docs, *under_base]:
        assert not Path(d.path).is_absolute() and ".." not in Path(d.path).parts
        assert str(tmp_path) not in d.path


def test_fingerprint_changes_with_the_source(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "---\nsource: https://a.org/x\n---\nBody.\n")
    before = corpus_fingerprint(read_corpus([path]))
    write(path, "---\nsource: https://a.org/y\n---\nBody.\n")
    assert corpus_fingerprint(read_corpus([path])) != before


def test_beir_records_keep_their_url_or_source(tmp_path: Path) -> None:
    rows = [
        {"_id": "1", "text": "One.", "url": "https://a.org/1"},
        {"_id": "2", "text": "Two.", "metadata": {"url": "https://a.org/2", "year": 2020}},
        {"_id": "3", "text": "Three.", "metadata": {"source": "PubMed 31415"}},
        {"_id": "4", "text": "Four.", "url": "", "metadata": {}},
        {"_id": "5", "text": "Five.", "url": "https://a.org/5", "source": "https://a.org/5"},
    ]
    path = write(tmp_path / "corpus.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")

    docs = read_corpus([path.resolve()])

    assert [d.source for d in docs] == [
        "https://a.org/1",
        "https://a.org/2",
        "PubMed 31415",
        None,
        "https://a.org/5",
    ]
    assert {d.path for d in docs} == {"corpus.jsonl"}


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ('{"_id": "2", "text": "x", "url": "a.org/x"}', "invalid 'url' 'a.org/x'"),
        ('{"_id": "2", "text": "x", "metadata": {"url": 7}}', "'metadata.url' must be a string"),
        (
            '{"_id": "2", "text": "x", "url": "https://a.org/1", "source": "https://a.org/2"}',
            "'url' and 'source' differ",
        ),
    ],
)
def test_bad_beir_source_names_its_line(tmp_path: Path, record: str, problem: str) -> None:
    path = write(tmp_path / "c.jsonl", '{"_id": "1", "text": "ok"}\n' + record + "\n")

    err = error_of([path])

    assert err.line == 2
    assert problem in err.message


# --- errors --------------------------------------------------------------------------------


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    err = error_of([tmp_path / "nope.md"])
    assert err.path.endswith("nope.md")
    assert "no such file" in err.message


def test_explicitly_named_unsupported_file_is_an_error(tmp_path: Path) -> None:
    err = error_of([write(tmp_path / "a.pdf", b"%PDF")])
    assert "unsupported file type '.pdf'" in err.message


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("", 1, "empty file"),
        (" \n\n\t\n", 1, "empty file"),
        ("---\nid: a\n---\n \n\n", 4, "no text"),
        ("---\nid: a\ntitle: x\n\nBody\n", 1, "unterminated front matter"),
        ("---\nid: a\ntitle: x: y\n---\nBody\n", 3, "malformed front matter"),
        ("---\nid: a\ntitle: [unclosed\n---\nBody\n", 3, "malformed front matter"),
        ("---\n- a\n- b\n---\nBody\n", 2, "must be a mapping"),
        ("---\ntitle: T\nid: 12\n---\nBody\n", 3, "id must be a string"),
        ("---\nid: 'bad id!'\n---\nBody\n", 2, "invalid document id 'bad id!'"),
        ("---\nid: -dash\n---\nBody\n", 2, "invalid document id"),
        ("---\nid: a\nkind: podcast\n---\nBody\n", 3, "invalid kind 'podcast'"),
        ("---\nid: a\n\ndate: 2020-02-30\n---\nBody\n", 4, "invalid date"),
        ("---\nid: a\ndate: 19 February 2020\n---\nBody\n", 3, "invalid date"),
        ("---\nid: a\ndate: 2020\n---\nBody\n", 3, "invalid date"),
        ("---\ntitle: 7\n---\nBody\n", 2, "title must be a non-empty string"),
    ],
)
def test_malformed_article_names_file_line_and_problem(
    tmp_path: Path, content: str, line: int, problem: str
) -> None:
    path = write(tmp_path / "bad.md", content)

    err = error_of([path])

    assert err.path == str(path)
    assert err.line == line
    assert problem in err.message
    assert str(err).startswith(f"{path}:{line}: ")


def test_undecodable_bytes_report_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", b"Title\nfine\nbad \xff byte\nmore \xfe\n")

    err = error_of([path])

    assert err.line == 3
    assert "UTF-8" in err.message and "0xff" in err.message


@pytest.mark.parametrize(
    ("line_text", "problem"),
    [
        ('{"_id": "2", "text": ', "malformed JSON"),
        ('["not", "an", "object"]', "expected a JSON object"),
        ('{"title": "t", "text": "x"}', "missing '_id'"),
        ('{"_id": 2, "text": "x"}', "'_id' must be a string"),
        ('{"_id": "2", "title": "t"}', "missing 'text'"),
        ('{"_id": "a b", "text": "x"}', "invalid document id 'a b'"),
        ('{"_id": "2", "title": 5, "text": "x"}', "'title' must be a string"),
    ],
)
def test_malformed_jsonl_line_names_its_line(tmp_path: Path, line_text: str, problem: str) -> None:
    path = write(tmp_path / "c.jsonl", '{"_id": "1", "text": "ok"}\n\n' + line_text + "\n")

    err = error_of([path])

    assert err.line == 3
    assert problem in err.message


def test_duplicate_id_names_both_places(tmp_path: Path) -> None:
    first = write(tmp_path / "a" / "x.txt", "One\n")
    second = write(tmp_path / "b" / "x.md", "---\ntitle: Two\nid: x\n---\nTwo\n")

    with pytest.raises(CorpusError) as info:
        read_corpus([tmp_path], base=tmp_path)

    assert info.value.path == str(second)
    assert info.value.line == 3
    assert info.value.message == "duplicate document id 'x' (first in a/x.txt:1)"
    assert first.exists()


def test_duplicate_id_across_jsonl_and_article(tmp_path: Path) -> None:
    write(tmp_path / "c.jsonl", '{"_id": "a", "text": "x"}\n{"_id": "b", "text": "y"}\n')
    article = write(tmp_path / "d" / "b.txt", "B\n")

    err = error_of([tmp_path / "c.jsonl", article])

    assert err.line == 1
    assert "duplicate document id 'b'" in err.message
    assert "c.jsonl:2" in err.message


# --- hostile front matter ------------------------------------------------------------------


def laughs(levels: int, key: str) -> str:
    """Front matter whose `key` is a "billion laughs": each level lists the one before nine
    times, by alias, so a few hundred bytes expand to 9**levels strings."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "---\nid: x\n" + "\n".join(lines) + f"\n{key}: *l{levels}\n---\nbody\n"


@pytest.mark.parametrize("key", ["kind", "date", "title", "id"])
def test_an_alias_bomb_is_refused_at_its_first_anchor_without_expanding(
    tmp_path: Path, key: str
) -> None:
    path = write(tmp_path / "a.md", laughs(8, key))  # 9**8 = 43 million strings if expanded

    err = error_of([path])

    assert err.line == 3  # the first anchor
    assert "anchors and aliases" in err.message
    assert len(str(err)) < 300


@pytest.mark.parametrize(
    "front",
    [
        "base: &b {kind: article}\nother:\n  <<: *b",  # a merge key needs an alias too
        "title: &t Title\nalso: *t",
    ],
    ids=["merge-key", "scalar-alias"],
)
def test_anchors_and_aliases_are_refused_even_when_harmless(tmp_path: Path, front: str) -> None:
    err = error_of([write(tmp_path / "a.md", f"---\n{front}\n---\nbody\n")])

    assert err.line == 2
    assert "anchors and aliases (&name, *name) are not accepted" in err.message


@pytest.mark.parametrize(
    "front",
    [
        "title: " + "[" * 1000 + "]" * 1000,  # PyYAML's composer recursed past Python's limit
        "title: " + "{a: " * 1000 + "b" + "}" * 1000,
        "title:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(300)),
        "title: " + "[" * 16 + "]" * 16,  # one level past the limit (the mapping is level 1)
    ],
    ids=["flow-lists", "flow-maps", "block-maps", "one-past-the-limit"],
)
def test_front_matter_nested_past_the_limit_is_refused_naming_the_line(
    tmp_path: Path, front: str
) -> None:
    err = error_of([write(tmp_path / "a.md", f"---\nid: x\n{front}\n---\nbody\n")])

    assert err.line is not None and err.line >= 3
    assert "nested deeper than 16 levels" in err.message
    assert "LEADGRAPH_MAX_FRONT_MATTER_DEPTH" in err.message


def test_front_matter_as_deep_as_the_limit_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "---\nid: x\nextra: " + "[" * 15 + "]" * 15 + "\n---\nb\n")

    assert [d.id for d in read_corpus([path])] == ["x"]
    with pytest.raises(CorpusError, match="nested deeper than 3 levels"):
        read_corpus([path], front_matter=FrontMatterLimits(max_depth=3))


def test_front_matter_over_its_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    front = "".join(f"key{i}: value {i}\n" for i in range(6000))  # about 90 kB of valid YAML
    path = write(tmp_path / "a.md", f"---\nid: x\n{front}---\nbody\n")

    err = error_of([path])

    assert err.line == 2
    assert "more than 65536 (max_front_matter_bytes, LEADGRAPH_MAX_FRONT_MATTER_BYTES)" in (
        err.message
    )
    raised = read_corpus([path], front_matter=FrontMatterLimits(max_bytes=200_000))
    assert [d.id for d in raised] == ["x"]


@pytest.mark.parametrize(
    ("front", "problem"),
    [
        ("kind: " + "k" * 60_000, "invalid kind 'kkkk"),
        ("date: " + "d" * 60_000, "invalid date 'dddd"),
        ("id: " + "a" * 60_000, "invalid document id 'aaaa"),
        (
            "kind: [" + ", ".join(["abc"] * 10_000) + "]",
            "invalid kind ['abc', 'abc', 'abc', 'abc', ...]",
        ),
        ("kind: 0x" + "f" * 60_000, "invalid kind an integer of 240000 bits"),
        ("kind: " + "1" * 5000, "Exceeds the limit (4300 digits)"),
        ("source: https://example.org/" + "x" * 60_000 + " y", "invalid source 'https://"),
    ],
    ids=["kind", "date", "id", "list", "hex-integer", "decimal-integer", "source"],
)
def test_a_refused_value_is_quoted_cut_short(tmp_path: Path, front: str, problem: str) -> None:
    err = error_of([write(tmp_path / "a.md", f"---\n{front}\n---\nbody\n")])

    assert problem in err.message
    assert len(err.message) < 400
    assert "set_int_max_str_digits" not in err.message  # Python's advice is not the writer's


def test_jsonl_nested_too_deeply_names_its_line(tmp_path: Path) -> None:
    deep = '{"_id": "2", "text": "x", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = write(tmp_path / "c.jsonl", '{"_id": "1", "text": "ok"}\n' + deep + "\n")

    err = error_of([path])

    assert err.line == 2
    assert "nested too deeply" in err.message
