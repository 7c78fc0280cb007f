"""A corpus of >= 1M real English sentences from Debian packages.

For the scale benchmarks (embedding throughput, ANN on real vectors): not
a training corpus, so it is a plain text manifest, not image/audio pairs.
Sources (each a Debian package, downloaded and unpacked, never installed):

- ``wordnet-base``: WordNet 3.0 glosses and their quoted usage examples;
- ``fortunes``, ``fortunes-min``: the fortune cookie files;
- ``python3.11-doc``: the Python documentation (reStructuredText sources);
- ``linux-doc-6.1``: the Linux kernel documentation (.rst / .txt);
- ``debian-handbook``: The Debian Administrator's Handbook (English HTML);
- ``dict-gcide``: the GNU Collaborative International Dictionary of English
  (Webster's 1913 definitions and quotations);
- ``postgresql-doc-15``, ``openjdk-17-doc``: the PostgreSQL manual and the
  Java SE API documentation (HTML prose);
- ``perl-doc``: the Perl manual pages (POD);
- ``dict-foldoc``: the Free On-line Dictionary of Computing;
- ``manpages``, ``manpages-dev``: the Linux man-pages project (troff prose);
- ``rust-doc``: The Rust Programming Language, the Reference, Rust by
  Example, the Rustonomicon and the Edition Guide (HTML);
- ``python-django-doc``: the Django documentation (HTML);
- the archive's package index (``apt-cache dumpavail``): one-line package
  descriptions;
- ``git-doc``: the Git manual pages and user manual (HTML), read last so
  that adding it left every earlier sentence's id unchanged (it lifts the
  indexed part past 1M: 997,727 sentences without it).

Sentences are split on end punctuation, kept when 20..300 characters with
at least four words and mostly letters, and de-duplicated (case-folded).
A stable 1% (by hash) is held out as ``queries.jsonl``: real sentences that
are never indexed, for recall against exact search. ``sentences.jsonl`` is
an ordinary manifest (``id``, ``text``, ``source``) for `xmodal index build`.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..core.errors import XmodalError
from .base import Log
from ..core.atomic import atomic_path
from .cache import write_json_atomic
from .debian import fetch_package

PACKAGES = ("wordnet-base", "fortunes", "fortunes-min", "python3.11-doc", "linux-doc-6.1",
            "debian-handbook", "dict-gcide", "dict-foldoc", "postgresql-doc-15", "openjdk-17-doc",
            "perl-doc", "manpages", "manpages-dev", "rust-doc", "python-django-doc")
LATE_PACKAGES = ("git-doc",)  # after the package descriptions: earlier ids stay stable
MIN_CHARS, MAX_CHARS, MIN_WORDS = 20, 300, 4
HOLDOUT_PER_10K = 100  # 1% of sentences become held-out queries
_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WS = re.compile(r"\s+")
_RST_MARKUP = re.compile(r":[a-z:]+:`([^`<]*)(?:<[^>]*>)?`|``([^`]*)``|`([^`<]*)(?:<[^>]*>)?`_*|\*\*?([^*]+)\*\*?")


def sentences_of(text: str) -> Iterator[str]:
    """Split running text into clean candidate sentences."""
    for s in _SPLIT.split(_WS.sub(" ", text).strip()):
        s = s.strip()
        if MIN_CHARS <= len(s) <= MAX_CHARS and len(s.split()) >= MIN_WORDS and "00-database" not in s:
            letters = sum(c.isalpha() or c == " " for c in s)
            if letters >= 0.8 * len(s):
                yield s


def _wordnet(root: Path) -> Iterator[str]:
    for part in ("noun", "verb", "adj", "adv"):
        for line in (root / "usr/share/wordnet" / f"data.{part}").open(encoding="latin-1"):
            if line.startswith("  ") or "|" not in line:
                continue  # the licence header, then one synset per line
            for piece in line.split("|", 1)[1].strip().split("; "):
                piece = piece.strip().strip('"').strip()
                if piece:
                    yield piece[0].upper() + piece[1:] + ("" if piece[-1] in ".!?" else ".")


def _fortunes(root: Path) -> Iterator[str]:
    folder = root / "usr/share/games/fortunes"
    for f in sorted(folder.iterdir()):
        if f.suffix or not f.is_file():
            continue  # .dat indexes and .u8 links
        for cookie in f.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            body = "\n".join(ln for ln in cookie.splitlines() if not ln.lstrip().startswith("--"))
            yield from sentences_of(body)


def _rst_paragraphs(text: str) -> Iterator[str]:
    """Prose paragraphs of a reStructuredText/plain text file (no code,
    tables, directives or headings)."""
    para: list[str] = []
    skip_indent = None
    for line in text.splitlines() + [""]:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if stripped and indent <= skip_indent:
                skip_indent = None
            else:
                continue
        if not stripped:
            if para:
                yield " ".join(para)
            para = []
            continue
        if stripped.startswith((".. ", "::", "+-", "|", ">>>", "$ ", "#")) or set(stripped) <= set("=-~^*+#`:'\"_ "):
            if para:
                yield " ".join(para)
            para = []
            if stripped.startswith(".. ") or stripped.endswith("::"):
                skip_indent = indent  # a directive or literal block follows, indented
            continue
        para.append(_RST_MARKUP.sub(lambda m: next(g for g in m.groups() if g is not None), stripped))
        if stripped.endswith("::"):
            yield " ".join(para)[:-1]
            para = []
            skip_indent = indent


def _docs(root: Path, patterns: Iterable[str]) -> Iterator[str]:
    for pattern in patterns:
        for f in sorted(root.glob(pattern)):
            raw = gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
            for para in _rst_paragraphs(raw.decode("utf-8", errors="replace")):
                yield from sentences_of(para)


PROSE_TAGS = ("p", "li", "dd")
PROSE_DIVS = ("para", "block")  # DocBook/publican paragraphs, javadoc descriptions


class _Prose(HTMLParser):
    """Text inside <p>, <li>, <dd> and paragraph <div>s (not <pre> blocks)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.pre, self.buf, self.out = 0, 0, [], []
        self.divs: list[bool] = []

    def _open(self) -> None:
        self.depth += 1

    def _close(self) -> None:
        if self.depth:
            self.depth -= 1
            if not self.depth:
                self.out.append("".join(self.buf))
                self.buf = []

    def handle_starttag(self, tag, attrs):
        if tag == "div":
            prose = (dict(attrs).get("class") or "") in PROSE_DIVS
            self.divs.append(prose)
            if prose:
                self._open()
        elif tag in PROSE_TAGS:
            self._open()
        elif tag in ("pre", "script", "style"):
            self.pre += 1

    def handle_endtag(self, tag):
        if tag == "div":
            if self.divs and self.divs.pop():
                self._close()
        elif tag in PROSE_TAGS:
            self._close()
        elif tag in ("pre", "script", "style") and self.pre:
            self.pre -= 1

    def handle_data(self, data):
        if self.depth and not self.pre:
            self.buf.append(data)


