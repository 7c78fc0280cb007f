"""The sentence corpus: splitting and cleaning, the per-format readers on
tiny package trees, de-duplication, the stable held-out 1%, and that ids
of earlier sources do not move when a late source is added."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from xmodal.alignment.data import sentences as S


def test_sentences_of_keeps_prose_and_drops_fragments_and_symbols():
    text = "The quick brown fox jumps over the lazy dog.  Too short.  x = 1 + 2 * (3 / 4) - 5 % 6 == 7 ?  " \
           "A second sentence with enough words follows here!"
    assert list(S.sentences_of(text)) == ["The quick brown fox jumps over the lazy dog.",
                                          "A second sentence with enough words follows here!"]


def test_html_reader_takes_paragraphs_not_code(tmp_path):
    d = tmp_path / "usr/share/doc/git-doc"
    d.mkdir(parents=True)
    (d / "a.html").write_text("<html><body><p>Git records snapshots of a whole project tree.</p>"
                              "<pre>git commit -m 'This is code, not prose at all.'</pre>"
                              "<div class='para'>Branches are cheap pointers to commits in Git.</div></body></html>")
    assert list(S.SOURCES["git-doc"](tmp_path)) == ["Git records snapshots of a whole project tree.",
                                                    "Branches are cheap pointers to commits in Git."]


def test_rst_and_man_readers_skip_directives_and_requests(tmp_path):
    rst = tmp_path / "usr/share/doc/python3.11/html/_sources/x.rst.txt"
    rst.parent.mkdir(parents=True)
    rst.write_text("Title\n=====\n\nThe :func:`len` function returns the number of items.\n\n"
                   ".. code-block:: python\n\n   print('This line is inside a code block here.')\n\n"
                   "Lists keep their items in the order they were added.\n")
    assert list(S.SOURCES["python3.11-doc"](tmp_path)) == [
        "The len function returns the number of items.", "Lists keep their items in the order they were added."]
    man = tmp_path / "usr/share/man/man1/x.1.gz"
    man.parent.mkdir(parents=True)
    man.write_bytes(gzip.compress(b".TH X 1\n.SH DESCRIPTION\nThe \\fBx\\fR tool prints every line it reads.\n"
                                  b".nf\ncode that is not filled text at all.\n.fi\n"))
    assert list(S.SOURCES["manpages"](tmp_path)) == ["The x tool prints every line it reads."]


def test_holdout_is_stable_and_about_one_percent():
    texts = [f"Sentence number {i} of a long and varied corpus." for i in range(20_000)]
    held = [t for t in texts if S.is_query(t)]
    assert held == [t for t in texts if S.is_query(t)]
    assert 0.007 < len(held) / len(texts) < 0.013


def _fake_sources(monkeypatch, tmp_path: Path, late: list[str]) -> None:
    early = {"wordnet-base": ["The first early sentence is right here.", "THE FIRST EARLY SENTENCE IS RIGHT HERE."],
             "fortunes": [f"Fortune cookie number {i} says something wise." for i in range(300)]}
    monkeypatch.setattr(S, "PACKAGES", tuple(early))
    monkeypatch.setattr(S, "LATE_PACKAGES", ("git-doc",) if late else ())
    sources = {k: (lambda r, v=v: iter(v)) for k, v in early.items()}
    sources["git-doc"] = lambda r: iter(late)
    monkeypatch.setattr(S, "SOURCES", sources)
    monkeypatch.setattr(S, "fetch_package", lambda pkg, root, log=None: tmp_path)
    monkeypatch.setattr(S, "_package_descriptions", lambda: iter(["A package description line here."]))


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_manifest_dedups_holds_out_and_keeps_ids_when_a_late_source_is_added(monkeypatch, tmp_path):
    _fake_sources(monkeypatch, tmp_path, [])
    before = S.build_manifest(tmp_path / "a", lambda m: None)
    rows_a = _rows(tmp_path / "a" / "sentences.jsonl")
    queries_a = _rows(tmp_path / "a" / "queries.jsonl")
    assert before["by_source"]["wordnet-base"] == 1  # case-folded duplicate dropped
    assert before["items"] + before["queries"] == 302
    assert all(S.is_query(q["text"]) for q in queries_a) and not any(S.is_query(r["text"]) for r in rows_a)

    late = [f"Git manual sentence number {i} explains a command." for i in range(200)]
    _fake_sources(monkeypatch, tmp_path, late + ["The first early sentence is right here."])
    after = S.build_manifest(tmp_path / "b", lambda m: None)
    rows_b = _rows(tmp_path / "b" / "sentences.jsonl")
    assert rows_b[:len(rows_a)] == rows_a  # earlier ids and texts unchanged
    assert after["by_source"]["git-doc"] == 200  # its duplicate of an early sentence dropped
    assert _rows(tmp_path / "b" / "queries.jsonl")[:len(queries_a)] == queries_a
