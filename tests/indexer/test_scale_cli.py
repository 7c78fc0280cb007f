"""CLI surface of the scale options: one-line errors, vectors as a corpus."""
from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from indexer_helpers import clustered
from xmodal.alignment.core.errors import XmodalError
from xmodal.indexer import open_index
from xmodal.indexer.cli import index
from xmodal.indexer.vector_import import vector_files


def test_workers_need_ray(tmp_path):
    # --device is the backend option of every encoder command (local builds
    # too); only --workers means Ray actors
    (tmp_path / "a.txt").write_text("some text")
    res = CliRunner().invoke(index, ["build", str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "4"])
    assert res.exit_code != 0 and isinstance(res.exception, XmodalError)
    assert "--ray" in str(res.exception)
    assert not (tmp_path / "o").exists()


def test_vector_files_are_recognised_only_when_the_corpus_is_only_npy(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 4), np.float32))
    assert vector_files([str(tmp_path / "a.npy")]) == [tmp_path / "a.npy"]
    assert vector_files([str(tmp_path)]) == [tmp_path / "a.npy"]
    (tmp_path / "b.png").write_bytes(b"x")
    assert vector_files([str(tmp_path)]) is None


def test_build_from_vectors_in_memory_has_no_encoder_and_finds_rows(tmp_path):
    x = clustered(600, 16, seed=2)
    np.save(tmp_path / "emb.npy", x)
    res = CliRunner().invoke(index, ["build", str(tmp_path / "emb.npy"), "--out", str(tmp_path / "ix"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["model"] == "vectors"
    ix = open_index(tmp_path / "ix")
    _, labels = ix.search(x[7:8], 1)
    assert ix.rows(labels[0])[0].id == "emb:7"
