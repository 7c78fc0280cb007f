"""Zero-shot classification in the shared space: labels -> prompt texts
(hard templates, optionally an ensemble) -> one unit prototype per label ->
cosine scores of image / audio / text vectors against the prototypes.

A label set comes from a comma-separated list or a file (one label per
line). Every later layer classifies through `Classifier` (the CLI's
`xmodal classify`, tagging an index, `bench zeroshot`), so how prompts are
made and scores ranked is decided here once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.contracts import l2_normalise
from ..core.errors import BadInput
from ..core.protocols import Embedder
from ..preprocess.text import apply_template, article, templates_for

# The templates a modality's labels are wrapped in by default (names of
# `TEMPLATE_SETS`): pictures for images, sounds for audio, bare for text.
DEFAULT_TEMPLATES = {"image": "ensemble", "audio": "sound-ensemble", "text": "none"}
MAX_LABELS = 10_000
MAX_LABEL_CHARS = 200


def parse_labels(spec: str) -> list[str]:
    """'cat,dog,car' or the path of a file with one label per line ('#'
    starts a comment line). Duplicates are dropped, order kept."""
    path = Path(spec).expanduser()
    if path.is_file():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(str(path), f"cannot read labels ({exc})", "give a UTF-8 text file, one label per line")
        raw = [ln for ln in lines if not ln.lstrip().startswith("#")]
        where = str(path)
    else:
        raw, where = spec.split(","), "--labels"
    labels = list(dict.fromkeys(s.strip() for s in raw if s.strip()))
    if not labels:
        raise BadInput(where, "no labels given", "e.g. --labels 'cat,dog,car' or a file with one label per line")
    if len(labels) > MAX_LABELS:
        raise BadInput(where, f"{len(labels)} labels, at most {MAX_LABELS}")
    long = [lb for lb in labels if len(lb) > MAX_LABEL_CHARS]
    if long:
        raise BadInput(where, f"label {long[0][:40]!r}... is over {MAX_LABEL_CHARS} characters")
    return labels


def label_prompts(label: str, templates: Sequence[str], with_article: bool = True) -> list[str]:
    """The texts one label is encoded as: each template around the label
    ('a picture of {}' + 'dog' -> 'a picture of a dog')."""
    text = article(label) if with_article else label
    return [apply_template(t, text) for t in templates]


@dataclass
class LabelScore:
    """One label of a ranking and its cosine similarity."""

    label: str
    score: float


@dataclass
class Classifier:
    """Unit prototypes (one row per label) in an encoder stack's space."""

    labels: list[str]
    prototypes: np.ndarray          # (n_labels, dim) float32, unit rows
    templates: list[str] = field(default_factory=list)
    with_article: bool = True

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """(n, dim) unit vectors -> (n, n_labels) cosine similarities."""
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != self.prototypes.shape[1]:
            raise BadInput("vectors", f"shape {v.shape} does not match the label prototypes' dim "
                           f"{self.prototypes.shape[1]}")
        return v @ self.prototypes.T

    def top(self, vectors: np.ndarray, k: int = 1, min_score: float | None = None) -> list[list[LabelScore]]:
        """The k best labels per vector (best first), those under
        `min_score` left out (so a row may be empty)."""
        s = self.scores(vectors)
        order = top_k_order(s, k)
        out = []
        for i, row in enumerate(order):
            out.append([LabelScore(self.labels[j], round(float(s[i, j]), 6)) for j in row
                        if min_score is None or s[i, j] >= min_score])
        return out


def top_k_order(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k highest scores per row, best first; ties go
    to the lower index (a stable, reproducible order)."""
    k = max(1, min(int(k), scores.shape[1]))
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def build_classifier(stack: Embedder, labels: Sequence[str], modality: str = "image",
                     templates: str | list[str] | None = None, with_article: bool = True) -> Classifier:
    """Encode every label's prompts with the stack's text tower; a label's
    prototype is the renormalised mean of its prompts' unit vectors (the
    CLIP template ensemble). `templates`: a set name, one template or a
    list; None = the modality's default set."""
    labels = list(labels)
    if not labels:
        raise BadInput("labels", "no labels given")
    temps = templates_for(templates if templates is not None else DEFAULT_TEMPLATES.get(modality, "none"))
    texts = [p for lb in labels for p in label_prompts(lb, temps, with_article)]
    res = stack.embed("text", texts)
    if res.errors:
        bad = res.errors[0]
        raise BadInput(f"label prompt {bad.item!r}", bad.reason)
    vecs = np.asarray(res.vectors, dtype=np.float32).reshape(len(labels), len(temps), -1)
    protos = l2_normalise(vecs.mean(axis=1))
    return Classifier(labels, np.ascontiguousarray(protos, dtype=np.float32), temps, with_article)