def _html(root: Path, pattern: str) -> Iterator[str]:
    for f in sorted(root.glob(pattern)):
        p = _Prose()
        p.feed(f.read_text(encoding="utf-8", errors="replace"))
        for para in p.out:
            yield from sentences_of(para)


_CITE = re.compile(r"--\s?[A-Z][\w. ]{0,40}$|\[[^\]]*\]|\{|\}")
_NUMBERED = re.compile(r"^\s*(\d+\.|\([a-z]\))\s+")


def _dictd(root: Path, name: str) -> Iterator[str]:
    """Definitions and quotations of a dictd dictionary (gzip text)."""
    text = gzip.decompress((root / "usr/share/dictd" / f"{name}.dict.dz").read_bytes())
    for para in text.decode("utf-8", errors="replace").split("\n\n"):
        lines = [_NUMBERED.sub("", ln) for ln in para.splitlines()
                 if ln.strip() and "\\" not in ln and not ln.strip().startswith("[")]
        body = _CITE.sub("", " ".join(ln.strip() for ln in lines))
        yield from sentences_of(body)


_POD = re.compile(r"[A-Z]<+\s*([^<>]*?)\s*>+")


def _pod(root: Path) -> Iterator[str]:
    for f in sorted(root.glob("usr/share/perl/*/pod/*.pod")):
        for para in f.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            if para and not para[0].isspace() and not para.startswith("="):
                yield from sentences_of(_POD.sub(lambda m: m.group(1).split("|")[0], para))


def _package_descriptions() -> Iterator[str]:
    try:
        out = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise XmodalError(f"apt-cache dumpavail failed ({exc}); run apt-get update first") from None
    for line in out.splitlines():
        if line.startswith("Description: "):
            d = line[len("Description: "):].strip()
            if d:
                s = d[0].upper() + d[1:]
                yield from sentences_of(s if s[-1] in ".!?" else s + ".")


_TROFF = re.compile(r"\\f[BIRP]|\\f\[[A-Z]*\]|\\[&|^%:]|\\\(..|\\\*\(..|\\\*.|\\s[-+]?\d")


def _man(root: Path) -> Iterator[str]:
    """Prose paragraphs of troff man pages (requests and code dropped)."""
    for f in sorted(root.glob("usr/share/man/man*/*.gz")):
        para: list[str] = []
        nofill = False
        for line in gzip.decompress(f.read_bytes()).decode("utf-8", errors="replace").splitlines():
            if line.startswith((".", "'")):
                req = line[1:3]
                nofill = {"nf": True, "EX": True, "fi": False, "EE": False}.get(req, nofill)
                if req in ("PP", "SH", "TP", "IP", "SS", "LP", "P", "nf", "EX", "in", "RS", "RE"):
                    yield from sentences_of(_TROFF.sub("", " ".join(para)).replace("\\-", "-"))
                    para = []
                elif req in ("B ", "I ", "BR", "IR", "RB", "RI", "BI", "IB"):
                    para.append(line[3:].replace('"', ""))
                continue
            if not nofill:
                para.append(line)
        yield from sentences_of(_TROFF.sub("", " ".join(para)).replace("\\-", "-"))


SOURCES: dict[str, Callable[[Path], Iterator[str]]] = {
    "wordnet-base": _wordnet,
    "fortunes": _fortunes,
    "fortunes-min": _fortunes,
    "python3.11-doc": lambda r: _docs(r, ["usr/share/doc/python3.11/html/_sources/**/*.rst.txt"]),
    "linux-doc-6.1": lambda r: _docs(r, ["usr/share/doc/linux-doc-6.1/Documentation/**/*.rst.gz",
                                         "usr/share/doc/linux-doc-6.1/Documentation/**/*.txt"]),
    "debian-handbook": lambda r: _html(r, "usr/share/doc/debian-handbook/html/en-US/*.html"),
    "dict-gcide": lambda r: _dictd(r, "gcide"),
    "dict-foldoc": lambda r: _dictd(r, "foldoc"),
    "postgresql-doc-15": lambda r: _html(r, "usr/share/doc/postgresql-doc-15/html/*.html"),
    "openjdk-17-doc": lambda r: _html(r, "usr/share/doc/openjdk-17-doc/api/**/*.html"),
    "perl-doc": _pod,
    "manpages": _man,
    "manpages-dev": _man,
    "rust-doc": lambda r: (s for book in ("book", "reference", "rust-by-example", "nomicon", "edition-guide")
                           for s in _html(r, f"usr/share/doc/rust-doc/html/{book}/**/*.html")),
    "python-django-doc": lambda r: _html(r, "usr/share/doc/python-django-doc/html/**/*.html"),
    "git-doc": lambda r: _html(r, "usr/share/doc/git-doc/*.html"),
}


def is_query(text: str) -> bool:
    """The stable held-out 1%, decided by a hash of the sentence."""
    h = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")
    return h % 10_000 < HOLDOUT_PER_10K


def build_manifest(root: Path, log: Log) -> dict:
    """Fetch the packages, write sentences.jsonl + queries.jsonl; -> summary."""
    seen: set[bytes] = set()
    counts: dict[str, int] = {}
    n_s = n_q = 0
    streams = [(pkg, SOURCES[pkg](fetch_package(pkg, root, log=log))) for pkg in PACKAGES]
    streams.append(("apt-package-descriptions", _package_descriptions()))
    streams += [(pkg, SOURCES[pkg](fetch_package(pkg, root, log=log))) for pkg in LATE_PACKAGES]
    with atomic_path(root / "sentences.jsonl") as tmp_s, atomic_path(root / "queries.jsonl") as tmp_q:
        with open(tmp_s, "w", encoding="utf-8") as fs, open(tmp_q, "w", encoding="utf-8") as fq:
            for source, stream in streams:
                for text in stream:
                    key = hashlib.blake2b(text.casefold().encode(), digest_size=8).digest()
                    if key in seen:
                        continue
                    seen.add(key)
                    counts[source] = counts.get(source, 0) + 1
                    held = is_query(text)
                    n = n_q if held else n_s
                    row = {"id": f"{'q' if held else 's'}{n:07d}", "text": text, "source": source}
                    (fq if held else fs).write(json.dumps(row, ensure_ascii=False) + "\n")
                    if held:
                        n_q += 1
                    else:
                        n_s += 1
                log(f"{source}: {counts.get(source, 0)} sentences")
    summary = {"name": "sentences", "items": n_s, "queries": n_q, "by_source": counts,
               "by_modality": {"text": n_s}, "skipped": 0, "splits": {}}
    write_json_atomic(root / "summary.json", summary)
    return summary
